import { type ObjectRecordEvent } from '../../../twenty-shared/database-events';
import { transformEventToWebhookEvent } from '../../metadata-modules/webhook/transform-event-to-webhook-event';
import { SubscriptionChannel } from '../../subscriptions/enums/subscription-channel.enum';
import { type SubscriptionService } from '../../subscriptions/subscription.service';
import { type WorkspaceEventBatch } from '../types/workspace-event-batch.type';

// The legacy onDbEvent channel, one publish per event, unchanged from v1 to the
// last generation that has it. Each generation calls it from its own method
// (v1/v5: inside publish, v8: publishToLegacyChannel); the publish goes through
// SubscriptionService.publish on the service the generation was given.
export const publishBatchToLegacyChannel = async (
  subscriptionService: SubscriptionService,
  workspaceEventBatch: WorkspaceEventBatch<ObjectRecordEvent>,
): Promise<void> => {
  const [nameSingular, operation] = workspaceEventBatch.name.split('.');

  for (const eventData of workspaceEventBatch.events) {
    const { record, updatedFields } = transformEventToWebhookEvent({
      eventName: workspaceEventBatch.name,
      event: eventData,
    });

    await subscriptionService.publish({
      channel: SubscriptionChannel.DATABASE_EVENT_CHANNEL,
      workspaceId: workspaceEventBatch.workspaceId,
      payload: {
        onDbEvent: {
          action: operation,
          objectNameSingular: nameSingular,
          eventDate: new Date(),
          record,
          ...(updatedFields && { updatedFields }),
        },
      },
    });
  }
};
