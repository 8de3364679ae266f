import { StreamObservation } from '../../engine/model';
import { REASON_CONDITIONS } from '../conditions';
import {
  EMIT_LISTEN_TARGETS,
  EVENT_STREAM_SERVICE,
  lastMileTargets,
  subscriptionService,
  WORKFLOW_TARGETS,
} from '../common-targets';
import { FILES } from '../facts';
import { ClassTarget, CodeLocation, GenerationModule } from '../generation';
import { classifyFanout, classifyFilterMatchStream, PROBES, subscriberGate } from '../rules';
import { readObjectStreamCall } from '../stream-args';
import { fanoutRules, rule } from './legacy-service';

export const PUBLISHER = 'ObjectRecordEventPublisher';
export const PUBLISHER_FANOUT: CodeLocation = {
  file: FILES.objectRecordEventPublisher,
  method: `${PUBLISHER}.publish`,
};
export const PUBLISHER_STREAM: CodeLocation = {
  file: FILES.objectRecordEventPublisher,
  method: `${PUBLISHER}.processObjectRecordStreamEvents`,
};

/** The publisher's methods every ObjectRecordEventPublisher form has. */
export const PUBLISHER_CORE_METHODS: ClassTarget['methods'] = [
  { names: ['publish'], role: 'publish_fanout' },
  { names: ['processObjectRecordStreamEvents'], role: 'stream' },
  {
    names: ['fetchObjectRecordStreamContext', 'fetchPermissionsContext'],
    role: 'probe',
    probe: PROBES.permissionsContext,
  },
  { names: ['resolveStreamRoleIds'], role: 'probe', probe: PROBES.roleIds },
  { names: ['resolveStreamObjectsPermissions'], role: 'probe', probe: PROBES.objectsPermissions },
];

/**
 * ObjectRecordEventPublisher from PR #18740 up to 009451dc: publish does the
 * fan-out, processObjectRecordStreamEvents takes one options object, roles
 * come from resolveStreamRoleIds, the record-share gate is built per stream
 * (IS_RECORD_SHARING_ENABLED), and an update is matched on `after` or
 * `before`.
 */
export const PUBLISHER_GENERATION: GenerationModule = {
  id: 'publisher',
  title: 'ObjectRecordEventPublisher (PR #18740 to 009451dc): single-object arguments, per-stream record-share gate',
  targets: [
    ...WORKFLOW_TARGETS,
    ...EMIT_LISTEN_TARGETS,
    {
      className: PUBLISHER,
      methods: [
        ...PUBLISHER_CORE_METHODS,
        { names: ['buildSubscriberRecordShareGate'], role: 'probe', probe: PROBES.recordShareGate },
        // a stored form of this publisher (found by content; commit not known) also gates timeline activities on the shares of the
        // record they are linked to (isLinkedRecordSharedWithPrincipals, a plain function)
        {
          names: ['buildSubscriberLinkedRecordShareGate'],
          role: 'probe',
          probe: PROBES.linkedRecordShareGate,
          onlyWith: 'buildSubscriberLinkedRecordShareGate',
        },
        { names: ['filterRestrictedFieldsFromEvent'], role: 'probe', probe: PROBES.filteredEvent },
        { names: ['getMatchingObjectRecordQueryIds'], role: 'probe', probe: PROBES.matchedQueryIds },
      ],
    },
    EVENT_STREAM_SERVICE,
    subscriptionService(false),
    ...lastMileTargets('EventStreamResolver'),
  ],
  fanoutAt: PUBLISHER_FANOUT,
  streamAt: PUBLISHER_STREAM,
  dropRules: [
    ...fanoutRules(PUBLISHER_FANOUT),
    rule("D4'", 'subscriber_without_user_workspace', PUBLISHER_STREAM),
    rule("D4'", 'subscriber_application_inactive', PUBLISHER_STREAM),
    rule("D4'", 'subscriber_without_role', PUBLISHER_STREAM),
    rule("D5'", 'subscriber_without_role', PUBLISHER_STREAM),
    rule('D6', 'object_not_readable', PUBLISHER_STREAM),
    rule('D7', 'restricted_fields_only', PUBLISHER_STREAM),
    rule('D7b', 'record_share_denied', PUBLISHER_STREAM, `${REASON_CONDITIONS.record_share_denied}`),
    rule("D8'", 'no_matching_query', PUBLISHER_STREAM),
  ],
  // its per-stream share gate, or (the first form, ce7f109e) restricted-field filtering without the newer row-access subject
  detect: (methodsOf) => {
    const publisher = methodsOf(PUBLISHER);
    if (!publisher) return false;
    return (
      publisher.has('buildSubscriberRecordShareGate') ||
      (publisher.has('filterRestrictedFieldsFromEvent') && !publisher.has('buildSubscriberRowAccessPolicySubject'))
    );
  },
  readStreamCall: readObjectStreamCall,
  classifyStream: (observation: StreamObservation) =>
    classifyFilterMatchStream(observation, { filters: true, gate: subscriberGate }),
  classifyFanout,
};
