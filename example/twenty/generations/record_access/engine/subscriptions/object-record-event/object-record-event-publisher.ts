import { Injectable, Logger } from '@nestjs/common';

import { GroundTruth, reasonForEmptyStreamRoleIds } from '../../../../../../app/ground-truth';
import { type ObjectRecordEvent } from '../../../../../twenty-shared/database-events';
import {
  EVERYONE_PRINCIPAL_ID,
  isRecordGqlOperationSignature,
  type ObjectsPermissions,
  type ObjectsPermissionsByRoleId,
  type RecordGqlOperationSignature,
  type RecordOrMetadataGqlOperationSignature,
} from '../../../../../twenty-shared/types';
import { isDefined, isNonEmptyArray } from '../../../../../twenty-shared/utils';
import {
  ProcessNestedRelationsHelper,
  QUERY_MAX_RECORDS_FROM_RELATION,
} from '../../../../../engine/api/common/process-nested-relations.helper';
import { DatabaseEventAction } from '../../../../../engine/api/graphql/graphql-query-runner/enums/database-event-action';
import { type SerializableAuthContext } from '../../../../../engine/core-modules/auth/types/auth-context.type';
import {
  type EventRecordAccessGate,
  type RowAccessPolicySubject,
} from '../../../../../engine/core-modules/record-share/types/event-record-access-gate.type';
import { omitEventRecordAccessSnapshots } from '../../../../../engine/core-modules/record-share/utils/omit-event-record-access-snapshots.util';
import { omitRestrictedFieldsFromEvent } from '../../../../../engine/core-modules/record-share/utils/omit-restricted-fields-from-event.util';
import {
  type FlatApplicationCacheMaps,
  type FlatEntityMaps,
  type FlatFieldMetadata,
  type FlatObjectMetadata,
  type FlatRowLevelPermissionPredicateGroupMaps,
  type FlatRowLevelPermissionPredicateMaps,
  type FlatWorkspaceMemberMaps,
} from '../../../../../engine/metadata-modules/flat-entity.types';
import { EventStreamService } from '../../../../../engine/subscriptions/event-stream.service';
import { SubscriptionService } from '../../../../../engine/subscriptions/subscription.service';
import { type EventStreamData } from '../../../../../engine/subscriptions/types/event-stream-data.type';
import { type ObjectRecordSubscriptionEvent } from '../../../../../engine/subscriptions/types/object-record-subscription-event.type';
import { buildRowLevelPermissionRecordFilter } from '../../../../../engine/twenty-orm/utils/build-row-level-permission-record-filter.util';
import { isRecordMatchingRLSRowLevelPermissionPredicate } from '../../../../../engine/twenty-orm/utils/is-record-matching-rls-row-level-permission-predicate.util';
import {
  computePermissionIntersection,
  findActiveFlatApplicationById,
  resolveRoleIdsForUser,
} from '../../../../../engine/twenty-orm/utils/role-permissions.util';
import { WorkspaceCacheService } from '../../../../../engine/workspace-cache/workspace-cache.service';
import { type WorkspaceEventBatch } from '../../../../../engine/workspace-event-emitter/types/workspace-event-batch.type';
import { parseEventNameOrThrow } from '../../../../../engine/workspace-event-emitter/utils/parse-event-name';
import { RecordAccessPolicyService } from '../../core-modules/record-share/services/record-access-policy.service';

export type EventStreamPayload = {
  objectRecordEventsWithQueryIds: { queryIds: string[]; objectRecordEvent: ObjectRecordSubscriptionEvent }[];
  metadataEvents: unknown[];
};

type StreamPermissionsContext = {
  flatRowLevelPermissionPredicateMaps: FlatRowLevelPermissionPredicateMaps;
  flatRowLevelPermissionPredicateGroupMaps: FlatRowLevelPermissionPredicateGroupMaps;
  flatFieldMetadataMaps: FlatEntityMaps<FlatFieldMetadata>;
  userWorkspaceRoleMap: Record<string, string>;
  rolesPermissions: ObjectsPermissionsByRoleId;
  roleIdsWithAllRecordsAccess: string[];
  flatApplicationMaps: FlatApplicationCacheMaps;
};

