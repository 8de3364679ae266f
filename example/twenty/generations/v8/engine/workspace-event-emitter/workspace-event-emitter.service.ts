import { Injectable } from '@nestjs/common';

import { GroundTruth } from '../../../../../app/ground-truth';
import { type ObjectRecordEvent } from '../../../../twenty-shared/database-events';
import {
  isMetadataGqlOperationSignature,
  isRecordGqlOperationSignature,
  type ObjectsPermissionsByRoleId,
  type RecordGqlOperationFilter,
  type RecordGqlOperationSignature,
  type RecordOrMetadataGqlOperationSignature,
  type RestrictedFieldsPermissions,
} from '../../../../twenty-shared/types';
import { isDefined, isNonEmptyArray } from '../../../../twenty-shared/utils';
import {
  ProcessNestedRelationsHelper,
  QUERY_MAX_RECORDS_FROM_RELATION,
} from '../../../../engine/api/common/process-nested-relations.helper';
import { type SerializableAuthContext } from '../../../../engine/core-modules/auth/types/auth-context.type';
import {
  type FlatEntityMaps,
  type FlatFieldMetadata,
  type FlatObjectMetadata,
  type FlatRowLevelPermissionPredicateGroupMaps,
  type FlatRowLevelPermissionPredicateMaps,
  type FlatWorkspaceMemberMaps,
} from '../../../../engine/metadata-modules/flat-entity.types';
import { EventStreamService } from '../../../../engine/subscriptions/event-stream.service';
import { SubscriptionService } from '../../../../engine/subscriptions/subscription.service';
import { type EventStreamData } from '../../../../engine/subscriptions/types/event-stream-data.type';
import { type ObjectRecordSubscriptionEvent } from '../../../../engine/subscriptions/types/object-record-subscription-event.type';
import { WorkspaceCacheService } from '../../../../engine/workspace-cache/workspace-cache.service';
import { type WorkspaceEventBatch } from '../../../../engine/workspace-event-emitter/types/workspace-event-batch.type';
import { publishBatchToLegacyChannel } from '../../../../engine/workspace-event-emitter/utils/publish-batch-to-legacy-channel.util';
import { matchBatchEventsForStream } from '../../../../engine/workspace-event-emitter/utils/match-batch-events-for-stream.util';
import {
  buildSubscriberRowLevelPermissionFilter,
  filterRestrictedFieldsFromSubscriptionEvent,
  isQueryMatchingEventOnCombinedFilter,
} from '../../../../engine/workspace-event-emitter/utils/stream-event-permissions.util';

export type MetadataEvent = {
  type: 'created' | 'updated' | 'deleted';
  metadataName: string;
  recordId: string;
  properties: { before?: Record<string, unknown>; after?: Record<string, unknown> };
};

export type MetadataEventBatch = {
  name: string;
  workspaceId: string;
  metadataName: string;
  events: MetadataEvent[];
};

export type EventStreamPayload = {
  objectRecordEventsWithQueryIds: {
    queryIds: string[];
    objectRecordEvent: ObjectRecordSubscriptionEvent;
  }[];
  metadataEventsWithQueryIds: { queryIds: string[]; metadataEvent: MetadataEvent }[];
};

type PermissionsContext = {
  flatRowLevelPermissionPredicateMaps: FlatRowLevelPermissionPredicateMaps;
  flatRowLevelPermissionPredicateGroupMaps: FlatRowLevelPermissionPredicateGroupMaps;
  flatFieldMetadataMaps: FlatEntityMaps<FlatFieldMetadata>;
  userWorkspaceRoleMap: Record<string, string>;
  rolesPermissions: ObjectsPermissionsByRoleId;
};

// V8 (commit ed3f6079 shape): object-record and metadata streams, nested
// relation enrichment before publish (its errors are not caught: D10).
@Injectable()
export class WorkspaceEventEmitterService {
  constructor(
    private readonly subscriptionService: SubscriptionService,
    private readonly eventStreamService: EventStreamService,
    private readonly workspaceCacheService: WorkspaceCacheService,
    private readonly processNestedRelationsHelper: ProcessNestedRelationsHelper,
    private readonly groundTruth: GroundTruth,
  ) {}

  async publish(eventBatch: WorkspaceEventBatch<ObjectRecordEvent> | MetadataEventBatch): Promise<void> {
    if (!this.isMetadataEventBatch(eventBatch)) {
      await this.publishToLegacyChannel(eventBatch);
    }

    await this.publishToEventStreams(eventBatch);
  }

  private isMetadataEventBatch(
    eventBatch: WorkspaceEventBatch<ObjectRecordEvent> | MetadataEventBatch,
  ): eventBatch is MetadataEventBatch {
    return 'metadataName' in eventBatch;
  }

