import { Inject, Injectable, type Type } from '@nestjs/common';

import { type ObjectRecordEvent } from '../../../../../twenty-shared/database-events';
import { InjectMessageQueue } from '../../../../core-modules/message-queue/decorators/message-queue.decorator';
import { MessageQueue } from '../../../../core-modules/message-queue/message-queue.constants';
import { type MessageQueueService } from '../../../../core-modules/message-queue/services/message-queue.service';
import { type WorkspaceEventBatch } from '../../../../workspace-event-emitter/types/workspace-event-batch.type';
import { OnDatabaseBatchEvent } from '../../graphql-query-runner/decorators/on-database-batch-event.decorator';
import { DatabaseEventAction } from '../../graphql-query-runner/enums/database-event-action';

type WorkspaceEventEmitterServiceLike = {
  publish(batch: WorkspaceEventBatch<ObjectRecordEvent>): Promise<void>;
};

// The SSE-era listener before PR #18740 (V1-V9): it hands each batch to the
// generation's WorkspaceEventEmitterService. There is no '*.upserted' handler.
export const createEntityEventsToDbListener = (
  workspaceEventEmitterServiceClass: Type<WorkspaceEventEmitterServiceLike>,
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
      @Inject(workspaceEventEmitterServiceClass)
      private readonly workspaceEventEmitterService: WorkspaceEventEmitterServiceLike,
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
      const isAuditLogBatchEvent = batchEvent.objectMetadata?.isAuditLogged;

      const batchEventForWebhook = {
        ...batchEvent,
        objectMetadata: {
          id: batchEvent.objectMetadata.id,
          nameSingular: batchEvent.objectMetadata.nameSingular,
        },
      };

      const promises: Promise<unknown>[] = [
        this.workspaceEventEmitterService.publish(batchEvent),
        this.webhookQueueService.add('CallWebhookJobsJob', batchEventForWebhook, {
          retryLimit: 3,
        }),
        this.triggerQueueService.add('CallDatabaseEventTriggerJobsJob', batchEvent, {
          retryLimit: 3,
        }),
      ];

      if (isAuditLogBatchEvent) {
        promises.push(this.entityEventsToDbQueueService.add('CreateAuditLogFromInternalEvent', batchEvent));

        if (action !== DatabaseEventAction.DESTROYED) {
          promises.push(this.entityEventsToDbQueueService.add('UpsertTimelineActivityFromInternalEvent', batchEvent));
        }
      }

      await Promise.all(promises);
    }
  }

  return EntityEventsToDbListener;
};
