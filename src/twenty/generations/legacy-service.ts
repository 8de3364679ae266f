import { FILES } from '../facts';
import { ClassTarget, CodeLocation, DropRule } from '../generation';
import { REASON_CONDITIONS } from '../conditions';
import { PROBES } from '../rules';
import { DropReason } from '../../semconv';

/**
 * What V1 to V9 share: WorkspaceEventEmitterService publishes to the legacy
 * channel and fans out in publishToEventStreams, then one private method per
 * stream.
 */
export const SERVICE = 'WorkspaceEventEmitterService';

export function serviceTarget(withPermissions: boolean): ClassTarget {
  return {
    className: SERVICE,
    methods: [
      { names: ['publish'], role: 'publish' },
      { names: ['publishToEventStreams'], role: 'fanout' },
      { names: ['processObjectRecordStreamEvents', 'processStreamEvents'], role: 'stream' },
      ...(withPermissions
        ? [
            {
              names: ['fetchObjectRecordStreamContext', 'fetchPermissionsContext'],
              role: 'probe' as const,
              probe: PROBES.permissionsContext,
            },
            { names: ['filterRestrictedFieldsFromEvent'], role: 'probe' as const, probe: PROBES.filteredEvent },
            {
              names: ['getMatchingObjectRecordQueryIds', 'getMatchingQueryIds'],
              role: 'probe' as const,
              probe: PROBES.matchedQueryIds,
            },
          ]
        : []),
    ],
  };
}

export const SERVICE_FANOUT: CodeLocation = {
  file: FILES.workspaceEventEmitterService,
  method: `${SERVICE}.publishToEventStreams`,
};

export function serviceStream(method: 'processStreamEvents' | 'processObjectRecordStreamEvents'): CodeLocation {
  return { file: FILES.workspaceEventEmitterService, method: `${SERVICE}.${method}` };
}

export function rule(
  code: string,
  reason: DropReason,
  where: CodeLocation,
  condition = REASON_CONDITIONS[reason],
): DropRule {
  return { code, reason, where, condition };
}

/** D1-D3, checked by the fan-out in every generation. */
export function fanoutRules(fanoutAt: CodeLocation): DropRule[] {
  return [
    rule('D1', 'no_active_streams', fanoutAt),
    rule('D2', 'stream_expired', fanoutAt),
    rule('D3', 'stream_without_queries', fanoutAt),
  ];
}

/** V5 onwards: the per-stream checks of processStreamEvents / processObjectRecordStreamEvents, in Twenty's order. */
export function subscriberStreamRules(streamAt: CodeLocation): DropRule[] {
  return [
    rule('D4', 'subscriber_without_user_workspace', streamAt),
    rule('D5', 'subscriber_without_role', streamAt),
    rule('D6', 'object_not_readable', streamAt),
    rule('D7', 'restricted_fields_only', streamAt),
    rule('D8', 'no_matching_query', streamAt),
  ];
}
