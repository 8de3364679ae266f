import { type ObjectRecordDiff } from '../../../twenty-shared/database-events';
import { type FlatObjectMetadata } from '../../metadata-modules/flat-entity.types';

const IGNORED_FIELDS = new Set(['updatedAt', 'searchVector']);

const isSameValue = (left: unknown, right: unknown) => JSON.stringify(left ?? null) === JSON.stringify(right ?? null);

// Fields of the new record whose value differs from the old one, as { before, after }.
export const objectRecordChangedValues = (
  before: Record<string, unknown>,
  after: Record<string, unknown>,
  _objectMetadataItem: FlatObjectMetadata,
): Partial<ObjectRecordDiff<Record<string, unknown>>> => {
  const diff: Record<string, { before: unknown; after: unknown }> = {};

  for (const key of Object.keys(after)) {
    if (IGNORED_FIELDS.has(key) || isSameValue(before[key], after[key])) {
      continue;
    }
    diff[key] = { before: before[key], after: after[key] };
  }

  return diff;
};