// The publisher at 2c712b6a (newest known): one record-access gate per batch,
// restricted fields removed by a module function, no RLS filter in matching.
@Injectable()
export class ObjectRecordEventPublisher {
  private readonly logger = new Logger(ObjectRecordEventPublisher.name);

  constructor(
    private readonly subscriptionService: SubscriptionService,
    private readonly eventStreamService: EventStreamService,
    private readonly workspaceCacheService: WorkspaceCacheService,
    private readonly processNestedRelationsHelper: ProcessNestedRelationsHelper,
    private readonly recordAccessPolicyService: RecordAccessPolicyService,
    private readonly groundTruth: GroundTruth,
  ) {}

  async publish(eventBatch: WorkspaceEventBatch<ObjectRecordEvent>): Promise<void> {
    const workspaceId = eventBatch.workspaceId;

    const activeStreamIds = await this.eventStreamService.getActiveStreamIds(workspaceId);

    if (activeStreamIds.length === 0) {
      this.groundTruth.fanoutDrop(eventBatch);
      return;
    }

    const streamsData = await this.eventStreamService.getStreamsData(workspaceId, activeStreamIds);

    const { permissionsContext, flatWorkspaceMemberMaps } = await this.fetchObjectRecordStreamContext(workspaceId);

    const workspaceMemberIdByUserId = this.buildWorkspaceMemberIdByUserId(flatWorkspaceMemberMaps);

    const eventRecordAccessGate = this.recordAccessPolicyService.buildEventRecordAccessGate(eventBatch);

    const streamIdsToRemove: string[] = [];

    for (const [streamChannelId, streamData] of streamsData) {
      if (!isDefined(streamData)) {
        streamIdsToRemove.push(streamChannelId);
        this.groundTruth.streamDrop('D2', eventBatch, streamChannelId);
        continue;
      }

      if (Object.keys(streamData.queries).length === 0) {
        this.groundTruth.streamDrop('D3', eventBatch, streamChannelId);
        continue;
      }

      await this.processObjectRecordStreamEvents({
        streamChannelId,
        streamData,
        workspaceEventBatch: eventBatch,
        permissionsContext,
        flatWorkspaceMemberMaps,
        workspaceMemberIdByUserId,
        eventRecordAccessGate,
      });
    }

    await this.eventStreamService.removeFromActiveStreams(workspaceId, streamIdsToRemove);
  }

  private async fetchObjectRecordStreamContext(workspaceId: string) {
    const permissionsContext = await this.fetchPermissionsContext(workspaceId);
    const { flatWorkspaceMemberMaps } = await this.workspaceCacheService.getOrRecompute(workspaceId, [
      'flatWorkspaceMemberMaps',
    ]);

    return { permissionsContext, flatWorkspaceMemberMaps };
  }

