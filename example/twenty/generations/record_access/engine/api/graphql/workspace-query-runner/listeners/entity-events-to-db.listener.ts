import { Inject, Injectable, type Type } from '@nestjs/common';

import { type ObjectRecordEvent } from '../../../../../../../twenty-shared/database-events';
import { OnDatabaseBatchEvent } from '../../../../../../../engine/api/graphql/graphql-query-runner/decorators/on-database-batch-event.decorator';
import { DatabaseEventAction } from '../../../../../../../engine/api/graphql/graphql-query-runner/enums/database-event-action';
import { InjectMessageQueue } from '../../../../../../../engine/core-modules/message-queue/decorators/message-queue.decorator';
import { MessageQueue } from '../../../../../../../engine/core-modules/message-queue/message-queue.constants';
import { type MessageQueueService } from '../../../../../../../engine/core-modules/message-queue/services/message-queue.service';
import { STANDARD_OBJECT_IDS } from '../../../../../../../engine/metadata-modules/flat-entity.types';
import { WorkspaceCacheService } from '../../../../../../../engine/workspace-cache/workspace-cache.service';
import { type WorkspaceEventBatch } from '../../../../../../../engine/workspace-event-emitter/types/workspace-event-batch.type';
import { TimelineActivityRoutingPlanService } from '../../../../../../../modules/timeline/services/timeline-activity-routing-plan.service';

type ObjectRecordEventPublisherLike = { publish(batch: WorkspaceEventBatch<ObjectRecordEvent>): Promise<void> };

// The September 2026 listener (both record-access forms): before its Promise.all it
// awaits the timeline routing plan and the workspace cache; if either throws,
// publish is never called for the batch.
export const createAwaitingEntityEventsToDbListener = (
  publisherClass: Type<ObjectRecordEventPublisherLike>,
): Type<unknown> => {
  @Injectable()
  class EntityEventsToDbListener {
    constructor(
      @InjectMessageQueue(MessageQueue.entityEventsToDbQueue)
      private readonly entityEventsToDbQueueService: MessageQueueService,
      @InjectMessageQueue(MessageQueue.webhookQueue)
      private readonly webhookQueueService: MessageQueueService,
      @InjectMessageQueue(MessageQueue.triggerQueue)
      private readonly triggerQueueService: MessageQueueService,
      @Inject(publisherClass)
      private readonly objectRecordEventPublisher: ObjectRecordEventPublisherLike,
      private readonly timelineActivityRoutingPlanService: TimelineActivityRoutingPlanService,
      private readonly workspaceCacheService: WorkspaceCacheService,
    ) {}

    @OnDatabaseBatchEvent('*', DatabaseEventAction.CREATED)
    async handleCreate(batchEvent: WorkspaceEventBatch<ObjectRecordEvent>) {
      return this.handleEvent(batchEvent, DatabaseEventAction.CREATED);
    }

    @OnDatabaseBatchEvent('*', DatabaseEventAction.UPDATED)
    async handleUpdate(batchEvent: WorkspaceEventBatch<ObjectRecordEvent>) {
      return this.handleEvent(batchEvent, DatabaseEventAction.UPDATED);
    }

    @OnDatabaseBatchEvent('*', DatabaseEventAction.DELETED)
    async handleDelete(batchEvent: WorkspaceEventBatch<ObjectRecordEvent>) {
      return this.handleEvent(batchEvent, DatabaseEventAction.DELETED);
    }

    @OnDatabaseBatchEvent('*', DatabaseEventAction.RESTORED)
    async handleRestore(batchEvent: WorkspaceEventBatch<ObjectRecordEvent>) {
      return this.handleEvent(batchEvent, DatabaseEventAction.RESTORED);
    }

    @OnDatabaseBatchEvent('*', DatabaseEventAction.DESTROYED)
    async handleDestroy(batchEvent: WorkspaceEventBatch<ObjectRecordEvent>) {
      return this.handleEvent(batchEvent, DatabaseEventAction.DESTROYED);
    }

    private async handleEvent(batchEvent: WorkspaceEventBatch<ObjectRecordEvent>, action: DatabaseEventAction) {
      if (batchEvent.objectMetadata.standardId === STANDARD_OBJECT_IDS.timelineActivity) {
        await this.objectRecordEventPublisher.publish(batchEvent);

        return;
      }

      const isAuditLogBatchEvent = batchEvent.objectMetadata?.isAuditLogged;
      const shouldCreateTimelineActivity =
        action !== DatabaseEventAction.DESTROYED &&
        (await this.timelineActivityRoutingPlanService.shouldProcessEvent({
          flatObjectMetadata: batchEvent.objectMetadata,
          workspaceId: batchEvent.workspaceId,
        }));

      const batchEventForWebhook = {
        ...batchEvent,
        objectMetadata: { id: batchEvent.objectMetadata.id, nameSingular: batchEvent.objectMetadata.nameSingular },
      };

      const { flatWebhookMaps, flatLogicFunctionMaps } = await this.workspaceCacheService.getOrRecompute(
        batchEvent.workspaceId,
        ['flatWebhookMaps', 'flatLogicFunctionMaps'],
      );

      const promises: Promise<unknown>[] = [this.objectRecordEventPublisher.publish(batchEvent)];

      // only enqueue what something consumes
      if (Object.keys(flatWebhookMaps.byId).length > 0) {
        promises.push(this.webhookQueueService.add('CallWebhookJobsJob', batchEventForWebhook, { retryLimit: 3 }));
      }
      if (Object.keys(flatLogicFunctionMaps.byId).length > 0) {
        promises.push(this.triggerQueueService.add('CallDatabaseEventTriggerJobsJob', batchEvent, { retryLimit: 3 }));
      }
      if (shouldCreateTimelineActivity) {
        promises.push(this.entityEventsToDbQueueService.add('UpsertTimelineActivityFromInternalEvent', batchEvent));
      }
      if (isAuditLogBatchEvent && action !== DatabaseEventAction.DESTROYED) {
        promises.push(this.entityEventsToDbQueueService.add('CreateEventLogFromInternalEvent', batchEvent));
      }

      await Promise.all(promises);
    }
  }

  return EntityEventsToDbListener;
};
