import { type ObjectRecordEvent } from '../../../twenty-shared/database-events';

// The legacy onDbEvent message carries the record and, for updates, updatedFields.
export const transformEventToWebhookEvent = ({
  event,
}: {
  eventName: string;
  event: ObjectRecordEvent;
}): { record: Record<string, unknown> | undefined; updatedFields?: string[] } => ({
  record: event.properties.after ?? event.properties.before,
  ...(event.properties.updatedFields && { updatedFields: event.properties.updatedFields }),
});