  private async processObjectRecordStreamEvents({
    streamChannelId,
    streamData,
    workspaceEventBatch,
    permissionsContext,
    flatWorkspaceMemberMaps,
    workspaceMemberIdByUserId,
    eventRecordAccessGate,
  }: {
    streamChannelId: string;
    streamData: EventStreamData;
    workspaceEventBatch: WorkspaceEventBatch<ObjectRecordEvent>;
    permissionsContext: StreamPermissionsContext;
    flatWorkspaceMemberMaps: FlatWorkspaceMemberMaps;
    workspaceMemberIdByUserId: Map<string, string>;
    eventRecordAccessGate: EventRecordAccessGate;
  }): Promise<void> {
    const roleIds = this.resolveStreamRoleIds(streamData.authContext, permissionsContext);

    if (!isNonEmptyArray(roleIds)) {
      this.groundTruth.streamDrop(
        "D4'",
        workspaceEventBatch,
        streamChannelId,
        reasonForEmptyStreamRoleIds(streamData.authContext, permissionsContext),
      );
      return;
    }

    const objectsPermissions = this.resolveStreamObjectsPermissions(roleIds, permissionsContext.rolesPermissions);

    if (!isDefined(objectsPermissions)) {
      this.groundTruth.streamDrop('D5', workspaceEventBatch, streamChannelId);
      return;
    }

    const objectNameSingular = workspaceEventBatch.objectMetadata.nameSingular;

    if (
      !Object.values(streamData.queries).some(
        (operationSignature) =>
          isRecordGqlOperationSignature(operationSignature) &&
          operationSignature.objectNameSingular === objectNameSingular,
      )
    ) {
      this.groundTruth.streamDrop('N1', workspaceEventBatch, streamChannelId);
      return;
    }

    const matchedEvents: EventStreamPayload['objectRecordEventsWithQueryIds'] = [];

    const subscriberAuthContext: SerializableAuthContext = {
      ...streamData.authContext,
      workspaceMemberId: this.resolveSubscriberWorkspaceMemberId({
        subscriberAuthContext: streamData.authContext,
        workspaceMemberIdByUserId,
      }),
    };

    const admittedRecordIds = await eventRecordAccessGate.resolveAdmittedRecordIds(
      this.buildSubscriberRowAccessPolicySubject({
        subscriberAuthContext,
        roleIds,
        objectsPermissions,
        permissionsContext,
        flatWorkspaceMemberMaps,
      }),
    );

    // the ground truth's name for a refusal: the role cannot read the object at all, or the record is not admitted
    const refusal = objectsPermissions[workspaceEventBatch.objectMetadata.id]?.canReadObjectRecords
      ? undefined
      : 'object_not_readable';

    if (admittedRecordIds.size === 0) {
      this.groundTruth.streamDrop('N2', workspaceEventBatch, streamChannelId, refusal);
      return;
    }

    const restrictedFields = objectsPermissions[workspaceEventBatch.objectMetadata.id]?.restrictedFields ?? {};

    for (const event of workspaceEventBatch.events) {
      const { action } = parseEventNameOrThrow(workspaceEventBatch.name);

      const eventWithObjectName: ObjectRecordSubscriptionEvent = {
        action,
        objectNameSingular,
        ...omitEventRecordAccessSnapshots(event),
      };

      const filteredEvent = omitRestrictedFieldsFromEvent({
        event: eventWithObjectName,
        restrictedFields,
        flatFieldMetadataMaps: permissionsContext.flatFieldMetadataMaps,
      });

      const filteredProperties = filteredEvent.properties as { updatedFields?: string[] };

      if (isDefined(filteredProperties.updatedFields) && filteredProperties.updatedFields.length === 0) {
        this.groundTruth.eventDrop('N5', workspaceEventBatch, streamChannelId, event);
        continue;
      }

      if (!admittedRecordIds.has(filteredEvent.recordId)) {
        this.groundTruth.eventDrop('N4', workspaceEventBatch, streamChannelId, event, refusal);
        continue;
      }

      const matchedQueryIds = this.getMatchingObjectRecordQueryIds({
        queries: streamData.queries,
        event: filteredEvent,
        objectMetadata: workspaceEventBatch.objectMetadata,
        flatFieldMetadataMaps: permissionsContext.flatFieldMetadataMaps,
      });

      if (matchedQueryIds.length === 0) {
        this.groundTruth.eventDrop('D8', workspaceEventBatch, streamChannelId, event);
        continue;
      }

      matchedEvents.push({ queryIds: matchedQueryIds, objectRecordEvent: filteredEvent });
    }

    if (matchedEvents.length > 0) {
      try {
        await this.enrichEventBatchWithNestedRelations({
          objectMetadata: workspaceEventBatch.objectMetadata,
          events: matchedEvents.map((matchedEvent) => matchedEvent.objectRecordEvent),
          streamData,
          workspaceId: workspaceEventBatch.workspaceId,
          roleIds,
          objectsPermissions,
        });
      } catch (error) {
        this.logger.warn(
          `Failed to enrich nested relations for ${workspaceEventBatch.name} subscription event, broadcasting without them: ${
            error instanceof Error ? error.message : String(error)
          }`,
        );
      }

      const payload: EventStreamPayload = { objectRecordEventsWithQueryIds: matchedEvents, metadataEvents: [] };

      this.groundTruth.forwarded(
        workspaceEventBatch,
        streamChannelId,
        matchedEvents.map(({ objectRecordEvent }) => objectRecordEvent),
      );
      await this.subscriptionService.publishToEventStream({
        workspaceId: workspaceEventBatch.workspaceId,
        eventStreamChannelId: streamChannelId,
        payload,
      });
    }
  }

