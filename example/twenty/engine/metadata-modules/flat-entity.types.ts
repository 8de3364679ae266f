import { type MetadataReadability } from '../../twenty-shared/types';

export type FlatEntityMaps<T> = { byId: Record<string, T | undefined> };

export type FlatObjectMetadata = {
  id: string;
  nameSingular: string;
  namePlural: string;
  standardId?: string;
  universalIdentifier?: string;
  isAuditLogged: boolean;
  readability: MetadataReadability;
  applicationId?: string;
};

export type FlatFieldMetadata = {
  id: string;
  name: string;
  objectMetadataId: string;
};

export type FlatWorkspaceMember = {
  id: string;
  userId: string;
  deletedAt: string | null;
};

export type FlatWorkspaceMemberMaps = FlatEntityMaps<FlatWorkspaceMember>;

export type FlatApplication = {
  id: string;
  name: string;
  universalIdentifier?: string;
  defaultRoleId?: string;
  deletedAt: string | null;
};

export type FlatApplicationCacheMaps = FlatEntityMaps<FlatApplication>;

// Simple equality predicates: `value` may be the dynamic marker
// CURRENT_WORKSPACE_MEMBER_ID, resolved from the subscriber's workspace member.
export type FlatRowLevelPermissionPredicate = {
  id: string;
  roleId: string;
  objectMetadataId: string;
  fieldName: string;
  value: unknown;
};

export type FlatRowLevelPermissionPredicateMaps = FlatEntityMaps<FlatRowLevelPermissionPredicate>;

export type FlatRowLevelPermissionPredicateGroupMaps = FlatEntityMaps<{
  id: string;
}>;

export const CURRENT_WORKSPACE_MEMBER_ID = '{{CURRENT_WORKSPACE_MEMBER_ID}}';

export const findFlatEntityByIdInFlatEntityMaps = <T>({
  flatEntityId,
  flatEntityMaps,
}: {
  flatEntityId: string;
  flatEntityMaps: FlatEntityMaps<T>;
}): T | undefined => flatEntityMaps.byId[flatEntityId];

export const STANDARD_OBJECT_IDS = {
  timelineActivity: '20202020-6736-4337-b5c4-8b39fae325a5',
  workflowRun: '20202020-4e28-4e95-a9d7-6c00874f843c',
} as const;
