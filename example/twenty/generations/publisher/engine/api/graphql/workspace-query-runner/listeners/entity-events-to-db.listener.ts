import { Injectable } from '@nestjs/common';

import { type ObjectRecordEvent } from '../../../../../../../twenty-shared/database-events';
import { OnDatabaseBatchEvent } from '../../../../../../../engine/api/graphql/graphql-query-runner/decorators/on-database-batch-event.decorator';
import { DatabaseEventAction } from '../../../../../../../engine/api/graphql/graphql-query-runner/enums/database-event-action';
import { InjectMessageQueue } from '../../../../../../../engine/core-modules/message-queue/decorators/message-queue.decorator';
import { MessageQueue } from '../../../../../../../engine/core-modules/message-queue/message-queue.constants';
import { MessageQueueService } from '../../../../../../../engine/core-modules/message-queue/services/message-queue.service';
import { STANDARD_OBJECT_IDS } from '../../../../../../../engine/metadata-modules/flat-entity.types';
import { type WorkspaceEventBatch } from '../../../../../../../engine/workspace-event-emitter/types/workspace-event-batch.type';
import { ObjectRecordEventPublisher } from '../../../../subscriptions/object-record-event/object-record-event-publisher';

// The newest listener: it injects ObjectRecordEventPublisher.
@Injectable()
export class EntityEventsToDbListener {
  constructor(
    @InjectMessageQueue(MessageQueue.entityEventsToDbQueue)
    private readonly entityEventsToDbQueueService: MessageQueueService,
    @InjectMessageQueue(MessageQueue.webhookQueue)
    private readonly webhookQueueService: MessageQueueService,
    @InjectMessageQueue(MessageQueue.triggerQueue)
    private readonly triggerQueueService: MessageQueueService,
    private readonly objectRecordEventPublisher: ObjectRecordEventPublisher,
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

    const batchEventForWebhook = {
      ...batchEvent,
      objectMetadata: {
        id: batchEvent.objectMetadata.id,
        nameSingular: batchEvent.objectMetadata.nameSingular,
      },
    };

    const promises: Promise<unknown>[] = [
      this.objectRecordEventPublisher.publish(batchEvent),
      this.webhookQueueService.add('CallWebhookJobsJob', batchEventForWebhook, { retryLimit: 3 }),
      this.triggerQueueService.add('CallDatabaseEventTriggerJobsJob', batchEvent, {
        retryLimit: 3,
      }),
    ];

    if (isAuditLogBatchEvent && action !== DatabaseEventAction.DESTROYED) {
      promises.push(this.entityEventsToDbQueueService.add('CreateEventLogFromInternalEvent', batchEvent));
    }

    await Promise.all(promises);
  }
}
