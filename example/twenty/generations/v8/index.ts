import { createEntityEventsToDbListener } from '../../engine/api/graphql/workspace-query-runner/listeners/entity-events-to-db.listener';
import { createEventStreamResolver } from '../../engine/subscriptions/event-stream.resolver';
import { EventStreamService } from '../../engine/subscriptions/event-stream.service';
import { type GenerationParts } from '../generation-parts.type';

import { EventSubscriptionDTO } from './engine/subscriptions/dtos/event-subscription.dto';
import {
  type EventStreamPayload,
  WorkspaceEventEmitterService,
} from './engine/workspace-event-emitter/workspace-event-emitter.service';

export const generationParts: GenerationParts = {
  generation: 'v8',
  eventStreamServiceClass: EventStreamService,
  publisherProviders: [WorkspaceEventEmitterService],
  entityEventsToDbListener: createEntityEventsToDbListener(WorkspaceEventEmitterService),
  eventStreamResolver: createEventStreamResolver<EventStreamPayload>({
    eventSubscriptionDTO: EventSubscriptionDTO,
    initialValue: { objectRecordEventsWithQueryIds: [], metadataEventsWithQueryIds: [] },
    resolve: (payload, variables) => ({
      eventStreamId: variables.eventStreamId,
      objectRecordEventsWithQueryIds: payload.objectRecordEventsWithQueryIds,
      metadataEventsWithQueryIds: payload.metadataEventsWithQueryIds,
    }),
  }),
};
