import { StreamObservation } from '../../engine/model';
import {
  EMIT_LISTEN_TARGETS,
  EVENT_STREAM_SERVICE,
  lastMileTargets,
  subscriptionService,
  WORKFLOW_TARGETS,
} from '../common-targets';
import { GenerationModule } from '../generation';
import { classifyFanout, classifyFilterMatchStream, PROBES, subscriberGate } from '../rules';
import { readPositionalStreamCall } from '../stream-args';
import { fanoutRules, rule, SERVICE, SERVICE_FANOUT, serviceStream, serviceTarget } from './legacy-service';

const streamAt = serviceStream('processStreamEvents');

/**
 * V1: the oldest WorkspaceEventEmitterService with event streams. No
 * permission checks; EventStreamService.matchQueriesWithEvent compares only
 * the object name, and an empty query map reaches it (no inline D3 check).
 */
export const V1: GenerationModule = {
  id: 'v1',
  title: 'WorkspaceEventEmitterService V1: processStreamEvents without permission checks',
  targets: [
    ...WORKFLOW_TARGETS,
    ...EMIT_LISTEN_TARGETS,
    serviceTarget(false),
    {
      ...EVENT_STREAM_SERVICE,
      methods: [
        ...EVENT_STREAM_SERVICE.methods,
        { names: ['matchQueriesWithEvent'], role: 'probe', probe: PROBES.matchedQueryIds },
      ],
    },
    subscriptionService(true),
    ...lastMileTargets('WorkspaceEventEmitterResolver'),
  ],
  fanoutAt: SERVICE_FANOUT,
  streamAt,
  dropRules: [
    ...fanoutRules(SERVICE_FANOUT),
    rule('D3', 'stream_without_queries', streamAt),
    rule('D8', 'no_matching_query', streamAt),
  ],
  detect(methodsOf) {
    const service = methodsOf(SERVICE);
    return (
      !!service?.has('processStreamEvents') &&
      !service.has('fetchPermissionsContext') &&
      !service.has('filterRestrictedFieldsFromEvent')
    );
  },
  readStreamCall: readPositionalStreamCall,
  classifyStream: (observation: StreamObservation) =>
    classifyFilterMatchStream(observation, { filters: false, gate: subscriberGate }),
  classifyFanout,
};
