// Stand-ins for twenty-shared/types used by the SSE pipeline.

export type RecordGqlOperationFilter = Record<string, unknown>;

export type RecordGqlOperationSignature = {
  objectNameSingular: string;
  variables?: { filter?: RecordGqlOperationFilter; orderBy?: unknown };
  fields?: Record<string, unknown>;
};

export type MetadataGqlOperationSignature = {
  metadataName: string;
  variables?: { filter?: Record<string, unknown> };
};

export type RecordOrMetadataGqlOperationSignature = RecordGqlOperationSignature | MetadataGqlOperationSignature;

export type RestrictedFieldsPermissions = Record<string, { canRead?: boolean | null; canUpdate?: boolean | null }>;

export type ObjectPermissions = {
  canReadObjectRecords: boolean;
  canUpdateObjectRecords?: boolean;
  canSoftDeleteObjectRecords?: boolean;
  canDestroyObjectRecords?: boolean;
  restrictedFields: RestrictedFieldsPermissions;
};

// objectMetadataId -> permissions
export type ObjectsPermissions = Record<string, ObjectPermissions>;

// roleId -> objectMetadataId -> permissions
export type ObjectsPermissionsByRoleId = Record<string, ObjectsPermissions>;

export enum FeatureFlagKey {
  IS_SSE_DB_EVENTS_ENABLED = 'IS_SSE_DB_EVENTS_ENABLED',
  IS_RECORD_SHARING_ENABLED = 'IS_RECORD_SHARING_ENABLED',
  // the September 2026 record-access gate's flag (record-level sharing licence)
  IS_RECORD_LEVEL_SHARING_ENABLED = 'IS_RECORD_LEVEL_SHARING_ENABLED',
}

export type MetadataReadability = 'PUBLIC' | 'PRIVATE' | 'INHERITED' | 'NONE';

export enum FieldActorSource {
  MANUAL = 'MANUAL',
  WORKFLOW = 'WORKFLOW',
  API = 'API',
  IMPORT = 'IMPORT',
  SYSTEM = 'SYSTEM',
}

export type ActorMetadata = {
  source: FieldActorSource;
  name: string;
  workspaceMemberId: string | null;
  context: Record<string, unknown>;
};

export const isRecordGqlOperationSignature = (
  signature: RecordOrMetadataGqlOperationSignature,
): signature is RecordGqlOperationSignature =>
  typeof (signature as RecordGqlOperationSignature).objectNameSingular === 'string';

export const isMetadataGqlOperationSignature = (
  signature: RecordOrMetadataGqlOperationSignature,
): signature is MetadataGqlOperationSignature =>
  typeof (signature as MetadataGqlOperationSignature).metadataName === 'string';

export const combineFilters = (filters: RecordGqlOperationFilter[]): RecordGqlOperationFilter => {
  const nonEmptyFilters = filters.filter((filter) => Object.keys(filter ?? {}).length > 0);

  if (nonEmptyFilters.length === 0) {
    return {};
  }

  if (nonEmptyFilters.length === 1) {
    return nonEmptyFilters[0];
  }

  return { and: nonEmptyFilters };
};

export const EVERYONE_PRINCIPAL_ID = '00000000-0000-0000-0000-00000000e0e0';
