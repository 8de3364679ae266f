import { Inject, Injectable, Logger } from '@nestjs/common';

import { EXAMPLE_CONFIG, type ExampleConfig } from '../../../../../../app/example-config';
import { GroundTruth, reasonForEmptyStreamRoleIds } from '../../../../../../app/ground-truth';
import { type ObjectRecordEvent } from '../../../../../twenty-shared/database-events';
import {
  EVERYONE_PRINCIPAL_ID,
  FeatureFlagKey,
  isRecordGqlOperationSignature,
  type ObjectsPermissions,
  type ObjectsPermissionsByRoleId,
  type RecordGqlOperationFilter,
  type RecordGqlOperationSignature,
  type RecordOrMetadataGqlOperationSignature,
  type RestrictedFieldsPermissions,
} from '../../../../../twenty-shared/types';
import { isDefined, isNonEmptyArray } from '../../../../../twenty-shared/utils';
import {
  ProcessNestedRelationsHelper,
  QUERY_MAX_RECORDS_FROM_RELATION,
} from '../../../../../engine/api/common/process-nested-relations.helper';
import { DatabaseEventAction } from '../../../../../engine/api/graphql/graphql-query-runner/enums/database-event-action';
import { type SerializableAuthContext } from '../../../../../engine/core-modules/auth/types/auth-context.type';
import {
  type FlatApplicationCacheMaps,
  type FlatEntityMaps,
  type FlatFieldMetadata,
  type FlatObjectMetadata,
  type FlatRowLevelPermissionPredicateGroupMaps,
  type FlatRowLevelPermissionPredicateMaps,
  type FlatWorkspaceMemberMaps,
} from '../../../../../engine/metadata-modules/flat-entity.types';
import {
  buildRecordShareGate,
  indexRecordSharesByRecordId,
  isRecordSharedWithPrincipals,
  type RecordShare,
  type RecordShareGate,
  RecordShareService,
  resolveRecordShareGateKind,
  resolveRequiredRecordShareAccessLevels,
} from '../../../../../engine/record-share/record-share';
import { EventStreamService } from '../../../../../engine/subscriptions/event-stream.service';
import { SubscriptionService } from '../../../../../engine/subscriptions/subscription.service';
import { type EventStreamData } from '../../../../../engine/subscriptions/types/event-stream-data.type';
import { type ObjectRecordSubscriptionEvent } from '../../../../../engine/subscriptions/types/object-record-subscription-event.type';
import { isRecordMatchingRLSRowLevelPermissionPredicate } from '../../../../../engine/twenty-orm/utils/is-record-matching-rls-row-level-permission-predicate.util';
import {
  computePermissionIntersection,
  findActiveFlatApplicationById,
  resolveRoleIdsForUser,
} from '../../../../../engine/twenty-orm/utils/role-permissions.util';
import { WorkspaceCacheService } from '../../../../../engine/workspace-cache/workspace-cache.service';
import { type WorkspaceEventBatch } from '../../../../../engine/workspace-event-emitter/types/workspace-event-batch.type';
import { matchBatchEventsForStream } from '../../../../../engine/workspace-event-emitter/utils/match-batch-events-for-stream.util';
import {
  buildSubscriberRowLevelPermissionFilter,
  filterRestrictedFieldsFromSubscriptionEvent,
} from '../../../../../engine/workspace-event-emitter/utils/stream-event-permissions.util';

export type EventStreamPayload = {
  objectRecordEventsWithQueryIds: {
    queryIds: string[];
    objectRecordEvent: ObjectRecordSubscriptionEvent;
  }[];
  metadataEvents: unknown[];
};

