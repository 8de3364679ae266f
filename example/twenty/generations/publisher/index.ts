import { createEventStreamResolver } from '../../engine/subscriptions/event-stream.resolver';
import { EventStreamService } from '../../engine/subscriptions/event-stream.service';
import { type GenerationParts } from '../generation-parts.type';

import { EntityEventsToDbListener } from './engine/api/graphql/workspace-query-runner/listeners/entity-events-to-db.listener';
import { EventSubscriptionDTO } from './engine/subscriptions/dtos/event-subscription.dto';
import {
  type EventStreamPayload,
  ObjectRecordEventPublisher,
} from './engine/subscriptions/object-record-event/object-record-event-publisher';

export const generationParts: GenerationParts = {
  generation: 'publisher',
  eventStreamServiceClass: EventStreamService,
  publisherProviders: [ObjectRecordEventPublisher],
  entityEventsToDbListener: EntityEventsToDbListener,
  eventStreamResolver: createEventStreamResolver<EventStreamPayload>({
    eventSubscriptionDTO: EventSubscriptionDTO,
    initialValue: { objectRecordEventsWithQueryIds: [], metadataEvents: [] },
    resolve: (payload, variables) => ({
      eventStreamId: variables.eventStreamId,
      objectRecordEventsWithQueryIds: payload.objectRecordEventsWithQueryIds,
      metadataEvents: payload.metadataEvents,
    }),
  }),
};
