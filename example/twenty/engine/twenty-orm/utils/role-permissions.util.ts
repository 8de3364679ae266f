import { type ObjectsPermissions } from '../../../twenty-shared/types';
import { isDefined } from '../../../twenty-shared/utils';
import { type FlatApplication, type FlatApplicationCacheMaps } from '../../metadata-modules/flat-entity.types';

export const resolveRoleIdsForUser = ({
  userRoleId,
  applicationRoleId,
}: {
  userRoleId: string | undefined;
  applicationRoleId: string | undefined;
}): string[] => {
  if (!isDefined(userRoleId)) {
    return [];
  }

  return [userRoleId, applicationRoleId].filter(isDefined);
};

// A subscriber acting through several roles only sees what all of them allow.
export const computePermissionIntersection = (allRolePermissions: ObjectsPermissions[]): ObjectsPermissions => {
  const objectIds = new Set(allRolePermissions.flatMap((permissions) => Object.keys(permissions)));
  const intersection: ObjectsPermissions = {};

  for (const objectId of objectIds) {
    const perObject = allRolePermissions.map((permissions) => permissions[objectId]);

    intersection[objectId] = {
      canReadObjectRecords: perObject.every((permission) => permission?.canReadObjectRecords === true),
      restrictedFields: Object.assign({}, ...perObject.map((permission) => permission?.restrictedFields ?? {})),
    };
  }

  return intersection;
};

// The cache keeps soft-deleted applications: only a live one counts.
export const findActiveFlatApplicationById = (
  flatApplicationMaps: FlatApplicationCacheMaps,
  applicationId: string,
): FlatApplication | undefined => {
  const application = flatApplicationMaps.byId[applicationId];

  return isDefined(application) && !isDefined(application.deletedAt) ? application : undefined;
};
