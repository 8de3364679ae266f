import { createEntityEventsToDbListener } from '../../engine/api/graphql/workspace-query-runner/listeners/entity-events-to-db.listener';
import { EventStreamService } from '../../engine/subscriptions/event-stream.service';
import { createWorkspaceEventEmitterResolver } from '../../engine/workspace-event-emitter/workspace-event-emitter.resolver';
import { type GenerationParts } from '../generation-parts.type';

import { WorkspaceEventEmitterService } from './engine/workspace-event-emitter/workspace-event-emitter.service';

export const generationParts: GenerationParts = {
  generation: 'v5',
  eventStreamServiceClass: EventStreamService,
  publisherProviders: [WorkspaceEventEmitterService],
  entityEventsToDbListener: createEntityEventsToDbListener(WorkspaceEventEmitterService),
  eventStreamResolver: createWorkspaceEventEmitterResolver({
    eventStreamServiceClass: EventStreamService,
    yieldsInitialValue: true,
  }),
};
