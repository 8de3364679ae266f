import { Injectable } from '@nestjs/common';

import { GroundTruth } from '../../../../../app/ground-truth';
import { type ObjectRecordEvent } from '../../../../twenty-shared/database-events';
import {
  type ObjectsPermissionsByRoleId,
  type RecordGqlOperationFilter,
  type RecordOrMetadataGqlOperationSignature,
  type RestrictedFieldsPermissions,
} from '../../../../twenty-shared/types';
import { isDefined } from '../../../../twenty-shared/utils';
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

type PermissionsContext = {
  flatRowLevelPermissionPredicateMaps: FlatRowLevelPermissionPredicateMaps;
  flatRowLevelPermissionPredicateGroupMaps: FlatRowLevelPermissionPredicateGroupMaps;
  flatFieldMetadataMaps: FlatEntityMaps<FlatFieldMetadata>;
  userWorkspaceRoleMap: Record<string, string>;
  rolesPermissions: ObjectsPermissionsByRoleId;
};

// V5: PR #17201's permission checks with silent early returns; an update that moves a record out of a
// table's filter is matched on `after` only, so it is not delivered.
@Injectable()
export class WorkspaceEventEmitterService {
  constructor(
    private readonly subscriptionService: SubscriptionService,
    private readonly eventStreamService: EventStreamService,
    private readonly workspaceCacheService: WorkspaceCacheService,
    private readonly groundTruth: GroundTruth,
  ) {}

  async publish(workspaceEventBatch: WorkspaceEventBatch<ObjectRecordEvent>): Promise<void> {
    // Publish individual events to legacy channel (onDbEvent)
    await publishBatchToLegacyChannel(this.subscriptionService, workspaceEventBatch);

    await this.publishToEventStreams(workspaceEventBatch);
  }

  private async publishToEventStreams(workspaceEventBatch: WorkspaceEventBatch<ObjectRecordEvent>): Promise<void> {
    const workspaceId = workspaceEventBatch.workspaceId;

    const activeStreamIds = await this.eventStreamService.getActiveStreamIds(workspaceId);

    if (activeStreamIds.length === 0) {
      this.groundTruth.fanoutDrop(workspaceEventBatch);
      return;
    }

    const streamsData = await this.eventStreamService.getStreamsData(workspaceId, activeStreamIds);

    const permissionsContext = await this.fetchPermissionsContext(workspaceId);

    const { flatWorkspaceMemberMaps } = await this.workspaceCacheService.getOrRecompute(workspaceId, [
      'flatWorkspaceMemberMaps',
    ]);

    const streamIdsToRemove: string[] = [];

    for (const [streamChannelId, streamData] of streamsData) {
      if (!isDefined(streamData)) {
        streamIdsToRemove.push(streamChannelId);
        this.groundTruth.streamDrop('D2', workspaceEventBatch, streamChannelId);
        continue;
      }

      if (Object.keys(streamData.queries).length === 0) {
        this.groundTruth.streamDrop('D3', workspaceEventBatch, streamChannelId);
        continue;
      }

      await this.processStreamEvents(
        streamChannelId,
        streamData,
        workspaceEventBatch,
        permissionsContext,
        flatWorkspaceMemberMaps,
      );
    }

    await this.eventStreamService.removeFromActiveStreams(workspaceId, streamIdsToRemove);
  }

  private async processStreamEvents(
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

    const subscriberRLSFilter = this.buildSubscriberRLSFilter(
      streamData.authContext,
      roleId,
      workspaceEventBatch.objectMetadata,
      permissionsContext,
      flatWorkspaceMemberMaps,
    );

    const restrictedFields = objectPermissions.restrictedFields;

    const matchedEvents = matchBatchEventsForStream({
      workspaceEventBatch,
      streamChannelId,
      groundTruth: this.groundTruth,
      filterRestrictedFields: (event) =>
        this.filterRestrictedFieldsFromEvent(event, restrictedFields, permissionsContext.flatFieldMetadataMaps),
      getMatchingQueryIds: (filteredEvent) =>
        this.getMatchingQueryIds(
          streamData.queries,
          filteredEvent,
          subscriberRLSFilter,
          workspaceEventBatch.objectMetadata,
          permissionsContext.flatFieldMetadataMaps,
        ),
      toMatchedEvent: (queryIds, event) => ({ queryIds, event }),
    });

    if (matchedEvents.length > 0) {
      this.groundTruth.forwarded(
        workspaceEventBatch,
        streamChannelId,
        matchedEvents.map(({ event }) => event),
      );
      await this.subscriptionService.publishToEventStream({
        workspaceId: workspaceEventBatch.workspaceId,
        eventStreamChannelId: streamChannelId,
        payload: matchedEvents,
      });
    }
  }

  private buildSubscriberRLSFilter(
    subscriberAuthContext: SerializableAuthContext,
    roleId: string,
    objectMetadata: FlatObjectMetadata,
    permissionsContext: PermissionsContext,
    flatWorkspaceMemberMaps: FlatWorkspaceMemberMaps,
  ): RecordGqlOperationFilter | null {
    // The stream's auth context never holds workspaceMemberId here (D11).
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

  private getMatchingQueryIds(
    queries: Record<string, RecordOrMetadataGqlOperationSignature>,
    event: ObjectRecordSubscriptionEvent,
    subscriberRLSFilter: RecordGqlOperationFilter | null,
    objectMetadata: FlatObjectMetadata,
    flatFieldMetadataMaps: FlatEntityMaps<FlatFieldMetadata>,
  ): string[] {
    const matchedQueryIds: string[] = [];

    for (const [queryId, operationSignature] of Object.entries(queries)) {
      if (
        this.isQueryMatchingEvent(
          operationSignature as {
            objectNameSingular: string;
            variables?: { filter?: RecordGqlOperationFilter };
          },
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

  private isQueryMatchingEvent(
    operationSignature: {
      objectNameSingular: string;
      variables?: { filter?: RecordGqlOperationFilter };
    },
    event: ObjectRecordSubscriptionEvent,
    subscriberRLSFilter: RecordGqlOperationFilter | null,
    objectMetadata: FlatObjectMetadata,
    flatFieldMetadataMaps: FlatEntityMaps<FlatFieldMetadata>,
  ): boolean {
    // Only `after` is tested for updates: a record leaving the filter is not delivered.
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