  private async enrichEventBatchWithNestedRelations({
    streamData,
    objectMetadata,
    events,
  }: {
    streamData: EventStreamData;
    objectMetadata: FlatObjectMetadata;
    events: ObjectRecordEvent[];
    workspaceId: string;
    roleIds: string[];
    objectsPermissions: ObjectsPermissions;
  }) {
    const allRecords = events.flatMap((event) => [event.properties.before, event.properties.after].filter(isDefined));

    await this.processNestedRelationsHelper.processNestedRelations({
      parentObjectMetadataItem: objectMetadata,
      parentObjectRecords: allRecords,
      authContext: streamData.authContext,
      limit: QUERY_MAX_RECORDS_FROM_RELATION,
    });
  }

  private resolveStreamRoleIds(
    subscriberAuthContext: SerializableAuthContext,
    permissionsContext: Pick<StreamPermissionsContext, 'userWorkspaceRoleMap' | 'flatApplicationMaps'>,
  ): string[] {
    const { userWorkspaceId, applicationId } = subscriberAuthContext;

    if (!isDefined(userWorkspaceId)) {
      return [];
    }

    const userRoleId = permissionsContext.userWorkspaceRoleMap[userWorkspaceId];

    if (!isDefined(applicationId)) {
      return resolveRoleIdsForUser({ userRoleId, applicationRoleId: undefined });
    }

    const application = findActiveFlatApplicationById(permissionsContext.flatApplicationMaps, applicationId);

    if (!isDefined(application)) {
      return [];
    }

    return resolveRoleIdsForUser({ userRoleId, applicationRoleId: application.defaultRoleId });
  }

  private resolveStreamObjectsPermissions(
    roleIds: string[],
    rolesPermissions: ObjectsPermissionsByRoleId,
  ): ObjectsPermissions | undefined {
    const allRolePermissions = roleIds.map((roleId) => rolesPermissions[roleId]);

    if (!allRolePermissions.every(isDefined)) {
      return undefined;
    }

    return computePermissionIntersection(allRolePermissions);
  }

  private buildWorkspaceMemberIdByUserId(flatWorkspaceMemberMaps: FlatWorkspaceMemberMaps): Map<string, string> {
    const workspaceMemberIdByUserId = new Map<string, string>();

    for (const flatWorkspaceMember of Object.values(flatWorkspaceMemberMaps.byId)) {
      if (
        !isDefined(flatWorkspaceMember) ||
        isDefined(flatWorkspaceMember.deletedAt) ||
        !isDefined(flatWorkspaceMember.userId)
      ) {
        continue;
      }

      workspaceMemberIdByUserId.set(flatWorkspaceMember.userId, flatWorkspaceMember.id);
    }

    return workspaceMemberIdByUserId;
  }

  private resolveSubscriberWorkspaceMemberId({
    subscriberAuthContext,
    workspaceMemberIdByUserId,
  }: {
    subscriberAuthContext: SerializableAuthContext;
    workspaceMemberIdByUserId: Map<string, string>;
  }): string | undefined {
    if (isDefined(subscriberAuthContext.workspaceMemberId)) {
      return subscriberAuthContext.workspaceMemberId;
    }

    if (!isDefined(subscriberAuthContext.userId)) {
      return undefined;
    }

    return workspaceMemberIdByUserId.get(subscriberAuthContext.userId);
  }

