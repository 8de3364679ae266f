import { type RecordGqlOperationFilter } from '../../../twenty-shared/types';
import { isDefined } from '../../../twenty-shared/utils';
import {
  type FlatEntityMaps,
  type FlatFieldMetadata,
  type FlatObjectMetadata,
} from '../../metadata-modules/flat-entity.types';

type FieldFilter = {
  eq?: unknown;
  neq?: unknown;
  in?: unknown[];
  is?: 'NULL' | 'NOT_NULL';
  gt?: number | string;
  gte?: number | string;
  lt?: number | string;
  lte?: number | string;
  like?: string;
  ilike?: string;
};

const likeToRegExp = (pattern: string, flags: string) =>
  new RegExp(
    `^${pattern
      .replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
      .replace(/%/g, '.*')
      .replace(/_/g, '.')}$`,
    flags,
  );

const isFieldMatching = (value: unknown, fieldFilter: FieldFilter): boolean =>
  Object.entries(fieldFilter).every(([operand, expected]) => {
    switch (operand) {
      case 'eq':
        return JSON.stringify(value ?? null) === JSON.stringify(expected ?? null);
      case 'neq':
        return JSON.stringify(value ?? null) !== JSON.stringify(expected ?? null);
      case 'in':
        return (expected as unknown[]).some((candidate) => JSON.stringify(candidate) === JSON.stringify(value));
      case 'is':
        return expected === 'NULL' ? !isDefined(value) : isDefined(value);
      case 'gt':
        return isDefined(value) && (value as number) > (expected as number);
      case 'gte':
        return isDefined(value) && (value as number) >= (expected as number);
      case 'lt':
        return isDefined(value) && (value as number) < (expected as number);
      case 'lte':
        return isDefined(value) && (value as number) <= (expected as number);
      case 'like':
        return typeof value === 'string' && likeToRegExp(expected as string, '').test(value);
      case 'ilike':
        return typeof value === 'string' && likeToRegExp(expected as string, 'i').test(value);
      default:
        throw new Error(`Unsupported filter operand: ${operand}`);
    }
  });

const isRecordMatchingFilter = (record: Record<string, unknown>, filter: RecordGqlOperationFilter): boolean =>
  Object.entries(filter).every(([key, value]) => {
    if (key === 'and') {
      return (value as RecordGqlOperationFilter[]).every((subFilter) => isRecordMatchingFilter(record, subFilter));
    }
    if (key === 'or') {
      return (value as RecordGqlOperationFilter[]).some((subFilter) => isRecordMatchingFilter(record, subFilter));
    }
    if (key === 'not') {
      return !isRecordMatchingFilter(record, value as RecordGqlOperationFilter);
    }

    return isFieldMatching(record[key], value as FieldFilter);
  });

const filterMentionsField = (filter: unknown, fieldName: string): boolean => {
  if (Array.isArray(filter)) {
    return filter.some((subFilter) => filterMentionsField(subFilter, fieldName));
  }
  if (filter && typeof filter === 'object') {
    return Object.entries(filter).some(([key, value]) => key === fieldName || filterMentionsField(value, fieldName));
  }

  return false;
};

// Evaluates a record-filter in memory. Like Twenty's query layer, a filter
// that does not mention deletedAt implicitly requires `deletedAt IS NULL`,
// unless the caller ignores that default (DELETED and RESTORED events).
export const isRecordMatchingRLSRowLevelPermissionPredicate = ({
  record,
  filter,
  shouldIgnoreSoftDeleteDefaultFilter = false,
}: {
  record: Record<string, unknown>;
  filter: RecordGqlOperationFilter;
  flatObjectMetadata: FlatObjectMetadata;
  flatFieldMetadataMaps: FlatEntityMaps<FlatFieldMetadata>;
  shouldIgnoreSoftDeleteDefaultFilter?: boolean;
}): boolean => {
  const effectiveFilter =
    shouldIgnoreSoftDeleteDefaultFilter || filterMentionsField(filter, 'deletedAt')
      ? filter
      : { and: [filter, { deletedAt: { is: 'NULL' } }] };

  return isRecordMatchingFilter(record, effectiveFilter);
};
