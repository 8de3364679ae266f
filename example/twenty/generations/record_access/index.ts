import { createEventStreamResolver } from '../../engine/subscriptions/event-stream.resolver';
import { EventStreamService } from '../../engine/subscriptions/event-stream.service';
import { TimelineActivityRoutingPlanService } from '../../modules/timeline/services/timeline-activity-routing-plan.service';
import { EventSubscriptionDTO } from '../publisher/engine/subscriptions/dtos/event-subscription.dto';
import { createAwaitingEntityEventsToDbListener } from '../record_access/engine/api/graphql/workspace-query-runner/listeners/entity-events-to-db.listener';
import { type GenerationParts } from '../generation-parts.type';
import { WorkspaceEventEmitter } from '../record_access/engine/workspace-event-emitter/workspace-event-emitter';

import { RecordAccessPolicyService } from './engine/core-modules/record-share/services/record-access-policy.service';
import {
  type EventStreamPayload,
  ObjectRecordEventPublisher,
} from './engine/subscriptions/object-record-event/object-record-event-publisher';

export const generationParts: GenerationParts = {
  generation: 'record_access',
  eventStreamServiceClass: EventStreamService,
  publisherProviders: [ObjectRecordEventPublisher, RecordAccessPolicyService, TimelineActivityRoutingPlanService],
  entityEventsToDbListener: createAwaitingEntityEventsToDbListener(ObjectRecordEventPublisher),
  workspaceEventEmitterClass: WorkspaceEventEmitter,
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
