// Subscriber-side permission helpers shared by the generations that have them
// (v5, v8, the newest publisher). Twenty keeps these as private methods of each
// version of its file; here each version keeps its private method (name and
// signature, which the instrumentation and the drop conditions depend on) and
// delegates the body that did not change between versions.
import {
  type RecordGqlOperationFilter,
  type RestrictedFieldsPermissions,
  combineFilters,
} from '../../../twenty-shared/types';
import { isDefined } from '../../../twenty-shared/utils';
import { DatabaseEventAction } from '../../api/graphql/graphql-query-runner/enums/database-event-action';
import { type SerializableAuthContext } from '../../core-modules/auth/types/auth-context.type';
import {
  type FlatEntityMaps,
  type FlatFieldMetadata,
  type FlatObjectMetadata,
  type FlatRowLevelPermissionPredicateGroupMaps,
  type FlatRowLevelPermissionPredicateMaps,
  type FlatWorkspaceMemberMaps,
  findFlatEntityByIdInFlatEntityMaps,
} from '../../metadata-modules/flat-entity.types';
import { type ObjectRecordSubscriptionEvent } from '../../subscriptions/types/object-record-subscription-event.type';
import { buildRowLevelPermissionRecordFilter } from '../../twenty-orm/utils/build-row-level-permission-record-filter.util';
import { isRecordMatchingRLSRowLevelPermissionPredicate } from '../../twenty-orm/utils/is-record-matching-rls-row-level-permission-predicate.util';

export type RowLevelPermissionContext = {
  flatRowLevelPermissionPredicateMaps: FlatRowLevelPermissionPredicateMaps;
  flatRowLevelPermissionPredicateGroupMaps: FlatRowLevelPermissionPredicateGroupMaps;
  flatFieldMetadataMaps: FlatEntityMaps<FlatFieldMetadata>;
};

// The stream's auth context never holds workspaceMemberId in v5 (D11): then no member, and RLS predicates on it match nothing.
export const buildSubscriberRowLevelPermissionFilter = ({
  subscriberAuthContext,
  roleIds,
  objectMetadata,
  permissionsContext,
  flatWorkspaceMemberMaps,
}: {
  subscriberAuthContext: SerializableAuthContext;
  roleIds: string[];
  objectMetadata: FlatObjectMetadata;
  permissionsContext: RowLevelPermissionContext;
  flatWorkspaceMemberMaps: FlatWorkspaceMemberMaps;
}): RecordGqlOperationFilter | null =>
  buildRowLevelPermissionRecordFilter({
    flatRowLevelPermissionPredicateMaps: permissionsContext.flatRowLevelPermissionPredicateMaps,
    flatRowLevelPermissionPredicateGroupMaps: permissionsContext.flatRowLevelPermissionPredicateGroupMaps,
    flatFieldMetadataMaps: permissionsContext.flatFieldMetadataMaps,
    objectMetadata,
    roleIds,
    workspaceMember: isDefined(subscriberAuthContext.workspaceMemberId)
      ? flatWorkspaceMemberMaps.byId[subscriberAuthContext.workspaceMemberId]
      : undefined,
  });

// Drops the fields the subscriber's role cannot read; an update whose changed fields were all restricted keeps an empty updatedFields (D7).
export const filterRestrictedFieldsFromSubscriptionEvent = (
  event: ObjectRecordSubscriptionEvent,
  restrictedFields: RestrictedFieldsPermissions | undefined,
  flatFieldMetadataMaps: FlatEntityMaps<FlatFieldMetadata>,
): ObjectRecordSubscriptionEvent => {
  if (!restrictedFields || Object.keys(restrictedFields).length === 0) {
    return event;
  }

  const restrictedFieldNames = new Set(
    Object.entries(restrictedFields)
      .filter(([, permissions]) => permissions.canRead === false)
      .map(
        ([fieldMetadataId]) =>
          findFlatEntityByIdInFlatEntityMaps({ flatEntityId: fieldMetadataId, flatEntityMaps: flatFieldMetadataMaps })
            ?.name,
      )
      .filter(isDefined),
  );

  if (restrictedFieldNames.size === 0) {
    return event;
  }

  const filterRecord = (record: object | undefined): object | undefined =>
    record ? Object.fromEntries(Object.entries(record).filter(([key]) => !restrictedFieldNames.has(key))) : record;

  const properties = event.properties as { before?: object; after?: object; updatedFields?: string[]; diff?: object };

  const filteredBefore = filterRecord(properties.before);
  const filteredAfter = filterRecord(properties.after);
  const filteredDiff = filterRecord(properties.diff);

  return {
    ...event,
    properties: {
      ...properties,
      ...(filteredBefore !== undefined && { before: filteredBefore }),
      ...(filteredAfter !== undefined && { after: filteredAfter }),
      ...(filteredDiff !== undefined && { diff: filteredDiff }),
      updatedFields: properties.updatedFields?.filter((field) => !restrictedFieldNames.has(field)),
    },
  } as ObjectRecordSubscriptionEvent;
};

// v5 and v8 matching: the query filter and the subscriber's RLS filter combined, tested on `after` (else `before`) only,
// so a record that leaves the filter on update is not delivered (the newest publisher tests both sides).
export const isQueryMatchingEventOnCombinedFilter = ({
  operationSignature,
  event,
  subscriberRLSFilter,
  objectMetadata,
  flatFieldMetadataMaps,
}: {
  operationSignature: { objectNameSingular: string; variables?: { filter?: RecordGqlOperationFilter } };
  event: ObjectRecordSubscriptionEvent;
  subscriberRLSFilter: RecordGqlOperationFilter | null;
  objectMetadata: FlatObjectMetadata;
  flatFieldMetadataMaps: FlatEntityMaps<FlatFieldMetadata>;
}): boolean => {
  if (operationSignature.objectNameSingular !== event.objectNameSingular) {
    return false;
  }

  const properties = event.properties as { after?: object; before?: object };
  const record = properties?.after ?? properties?.before;

  if (!isDefined(record)) {
    return false;
  }

  const filtersToApply: RecordGqlOperationFilter[] = [operationSignature.variables?.filter ?? {}];

  if (subscriberRLSFilter && Object.keys(subscriberRLSFilter).length > 0) {
    filtersToApply.push(subscriberRLSFilter);
  }

  const combinedFilter = combineFilters(filtersToApply);

  if (Object.keys(combinedFilter).length === 0) {
    return true;
  }

  return isRecordMatchingRLSRowLevelPermissionPredicate({
    record: record as Record<string, unknown>,
    filter: combinedFilter,
    flatObjectMetadata: objectMetadata,
    flatFieldMetadataMaps,
    shouldIgnoreSoftDeleteDefaultFilter:
      event.action === DatabaseEventAction.DELETED || event.action === DatabaseEventAction.RESTORED,
  });
};