  private buildSubscriberRowAccessPolicySubject({
    subscriberAuthContext,
    roleIds,
    objectsPermissions,
    permissionsContext,
    flatWorkspaceMemberMaps,
  }: {
    subscriberAuthContext: SerializableAuthContext;
    roleIds: string[];
    objectsPermissions: ObjectsPermissions;
    permissionsContext: StreamPermissionsContext;
    flatWorkspaceMemberMaps: FlatWorkspaceMemberMaps;
  }): RowAccessPolicySubject {
    return {
      isSystemContext: false,
      objectsPermissions,
      principalIds: [EVERYONE_PRINCIPAL_ID, subscriberAuthContext.workspaceMemberId, ...roleIds].filter(isDefined),
      canAccessAllRecords: roleIds.some((roleId) => permissionsContext.roleIdsWithAllRecordsAccess.includes(roleId)),
      isOwningApplication: (objectMetadata) =>
        isDefined(objectMetadata.applicationId) && subscriberAuthContext.applicationId === objectMetadata.applicationId,
      resolveRowLevelPermissionRecordFilter: (objectMetadata) => {
        const recordFilter = buildRowLevelPermissionRecordFilter({
          flatRowLevelPermissionPredicateMaps: permissionsContext.flatRowLevelPermissionPredicateMaps,
          flatRowLevelPermissionPredicateGroupMaps: permissionsContext.flatRowLevelPermissionPredicateGroupMaps,
          flatFieldMetadataMaps: permissionsContext.flatFieldMetadataMaps,
          objectMetadata,
          roleIds,
          workspaceMember: isDefined(subscriberAuthContext.workspaceMemberId)
            ? flatWorkspaceMemberMaps.byId[subscriberAuthContext.workspaceMemberId]
            : undefined,
        });

        return isDefined(recordFilter) && Object.keys(recordFilter).length > 0 ? recordFilter : null;
      },
    };
  }

  private getMatchingObjectRecordQueryIds({
    queries,
    event,
    objectMetadata,
    flatFieldMetadataMaps,
  }: {
    queries: Record<string, RecordOrMetadataGqlOperationSignature>;
    event: ObjectRecordSubscriptionEvent;
    objectMetadata: FlatObjectMetadata;
    flatFieldMetadataMaps: FlatEntityMaps<FlatFieldMetadata>;
  }): string[] {
    const matchedQueryIds: string[] = [];

    for (const [queryId, operationSignature] of Object.entries(queries)) {
      if (!isRecordGqlOperationSignature(operationSignature)) {
        continue;
      }

      if (this.isQueryMatchingObjectRecordEvent({ operationSignature, event, objectMetadata, flatFieldMetadataMaps })) {
        matchedQueryIds.push(queryId);
      }
    }

    return matchedQueryIds;
  }

  private isQueryMatchingObjectRecordEvent({
    operationSignature,
    event,
    objectMetadata,
    flatFieldMetadataMaps,
  }: {
    operationSignature: RecordGqlOperationSignature;
    event: ObjectRecordSubscriptionEvent;
    objectMetadata: FlatObjectMetadata;
    flatFieldMetadataMaps: FlatEntityMaps<FlatFieldMetadata>;
  }): boolean {
    if (operationSignature.objectNameSingular !== event.objectNameSingular) {
      return false;
    }

    const properties = event.properties as { after?: Record<string, unknown>; before?: Record<string, unknown> };
    const deliveredRecord = properties?.after ?? properties?.before;

    if (!isDefined(deliveredRecord)) {
      return false;
    }

    const shouldIgnoreSoftDeleteDefaultFilter =
      event.action === DatabaseEventAction.DELETED || event.action === DatabaseEventAction.RESTORED;

    const queryFilter = operationSignature.variables?.filter ?? {};

    if (Object.keys(queryFilter).length === 0) {
      return true;
    }

    const candidateRecords =
      event.action === DatabaseEventAction.UPDATED
        ? [properties?.after, properties?.before].filter(isDefined)
        : [deliveredRecord];

    return candidateRecords.some((record) =>
      isRecordMatchingRLSRowLevelPermissionPredicate({
        record,
        filter: queryFilter,
        flatObjectMetadata: objectMetadata,
        flatFieldMetadataMaps,
        shouldIgnoreSoftDeleteDefaultFilter,
      }),
    );
  }

  private async fetchPermissionsContext(workspaceId: string): Promise<StreamPermissionsContext> {
    return this.workspaceCacheService.getOrRecompute(workspaceId, [
      'flatRowLevelPermissionPredicateMaps',
      'flatRowLevelPermissionPredicateGroupMaps',
      'flatFieldMetadataMaps',
      'userWorkspaceRoleMap',
      'rolesPermissions',
      'roleIdsWithAllRecordsAccess',
      'flatApplicationMaps',
    ]);
  }
}
