import { type ObjectsPermissions, type RecordGqlOperationFilter } from '../../../../twenty-shared/types';
import { type FlatObjectMetadata } from '../../../metadata-modules/flat-entity.types';

// Who asks the gate: the subscriber's principals, role permissions and row-level rule.
export type RowAccessPolicySubject = {
  isSystemContext?: boolean;
  objectsPermissions: ObjectsPermissions;
  principalIds: string[];
  canAccessAllRecords?: boolean;
  isOwningApplication: (objectMetadata: FlatObjectMetadata) => boolean;
  resolveRowLevelPermissionRecordFilter: (objectMetadata: FlatObjectMetadata) => RecordGqlOperationFilter | null;
};

// One gate per event batch (built by RecordAccessPolicyService), asked once per subscriber stream.
export type EventRecordAccessGate = {
  resolveAdmittedRecordIds: (subject: RowAccessPolicySubject) => Promise<Set<string>>;
};

// faec8d88 named the same shape after record shares.
export type EventRecordShareGate = EventRecordAccessGate;
