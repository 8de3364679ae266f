import { StreamObservation } from '../../engine/model';
import {
  EMIT_LISTEN_TARGETS,
  EVENT_STREAM_SERVICE,
  lastMileTargets,
  subscriptionService,
  WORKFLOW_TARGETS,
} from '../common-targets';
import { GenerationModule } from '../generation';
import { classifyFanout, classifyFilterMatchStream, subscriberGate } from '../rules';
import { readPositionalStreamCall } from '../stream-args';
import {
  fanoutRules,
  SERVICE,
  SERVICE_FANOUT,
  serviceStream,
  serviceTarget,
  subscriberStreamRules,
} from './legacy-service';

const streamAt = serviceStream('processObjectRecordStreamEvents');

/**
 * V8-V9: processObjectRecordStreamEvents with positional arguments, metadata
 * streams beside record streams, nested-relation enrichment (an error there
 * fails the stream and skips the remaining ones, D10).
 */
export const V8: GenerationModule = {
  id: 'v8',
  title: 'WorkspaceEventEmitterService V8: processObjectRecordStreamEvents, positional arguments, metadata streams',
  targets: [
    ...WORKFLOW_TARGETS,
    ...EMIT_LISTEN_TARGETS,
    serviceTarget(true),
    EVENT_STREAM_SERVICE,
    subscriptionService(true),
    ...lastMileTargets('EventStreamResolver'),
  ],
  fanoutAt: SERVICE_FANOUT,
  streamAt,
  dropRules: [...fanoutRules(SERVICE_FANOUT), ...subscriberStreamRules(streamAt)],
  detect: (methodsOf) => !!methodsOf(SERVICE)?.has('processObjectRecordStreamEvents'),
  readStreamCall: readPositionalStreamCall,
  classifyStream: (observation: StreamObservation) =>
    classifyFilterMatchStream(observation, { filters: true, gate: subscriberGate }),
  classifyFanout,
};
