import { type RecordGqlOperationFilter } from '../../../twenty-shared/types';
import {
  CURRENT_WORKSPACE_MEMBER_ID,
  type FlatEntityMaps,
  type FlatFieldMetadata,
  type FlatObjectMetadata,
  type FlatRowLevelPermissionPredicateGroupMaps,
  type FlatRowLevelPermissionPredicateMaps,
  type FlatWorkspaceMember,
} from '../../metadata-modules/flat-entity.types';

// Equality predicates only. A predicate on the "current workspace member" is
// dynamic: with no member resolved it compares against null and matches nothing
// that has the field set (the D11 situation of the older publishers).
export const buildRowLevelPermissionRecordFilter = ({
  flatRowLevelPermissionPredicateMaps,
  objectMetadata,
  roleIds,
  workspaceMember,
}: {
  flatRowLevelPermissionPredicateMaps: FlatRowLevelPermissionPredicateMaps;
  flatRowLevelPermissionPredicateGroupMaps: FlatRowLevelPermissionPredicateGroupMaps;
  flatFieldMetadataMaps: FlatEntityMaps<FlatFieldMetadata>;
  objectMetadata: FlatObjectMetadata;
  roleIds: string[];
  workspaceMember?: FlatWorkspaceMember;
}): RecordGqlOperationFilter | null => {
  const predicates = Object.values(flatRowLevelPermissionPredicateMaps.byId).filter(
    (predicate) =>
      predicate !== undefined && predicate.objectMetadataId === objectMetadata.id && roleIds.includes(predicate.roleId),
  );

  if (predicates.length === 0) {
    return null;
  }

  return {
    and: predicates.map((predicate) => ({
      [predicate!.fieldName]: {
        eq: predicate!.value === CURRENT_WORKSPACE_MEMBER_ID ? (workspaceMember?.id ?? null) : predicate!.value,
      },
    })),
  };
};
