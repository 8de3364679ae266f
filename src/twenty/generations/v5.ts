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

const streamAt = serviceStream('processStreamEvents');

/**
 * V5-V7 (where workflow updates that leave a table's filter are lost): processStreamEvents with the
 * userWorkspaceId, role and object-permission early returns, restricted-field
 * filtering and RLS-combined query matching.
 */
export const V5: GenerationModule = {
  id: 'v5',
  title: 'WorkspaceEventEmitterService V5: processStreamEvents with userWorkspaceId/role/RLS checks',
  targets: [
    ...WORKFLOW_TARGETS,
    ...EMIT_LISTEN_TARGETS,
    serviceTarget(true),
    EVENT_STREAM_SERVICE,
    subscriptionService(true),
    ...lastMileTargets('WorkspaceEventEmitterResolver'),
  ],
  fanoutAt: SERVICE_FANOUT,
  streamAt,
  dropRules: [...fanoutRules(SERVICE_FANOUT), ...subscriberStreamRules(streamAt)],
  detect(methodsOf) {
    const service = methodsOf(SERVICE);
    return (
      !!service?.has('processStreamEvents') &&
      (service.has('fetchPermissionsContext') || service.has('filterRestrictedFieldsFromEvent'))
    );
  },
  readStreamCall: readPositionalStreamCall,
  classifyStream: (observation: StreamObservation) =>
    classifyFilterMatchStream(observation, { filters: true, gate: subscriberGate }),
  classifyFanout,
};