  private async publishToLegacyChannel(eventBatch: WorkspaceEventBatch<ObjectRecordEvent>): Promise<void> {
    await publishBatchToLegacyChannel(this.subscriptionService, eventBatch);
  }

  private async publishToEventStreams(
    eventBatch: WorkspaceEventBatch<ObjectRecordEvent> | MetadataEventBatch,
  ): Promise<void> {
    const workspaceId = eventBatch.workspaceId;
    const isMetadata = this.isMetadataEventBatch(eventBatch);

    const activeStreamIds = await this.eventStreamService.getActiveStreamIds(workspaceId);

    if (activeStreamIds.length === 0) {
      this.groundTruth.fanoutDrop(eventBatch);
      return;
    }

    const streamsData = await this.eventStreamService.getStreamsData(workspaceId, activeStreamIds);

    const streamIdsToRemove: string[] = [];

    const objectRecordStreamContext = !isMetadata ? await this.fetchObjectRecordStreamContext(workspaceId) : undefined;

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

      if (isMetadata) {
        await this.processMetadataStreamEvents(streamChannelId, streamData, eventBatch as MetadataEventBatch);
      } else {
        if (!isDefined(objectRecordStreamContext)) {
          continue;
        }

        await this.processObjectRecordStreamEvents(
          streamChannelId,
          streamData,
          eventBatch as WorkspaceEventBatch<ObjectRecordEvent>,
          objectRecordStreamContext.permissionsContext,
          objectRecordStreamContext.flatWorkspaceMemberMaps,
        );
      }
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

  private async processMetadataStreamEvents(
    streamChannelId: string,
    streamData: EventStreamData,
    metadataEventBatch: MetadataEventBatch,
  ): Promise<void> {
    const metadataEventsWithQueryIds: EventStreamPayload['metadataEventsWithQueryIds'] = [];

    for (const metadataEvent of metadataEventBatch.events) {
      const matchedQueryIds = this.getMatchingMetadataQueryIds(streamData.queries, metadataEvent);

      if (!isNonEmptyArray(matchedQueryIds)) {
        continue;
      }

      metadataEventsWithQueryIds.push({ queryIds: matchedQueryIds, metadataEvent });
    }

    if (!isNonEmptyArray(metadataEventsWithQueryIds)) {
      return;
    }

    const payload: EventStreamPayload = {
      objectRecordEventsWithQueryIds: [],
      metadataEventsWithQueryIds,
    };

    await this.subscriptionService.publishToEventStream({
      workspaceId: metadataEventBatch.workspaceId,
      eventStreamChannelId: streamChannelId,
      payload,
    });
  }

  private getMatchingMetadataQueryIds(
    queries: Record<string, RecordOrMetadataGqlOperationSignature>,
    metadataEvent: MetadataEvent,
  ): string[] {
    return Object.entries(queries)
      .filter(
        ([, operationSignature]) =>
          isMetadataGqlOperationSignature(operationSignature) &&
          operationSignature.metadataName === metadataEvent.metadataName,
      )
      .map(([queryId]) => queryId);
  }

  private async processObjectRecordStreamEvents(
    streamChannelId: string,
    streamData: EventStreamData,
    workspaceEventBatch: WorkspaceEventBatch<ObjectRecordEvent>,
    permissionsContext: PermissionsContext,
    flatWorkspaceMemberMaps: FlatWorkspaceMemberMaps,
  ): Promise<void> {
    const { userWorkspaceId } = streamData.authContext;

    if (!isDefined(userWorkspaceId)) {
      this.groundTruth.streamDrop('D4', workspaceEventBatch, streamChannelId);
      return;
    }

    const roleId = permissionsContext.userWorkspaceRoleMap[userWorkspaceId];

    if (!isDefined(roleId)) {
      this.groundTruth.streamDrop('D5', workspaceEventBatch, streamChannelId);
      return;
    }

    const objectPermissions = permissionsContext.rolesPermissions[roleId]?.[workspaceEventBatch.objectMetadata.id];

    if (!objectPermissions?.canReadObjectRecords) {
      this.groundTruth.streamDrop('D6', workspaceEventBatch, streamChannelId);
      return;
    }

    const subscriberRLSFilter = await this.buildSubscriberRLSFilter(
      streamData.authContext,
      roleId,
      workspaceEventBatch.objectMetadata,
      permissionsContext,
      flatWorkspaceMemberMaps,
    );

    const restrictedFields = objectPermissions.restrictedFields;

    const matchedEvents: EventStreamPayload['objectRecordEventsWithQueryIds'] = matchBatchEventsForStream({
      workspaceEventBatch,
      streamChannelId,
      groundTruth: this.groundTruth,
      filterRestrictedFields: (event) =>
        this.filterRestrictedFieldsFromEvent(event, restrictedFields, permissionsContext.flatFieldMetadataMaps),
      getMatchingQueryIds: (filteredEvent) =>
        this.getMatchingObjectRecordQueryIds(
          streamData.queries,
          filteredEvent,
          subscriberRLSFilter,
          workspaceEventBatch.objectMetadata,
          permissionsContext.flatFieldMetadataMaps,
        ),
      toMatchedEvent: (queryIds, objectRecordEvent) => ({ queryIds, objectRecordEvent }),
    });

    if (matchedEvents.length > 0) {
      await this.enrichEventBatchWithNestedRelations({
        objectMetadata: workspaceEventBatch.objectMetadata,
        events: matchedEvents.map((matchedEvent) => matchedEvent.objectRecordEvent),
        streamData,
        permissionsContext,
        workspaceId: workspaceEventBatch.workspaceId,
        roleId,
      }).catch(
        this.groundTruth.rethrowAsFailed(
          workspaceEventBatch,
          streamChannelId,
          matchedEvents.map(({ objectRecordEvent }) => objectRecordEvent),
        ),
      );

      const payload: EventStreamPayload = {
        objectRecordEventsWithQueryIds: matchedEvents,
        metadataEventsWithQueryIds: [],
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
    roleId: string;
    permissionsContext: PermissionsContext;
  }) {
    const allRecords = events.flatMap((event) => [event.properties.before, event.properties.after].filter(isDefined));

    await this.processNestedRelationsHelper.processNestedRelations({
      parentObjectMetadataItem: objectMetadata,
      parentObjectRecords: allRecords,
      authContext: streamData.authContext,
      limit: QUERY_MAX_RECORDS_FROM_RELATION,
    });
  }

  private async buildSubscriberRLSFilter(
    subscriberAuthContext: SerializableAuthContext,
    roleId: string,
    objectMetadata: FlatObjectMetadata,
    permissionsContext: PermissionsContext,
    flatWorkspaceMemberMaps: FlatWorkspaceMemberMaps,
  ): Promise<RecordGqlOperationFilter | null> {
    return buildSubscriberRowLevelPermissionFilter({
      subscriberAuthContext,
      roleIds: [roleId],
      objectMetadata,
      permissionsContext,
      flatWorkspaceMemberMaps,
    });
  }

  private filterRestrictedFieldsFromEvent(
    event: ObjectRecordSubscriptionEvent,
    restrictedFields: RestrictedFieldsPermissions | undefined,
    flatFieldMetadataMaps: FlatEntityMaps<FlatFieldMetadata>,
  ): ObjectRecordSubscriptionEvent {
    return filterRestrictedFieldsFromSubscriptionEvent(event, restrictedFields, flatFieldMetadataMaps);
  }

  private getMatchingObjectRecordQueryIds(
    queries: Record<string, RecordOrMetadataGqlOperationSignature>,
    event: ObjectRecordSubscriptionEvent,
    subscriberRLSFilter: RecordGqlOperationFilter | null,
    objectMetadata: FlatObjectMetadata,
    flatFieldMetadataMaps: FlatEntityMaps<FlatFieldMetadata>,
  ): string[] {
    const matchedQueryIds: string[] = [];

    for (const [queryId, operationSignature] of Object.entries(queries)) {
      if (!isRecordGqlOperationSignature(operationSignature)) {
        continue;
      }

      if (
        this.isQueryMatchingObjectRecordEvent(
          operationSignature,
          event,
          subscriberRLSFilter,
          objectMetadata,
          flatFieldMetadataMaps,
        )
      ) {
        matchedQueryIds.push(queryId);
      }
    }

    return matchedQueryIds;
  }

  private isQueryMatchingObjectRecordEvent(
    operationSignature: RecordGqlOperationSignature,
    event: ObjectRecordSubscriptionEvent,
    subscriberRLSFilter: RecordGqlOperationFilter | null,
    objectMetadata: FlatObjectMetadata,
    flatFieldMetadataMaps: FlatEntityMaps<FlatFieldMetadata>,
  ): boolean {
    return isQueryMatchingEventOnCombinedFilter({
      operationSignature,
      event,
      subscriberRLSFilter,
      objectMetadata,
      flatFieldMetadataMaps,
    });
  }

  private async fetchPermissionsContext(workspaceId: string): Promise<PermissionsContext> {
    return this.workspaceCacheService.getOrRecompute(workspaceId, [
      'flatRowLevelPermissionPredicateMaps',
      'flatRowLevelPermissionPredicateGroupMaps',
      'flatFieldMetadataMaps',
      'userWorkspaceRoleMap',
      'rolesPermissions',
    ]);
  }
}
