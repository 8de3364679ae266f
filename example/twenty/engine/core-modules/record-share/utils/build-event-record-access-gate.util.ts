import { type ObjectRecordEvent } from '../../../../twenty-shared/database-events';
import { FeatureFlagKey } from '../../../../twenty-shared/types';
import { isDefined } from '../../../../twenty-shared/utils';
import { type FlatEntityMaps, type FlatFieldMetadata } from '../../../metadata-modules/flat-entity.types';
import {
  indexRecordSharesByRecordId,
  type RecordShare,
  resolveRequiredRecordShareAccessLevels,
} from '../../../record-share/record-share';
import { isRecordMatchingRLSRowLevelPermissionPredicate } from '../../../twenty-orm/utils/is-record-matching-rls-row-level-permission-predicate.util';
import { type WorkspaceEventBatch } from '../../../workspace-event-emitter/types/workspace-event-batch.type';
import { type EventRecordAccessGate, type RowAccessPolicySubject } from '../types/event-record-access-gate.type';

export type EventRecordSnapshot = Record<string, unknown> & { id: string };

// The record each event is about: `after`, else `before` (a deletion), keyed by the event's record id.
export const resolveEventRecordSnapshots = (events: ObjectRecordEvent[]): EventRecordSnapshot[] =>
  events.flatMap((event) => {
    const properties = event.properties as { after?: Record<string, unknown>; before?: Record<string, unknown> };
    const record = properties.after ?? properties.before ?? {};

    return [{ ...record, id: event.recordId }];
  });

type GateKind = 'open' | 'private' | 'deny';

// Object visibility (NONE stands for SYSTEM/APPLICATION objects) holds without the licence;
// record shares only with IS_RECORD_LEVEL_SHARING_ENABLED.
const resolveGateKind = ({
  readability,
  isOwningApplication,
  isRecordLevelSharingEnabled,
}: {
  readability: string;
  isOwningApplication: boolean;
  isRecordLevelSharingEnabled: boolean;
}): GateKind => {
  if (isOwningApplication) {
    return 'open';
  }
  if (readability === 'NONE') {
    return 'deny';
  }
  if (isRecordLevelSharingEnabled && (readability === 'PRIVATE' || readability === 'INHERITED')) {
    return 'private';
  }

  return 'open';
};

// What both September 2026 forms of RecordAccessPolicyService build once per batch.
// `applyRowLevelRule`: 2c712b6a evaluates the subscriber's row-level rule inside the gate.
export const buildEventRecordAccessGate = ({
  workspaceEventBatch,
  applyRowLevelRule,
  fetchRecordShares,
  fetchContext,
}: {
  workspaceEventBatch: WorkspaceEventBatch<ObjectRecordEvent>;
  applyRowLevelRule: boolean;
  fetchRecordShares: () => Promise<RecordShare[]>;
  fetchContext: () => Promise<{
    featureFlagsMap: Partial<Record<FeatureFlagKey, boolean>>;
    flatFieldMetadataMaps: FlatEntityMaps<FlatFieldMetadata>;
  }>;
}): EventRecordAccessGate => {
  const { objectMetadata, events } = workspaceEventBatch;
  let recordSharesPromise: Promise<RecordShare[]> | undefined;

  return {
    resolveAdmittedRecordIds: async (subject: RowAccessPolicySubject) => {
      if (!subject.objectsPermissions[objectMetadata.id]?.canReadObjectRecords) {
        return new Set();
      }

      const { featureFlagsMap, flatFieldMetadataMaps } = await fetchContext();
      let snapshots = resolveEventRecordSnapshots(events);

      const rowLevelFilter = applyRowLevelRule ? subject.resolveRowLevelPermissionRecordFilter(objectMetadata) : null;

      if (isDefined(rowLevelFilter) && Object.keys(rowLevelFilter).length > 0) {
        snapshots = snapshots.filter((snapshot) =>
          isRecordMatchingRLSRowLevelPermissionPredicate({
            record: snapshot,
            filter: rowLevelFilter,
            flatObjectMetadata: objectMetadata,
            flatFieldMetadataMaps,
            shouldIgnoreSoftDeleteDefaultFilter: true,
          }),
        );
      }

      if (snapshots.length === 0) {
        return new Set();
      }

      switch (
        resolveGateKind({
          readability: objectMetadata.readability,
          isOwningApplication: subject.isOwningApplication(objectMetadata),
          isRecordLevelSharingEnabled: featureFlagsMap[FeatureFlagKey.IS_RECORD_LEVEL_SHARING_ENABLED] === true,
        })
      ) {
        case 'open':
          return new Set(snapshots.map((snapshot) => snapshot.id));
        case 'deny':
          return new Set();
        case 'private': {
          if (subject.canAccessAllRecords) {
            return new Set(snapshots.map((snapshot) => snapshot.id));
          }
          const sharesByRecordId = indexRecordSharesByRecordId(await (recordSharesPromise ??= fetchRecordShares()));
          const accessLevels = resolveRequiredRecordShareAccessLevels('select');

          return new Set(
            snapshots
              .filter((snapshot) =>
                (sharesByRecordId.get(snapshot.id) ?? []).some(
                  (share) =>
                    subject.principalIds.includes(share.principalId) && accessLevels.includes(share.accessLevel),
                ),
              )
              .map((snapshot) => snapshot.id),
          );
        }
      }
    },
  };
};