type StreamPermissionsContext = {
  flatRowLevelPermissionPredicateMaps: FlatRowLevelPermissionPredicateMaps;
  flatRowLevelPermissionPredicateGroupMaps: FlatRowLevelPermissionPredicateGroupMaps;
  flatFieldMetadataMaps: FlatEntityMaps<FlatFieldMetadata>;
  userWorkspaceRoleMap: Record<string, string>;
  rolesPermissions: ObjectsPermissionsByRoleId;
  flatApplicationMaps: FlatApplicationCacheMaps;
  featureFlagsMap: Record<FeatureFlagKey, boolean>;
};

// The newest object-record publisher (after PR #18740), without the
// timelineActivity linked-record share gate.
@Injectable()
export class ObjectRecordEventPublisher {
  private readonly logger = new Logger(ObjectRecordEventPublisher.name);

  constructor(
    private readonly subscriptionService: SubscriptionService,
    private readonly eventStreamService: EventStreamService,
    private readonly workspaceCacheService: WorkspaceCacheService,
    private readonly processNestedRelationsHelper: ProcessNestedRelationsHelper,
    private readonly recordShareService: RecordShareService,
    private readonly groundTruth: GroundTruth,
    @Inject(EXAMPLE_CONFIG) private readonly exampleConfig: ExampleConfig,
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

    const recordSharesByRecordId = await this.fetchRecordSharesByRecordId({
      workspaceEventBatch: eventBatch,
      featureFlagsMap: permissionsContext.featureFlagsMap,
    });

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
        recordSharesByRecordId,
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

  private async fetchRecordSharesByRecordId({
    workspaceEventBatch,
    featureFlagsMap,
  }: {
    workspaceEventBatch: WorkspaceEventBatch<ObjectRecordEvent>;
    featureFlagsMap: Record<FeatureFlagKey, boolean>;
  }): Promise<Map<string, RecordShare[]>> {
    if (
      !featureFlagsMap[FeatureFlagKey.IS_RECORD_SHARING_ENABLED] ||
      resolveRecordShareGateKind({
        readability: workspaceEventBatch.objectMetadata.readability,
        isOwningApplication: false,
      }) !== 'private'
    ) {
      return new Map();
    }

    return indexRecordSharesByRecordId(
      await this.recordShareService.findByRecordIds({
        workspaceId: workspaceEventBatch.workspaceId,
        objectMetadataId: workspaceEventBatch.objectMetadata.id,
        recordIds: workspaceEventBatch.events.map((event) => event.recordId),
      }),
    );
  }

  private resolveDeliveredRecord(event: ObjectRecordEvent): Record<string, unknown> | undefined {
    const properties = event.properties as {
      after?: Record<string, unknown>;
      before?: Record<string, unknown>;
    };

    return properties.after ?? properties.before;
  }

  private async processObjectRecordStreamEvents({
    streamChannelId,
    streamData,
    workspaceEventBatch,
    permissionsContext,
    flatWorkspaceMemberMaps,
    workspaceMemberIdByUserId,
    recordSharesByRecordId,
  }: {
    streamChannelId: string;
    streamData: EventStreamData;
    workspaceEventBatch: WorkspaceEventBatch<ObjectRecordEvent>;
    permissionsContext: StreamPermissionsContext;
    flatWorkspaceMemberMaps: FlatWorkspaceMemberMaps;
    workspaceMemberIdByUserId: Map<string, string>;
    recordSharesByRecordId: Map<string, RecordShare[]>;
  }): Promise<void> {
    // Example-only injected defect (EXAMPLE_FAULTS), not Twenty's code.
    if (this.exampleConfig.faults?.includes('stream_skips_events')) {
      this.groundTruth.streamDrop('UNKNOWN', workspaceEventBatch, streamChannelId);
      return;
    }

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

    const objectPermissions = objectsPermissions[workspaceEventBatch.objectMetadata.id];

    if (!objectPermissions?.canReadObjectRecords) {
      this.groundTruth.streamDrop('D6', workspaceEventBatch, streamChannelId);
      return;
    }

    const subscriberAuthContext: SerializableAuthContext = {
      ...streamData.authContext,
      workspaceMemberId: this.resolveSubscriberWorkspaceMemberId({
        subscriberAuthContext: streamData.authContext,
        workspaceMemberIdByUserId,
      }),
    };

    const subscriberRLSFilter = this.buildSubscriberRLSFilter(
      subscriberAuthContext,
      roleIds,
      workspaceEventBatch.objectMetadata,
      permissionsContext,
      flatWorkspaceMemberMaps,
    );

    const subscriberRecordShareGate = await this.buildSubscriberRecordShareGate({
      subscriberAuthContext,
      roleIds,
      objectMetadata: workspaceEventBatch.objectMetadata,
      featureFlagsMap: permissionsContext.featureFlagsMap,
      recordSharesByRecordId,
    });

    const restrictedFields = objectPermissions.restrictedFields;

    const matchedEvents: EventStreamPayload['objectRecordEventsWithQueryIds'] = matchBatchEventsForStream({
      workspaceEventBatch,
      streamChannelId,
      groundTruth: this.groundTruth,
      filterRestrictedFields: (event) =>
        this.filterRestrictedFieldsFromEvent(event, restrictedFields, permissionsContext.flatFieldMetadataMaps),
      isHiddenByRecordSharing: (filteredEvent) =>
        isDefined(subscriberRecordShareGate) &&
        !isRecordSharedWithPrincipals({
          recordShareGate: subscriberRecordShareGate,
          recordId: filteredEvent.recordId,
          accessLevels: resolveRequiredRecordShareAccessLevels('select'),
        }),
      getMatchingQueryIds: (filteredEvent) =>
        this.getMatchingObjectRecordQueryIds({
          queries: streamData.queries,
          event: filteredEvent,
          subscriberRLSFilter,
          objectMetadata: workspaceEventBatch.objectMetadata,
          flatFieldMetadataMaps: permissionsContext.flatFieldMetadataMaps,
        }),
      toMatchedEvent: (queryIds, objectRecordEvent) => ({ queryIds, objectRecordEvent }),
    });

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

      const payload: EventStreamPayload = {
        objectRecordEventsWithQueryIds: matchedEvents,
        metadataEvents: [],
      };

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

    // An application that has gone away must not widen an open stream.
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

  private buildSubscriberRLSFilter(
    subscriberAuthContext: SerializableAuthContext,
    roleIds: string[],
    objectMetadata: FlatObjectMetadata,
    permissionsContext: StreamPermissionsContext,
    flatWorkspaceMemberMaps: FlatWorkspaceMemberMaps,
  ): RecordGqlOperationFilter | null {
    return buildSubscriberRowLevelPermissionFilter({
      subscriberAuthContext,
      roleIds,
      objectMetadata,
      permissionsContext,
      flatWorkspaceMemberMaps,
    });
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

  // A stream created before the member id was stored only carries the user id
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

  private async buildSubscriberRecordShareGate({
    subscriberAuthContext,
    roleIds,
    objectMetadata,
    featureFlagsMap,
    recordSharesByRecordId,
  }: {
    subscriberAuthContext: SerializableAuthContext;
    roleIds: string[];
    objectMetadata: FlatObjectMetadata;
    featureFlagsMap: Record<FeatureFlagKey, boolean>;
    recordSharesByRecordId: Map<string, RecordShare[]>;
  }): Promise<RecordShareGate | null> {
    if (!featureFlagsMap[FeatureFlagKey.IS_RECORD_SHARING_ENABLED]) {
      return null;
    }

    return buildRecordShareGate({
      readability: objectMetadata.readability,
      isOwningApplication: this.isSubscriberOwningApplication(subscriberAuthContext, objectMetadata),
      principalIds: this.resolveSubscriberPrincipalIds(subscriberAuthContext, roleIds),
      fetchRecordSharesByRecordId: async () => recordSharesByRecordId,
    });
  }

  private isSubscriberOwningApplication(
    subscriberAuthContext: SerializableAuthContext,
    objectMetadata: FlatObjectMetadata,
  ): boolean {
    return (
      isDefined(objectMetadata.applicationId) && subscriberAuthContext.applicationId === objectMetadata.applicationId
    );
  }

  private resolveSubscriberPrincipalIds(subscriberAuthContext: SerializableAuthContext, roleIds: string[]): string[] {
    return [...new Set([EVERYONE_PRINCIPAL_ID, subscriberAuthContext.workspaceMemberId, ...roleIds].filter(isDefined))];
  }

  private filterRestrictedFieldsFromEvent(
    event: ObjectRecordSubscriptionEvent,
    restrictedFields: RestrictedFieldsPermissions | undefined,
    flatFieldMetadataMaps: FlatEntityMaps<FlatFieldMetadata>,
  ): ObjectRecordSubscriptionEvent {
    return filterRestrictedFieldsFromSubscriptionEvent(event, restrictedFields, flatFieldMetadataMaps);
  }

  private getMatchingObjectRecordQueryIds({
    queries,
    event,
    subscriberRLSFilter,
    objectMetadata,
    flatFieldMetadataMaps,
  }: {
    queries: Record<string, RecordOrMetadataGqlOperationSignature>;
    event: ObjectRecordSubscriptionEvent;
    subscriberRLSFilter: RecordGqlOperationFilter | null;
    objectMetadata: FlatObjectMetadata;
    flatFieldMetadataMaps: FlatEntityMaps<FlatFieldMetadata>;
  }): string[] {
    const matchedQueryIds: string[] = [];

    for (const [queryId, operationSignature] of Object.entries(queries)) {
      if (!isRecordGqlOperationSignature(operationSignature)) {
        continue;
      }

      if (
        this.isQueryMatchingObjectRecordEvent({
          operationSignature,
          event,
          subscriberRLSFilter,
          objectMetadata,
          flatFieldMetadataMaps,
        })
      ) {
        matchedQueryIds.push(queryId);
      }
    }

    return matchedQueryIds;
  }

  private isQueryMatchingObjectRecordEvent({
    operationSignature,
    event,
    subscriberRLSFilter,
    objectMetadata,
    flatFieldMetadataMaps,
  }: {
    operationSignature: RecordGqlOperationSignature;
    event: ObjectRecordSubscriptionEvent;
    subscriberRLSFilter: RecordGqlOperationFilter | null;
    objectMetadata: FlatObjectMetadata;
    flatFieldMetadataMaps: FlatEntityMaps<FlatFieldMetadata>;
  }): boolean {
    if (operationSignature.objectNameSingular !== event.objectNameSingular) {
      return false;
    }

    const deliveredRecord = this.resolveDeliveredRecord(event);

    if (!isDefined(deliveredRecord)) {
      return false;
    }

    const properties = event.properties as {
      after?: Record<string, unknown>;
      before?: Record<string, unknown>;
    };

    const shouldIgnoreSoftDeleteDefaultFilter =
      event.action === DatabaseEventAction.DELETED || event.action === DatabaseEventAction.RESTORED;

    if (
      isDefined(subscriberRLSFilter) &&
      Object.keys(subscriberRLSFilter).length > 0 &&
      !isRecordMatchingRLSRowLevelPermissionPredicate({
        record: deliveredRecord,
        filter: subscriberRLSFilter,
        flatObjectMetadata: objectMetadata,
        flatFieldMetadataMaps,
        shouldIgnoreSoftDeleteDefaultFilter,
      })
    ) {
      return false;
    }

    const queryFilter = operationSignature.variables?.filter ?? {};

    if (Object.keys(queryFilter).length === 0) {
      return true;
    }

    // For updates both sides are tested, so a record leaving the filter is delivered.
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
      'flatApplicationMaps',
      'featureFlagsMap',
    ]);
  }
}
