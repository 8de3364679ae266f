import { type FeatureFlagKey, type ObjectsPermissionsByRoleId } from '../../twenty-shared/types';
import {
  type FlatApplicationCacheMaps,
  type FlatEntityMaps,
  type FlatFieldMetadata,
  type FlatObjectMetadata,
  type FlatRowLevelPermissionPredicateGroupMaps,
  type FlatRowLevelPermissionPredicateMaps,
  type FlatWorkspaceMemberMaps,
} from '../metadata-modules/flat-entity.types';

// The cache keys the SSE publishers read through getOrRecompute().
export type WorkspaceCacheEntries = {
  flatObjectMetadataMaps: FlatEntityMaps<FlatObjectMetadata>;
  flatFieldMetadataMaps: FlatEntityMaps<FlatFieldMetadata>;
  flatRowLevelPermissionPredicateMaps: FlatRowLevelPermissionPredicateMaps;
  flatRowLevelPermissionPredicateGroupMaps: FlatRowLevelPermissionPredicateGroupMaps;
  flatWorkspaceMemberMaps: FlatWorkspaceMemberMaps;
  flatApplicationMaps: FlatApplicationCacheMaps;
  // userWorkspaceId -> roleId
  userWorkspaceRoleMap: Record<string, string>;
  rolesPermissions: ObjectsPermissionsByRoleId;
  featureFlagsMap: Record<FeatureFlagKey, boolean>;
  // roles allowed every record whatever the shares (September 2026 gate)
  roleIdsWithAllRecordsAccess: string[];
  // what the newest listener reads before it publishes
  flatWebhookMaps: { byId: Record<string, unknown> };
  flatLogicFunctionMaps: { byId: Record<string, unknown> };
};

export type WorkspaceCacheKey = keyof WorkspaceCacheEntries;

export const emptyWorkspaceCacheEntries = (): WorkspaceCacheEntries => ({
  flatObjectMetadataMaps: { byId: {} },
  flatFieldMetadataMaps: { byId: {} },
  flatRowLevelPermissionPredicateMaps: { byId: {} },
  flatRowLevelPermissionPredicateGroupMaps: { byId: {} },
  flatWorkspaceMemberMaps: { byId: {} },
  flatApplicationMaps: { byId: {} },
  userWorkspaceRoleMap: {},
  rolesPermissions: {},
  featureFlagsMap: {
    IS_SSE_DB_EVENTS_ENABLED: true,
    IS_RECORD_SHARING_ENABLED: false,
    IS_RECORD_LEVEL_SHARING_ENABLED: false,
  },
  roleIdsWithAllRecordsAccess: [],
  flatWebhookMaps: { byId: {} },
  flatLogicFunctionMaps: { byId: {} },
});
