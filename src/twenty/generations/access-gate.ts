import { StreamObservation } from '../../engine/model';
import { AccessGateForm, classifyAccessGateStream, GATE_PROBE } from '../access-gate-rules';
import { REASON_CONDITIONS } from '../conditions';
import {
  EMIT_LISTEN_TARGETS,
  EVENT_STREAM_SERVICE,
  lastMileTargets,
  subscriptionService,
  WORKFLOW_TARGETS,
} from '../common-targets';
import { SERVER_SRC } from '../facts';
import { ClassTarget, CodeLocation, DropRule, GenerationModule } from '../generation';
import { classifyFanout } from '../rules';
import { readObjectStreamCall } from '../stream-args';
import { DropReason, Generation } from '../../semconv';
import { fanoutRules, rule } from './legacy-service';
import { PUBLISHER, PUBLISHER_CORE_METHODS, PUBLISHER_FANOUT, PUBLISHER_STREAM } from './publisher';

export const RECORD_ACCESS_POLICY_SERVICE = 'RecordAccessPolicyService';
export const RECORD_ACCESS_POLICY_FILE = `${SERVER_SRC}/engine/core-modules/record-share/services/record-access-policy.service.ts`;
const OMIT_RESTRICTED_FIELDS_FILE = `${SERVER_SRC}/engine/core-modules/record-share/utils/omit-restricted-fields-from-event.util.ts`;

/** What the two September 2026 forms differ in. */
export interface AccessGateGeneration {
  id: Generation;
  title: string;
  gateMethod: 'buildEventRecordShareGate' | 'buildEventRecordAccessGate';
  form: AccessGateForm;
  /** A stream that shows an earlier form of the publisher (a helper only that form calls was seen): that form's rules. */
  formOf?(observation: StreamObservation): AccessGateForm | undefined;
  /** Publisher methods of this form beyond the common ones. */
  extraMethods: ClassTarget['methods'];
  detect: GenerationModule['detect'];
}

const FLAG = 'IS_RECORD_LEVEL_SHARING_ENABLED';

function codes(dropRules: DropRule[], reason: DropReason): string | undefined {
  const found = [
    ...new Set(dropRules.filter((candidate) => candidate.reason === reason).map((candidate) => candidate.code)),
  ];
  return found.length > 0 ? found.join('/') : undefined;
}

export function accessGateGeneration(spec: AccessGateGeneration): GenerationModule {
  const gate: CodeLocation = {
    file: RECORD_ACCESS_POLICY_FILE,
    method: `${RECORD_ACCESS_POLICY_SERVICE}.${spec.gateMethod} -> resolveAdmittedRecordIds`,
  };
  const refusedWhy = `the causes: no record share for the subscriber's principals, no access inherited from a parent record, SYSTEM/APPLICATION object visibility (enforced even without a sharing licence)${spec.form.objectReadCheck ? '' : ', or a row-level rule that excludes the record'}; shares and inherited access apply only with ${FLAG}`;
  const dropRules: DropRule[] = [
    ...fanoutRules(PUBLISHER_FANOUT),
    rule("D4'", 'subscriber_without_user_workspace', PUBLISHER_STREAM),
    rule("D4'", 'subscriber_application_inactive', PUBLISHER_STREAM),
    rule("D4'", 'subscriber_without_role', PUBLISHER_STREAM),
    rule("D5'", 'subscriber_without_role', PUBLISHER_STREAM),
    ...(spec.form.objectReadCheck ? [rule('D6', 'object_not_readable', PUBLISHER_STREAM)] : []),
    rule(
      'N1',
      'no_matching_query',
      PUBLISHER_STREAM,
      "none of the stream's queries is a record query on the event's object: processObjectRecordStreamEvents returns before the access gate (routine: the tab watches other objects)",
    ),
    ...(spec.form.emptyGateReturns
      ? [
          rule(
            'N2',
            'record_access_denied',
            gate,
            `the gate admits none of the batch's records for this subscriber, so the whole stream is skipped; ${refusedWhy}`,
          ),
          rule(
            'N2',
            'object_not_readable',
            gate,
            "the gate admits no record because the subscriber's role cannot read this object (canReadObjectRecords=false)",
          ),
        ]
      : []),
    rule(
      'N4',
      'record_access_denied',
      gate,
      `per event: the record id is not in the gate's admitted set (\`continue\`); ${refusedWhy}`,
    ),
    ...(spec.form.objectReadCheck
      ? []
      : [
          rule(
            'N4',
            'object_not_readable',
            gate,
            "the subscriber's role cannot read this object (canReadObjectRecords=false), so the gate admits none of its records",
          ),
        ]),
    rule(
      'N5',
      'restricted_fields_only',
      spec.form.filterMethod
        ? PUBLISHER_STREAM
        : {
            file: OMIT_RESTRICTED_FIELDS_FILE,
            method: `omitRestrictedFieldsFromEvent (called by ${PUBLISHER_STREAM.method})`,
          },
      'per event: after the restricted fields are omitted, the update has no updated field left (`continue`)',
    ),
    rule(
      "D8'",
      'no_matching_query',
      PUBLISHER_STREAM,
      `per event: getMatchingObjectRecordQueryIds returned [] (${REASON_CONDITIONS.no_matching_query})`,
    ),
  ];
  return {
    id: spec.id,
    title: spec.title,
    targets: [
      ...WORKFLOW_TARGETS,
      ...EMIT_LISTEN_TARGETS,
      { className: PUBLISHER, methods: [...PUBLISHER_CORE_METHODS, ...spec.extraMethods] },
      {
        className: RECORD_ACCESS_POLICY_SERVICE,
        methods: [
          { names: ['buildEventRecordAccessGate', 'buildEventRecordShareGate'], role: 'probe', probe: GATE_PROBE },
        ],
      },
      EVENT_STREAM_SERVICE,
      subscriptionService(false),
      ...lastMileTargets('EventStreamResolver'),
    ],
    fanoutAt: PUBLISHER_FANOUT,
    streamAt: PUBLISHER_STREAM,
    dropRules,
    codeFor: (reason) => codes(dropRules, reason),
    detect: spec.detect,
    readStreamCall: readObjectStreamCall,
    classifyStream: (observation: StreamObservation) =>
      classifyAccessGateStream(observation, spec.formOf?.(observation) ?? spec.form),
    classifyFanout,
  };
}
