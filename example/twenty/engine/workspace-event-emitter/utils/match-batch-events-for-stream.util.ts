import { type GroundTruth } from '../../../../app/ground-truth';
import { type ObjectRecordEvent } from '../../../twenty-shared/database-events';
import { isDefined } from '../../../twenty-shared/utils';
import { type ObjectRecordSubscriptionEvent } from '../../subscriptions/types/object-record-subscription-event.type';
import { type WorkspaceEventBatch } from '../types/workspace-event-batch.type';
import { parseEventNameOrThrow } from './parse-event-name';

// The per-event part of one stream's processing, every generation: filter
// restricted fields where the generation has it (D7 when an update is left with
// no readable changed field), the record-share gate where it exists (D7b), then
// query matching (D8; v1, which has no inline D3 check, reaches matching with an
// empty query map and drops there). The helpers are the generation's own
// methods, passed as callbacks so Twenty's method names stay where they are.
export const matchBatchEventsForStream = <Matched>({
  workspaceEventBatch,
  streamChannelId,
  groundTruth,
  filterRestrictedFields,
  isHiddenByRecordSharing,
  getMatchingQueryIds,
  toMatchedEvent,
  noMatchDropCode = 'D8',
}: {
  workspaceEventBatch: WorkspaceEventBatch<ObjectRecordEvent>;
  streamChannelId: string;
  groundTruth: GroundTruth;
  filterRestrictedFields?: (event: ObjectRecordSubscriptionEvent) => ObjectRecordSubscriptionEvent;
  isHiddenByRecordSharing?: (filteredEvent: ObjectRecordSubscriptionEvent) => boolean;
  getMatchingQueryIds: (filteredEvent: ObjectRecordSubscriptionEvent) => string[];
  toMatchedEvent: (queryIds: string[], filteredEvent: ObjectRecordSubscriptionEvent) => Matched;
  noMatchDropCode?: 'D3' | 'D8';
}): Matched[] => {
  const matchedEvents: Matched[] = [];
  const objectNameSingular = workspaceEventBatch.objectMetadata.nameSingular;

  for (const event of workspaceEventBatch.events) {
    const { action } = parseEventNameOrThrow(workspaceEventBatch.name);

    const eventWithObjectName: ObjectRecordSubscriptionEvent = {
      action,
      objectNameSingular,
      ...event,
    };

    const filteredEvent = filterRestrictedFields ? filterRestrictedFields(eventWithObjectName) : eventWithObjectName;

    const filteredProperties = filteredEvent.properties as { updatedFields?: string[] };

    if (
      filterRestrictedFields &&
      isDefined(filteredProperties.updatedFields) &&
      filteredProperties.updatedFields.length === 0
    ) {
      groundTruth.eventDrop('D7', workspaceEventBatch, streamChannelId, event);
      continue;
    }

    if (isHiddenByRecordSharing?.(filteredEvent)) {
      groundTruth.eventDrop('D7b', workspaceEventBatch, streamChannelId, event);
      continue;
    }

    const matchedQueryIds = getMatchingQueryIds(filteredEvent);

    if (matchedQueryIds.length === 0) {
      groundTruth.eventDrop(noMatchDropCode, workspaceEventBatch, streamChannelId, event);
      continue;
    }

    matchedEvents.push(toMatchedEvent(matchedQueryIds, filteredEvent));
  }

  return matchedEvents;
};
