import { Facts } from '../engine/context';
import { FanoutObservation, FanoutVerdict, StreamObservation } from '../engine/model';
import { dropped, FAILED, FORWARDED, limitToPublished, PairOutcome } from '../engine/outcomes';
import { IGNORE, ProbeSpec } from '../engine/roles';
import { DropReason } from '../semconv';
import { asDict, Dict, isDefined } from './facts';
import { batchObjectId, eventArgument } from './model';

/**
 * Drop rules shared by several generations: Twenty's checks replayed on the
 * inputs Twenty used (the per-stream method's arguments and the results of
 * the helpers it called), per (event, stream) pair.
 */

/** Names under which helper results are recorded. */
export const PROBE = {
  activeStreamIds: 'activeStreamIds',
  streamsData: 'streamsData',
  permissionsContext: 'permissionsContext',
  roleIds: 'roleIds',
  objectsPermissions: 'objectsPermissions',
  recordShareGate: 'recordShareGate',
  linkedRecordShareGate: 'linkedRecordShareGate',
  subscriberRLSFilter: 'subscriberRLSFilter',
  filteredEvent: 'filteredEvent',
  matchedQueryIds: 'matchedQueryIds',
} as const;

export const PROBES = {
  /** EventStreamService.getActiveStreamIds: the fan-out's active streams (D1). */
  activeStreamIds: {
    name: PROBE.activeStreamIds,
    scope: 'fanout',
    first: true,
    read: (value) => (Array.isArray(value) ? value.map(String) : IGNORE),
  },
  /** EventStreamService.getStreamsData: each stream's data, undefined when expired (D2, D3). */
  streamsData: {
    name: PROBE.streamsData,
    scope: 'fanout',
    first: true,
    read: (value) => (value instanceof Map ? value : IGNORE),
  },
  /** fetchPermissionsContext / fetchObjectRecordStreamContext: the cached roles and permissions. */
  permissionsContext: {
    name: PROBE.permissionsContext,
    scope: 'nearest',
    read: (value) => {
      const dict = asDict(value);
      return (dict && 'userWorkspaceRoleMap' in dict ? dict : asDict(dict?.permissionsContext)) ?? IGNORE;
    },
  },
  roleIds: { name: PROBE.roleIds, scope: 'stream' },
  objectsPermissions: { name: PROBE.objectsPermissions, scope: 'stream' },
  recordShareGate: { name: PROBE.recordShareGate, scope: 'stream' },
  /** buildSubscriberLinkedRecordShareGate (a form with shares through a linked record, e.g. timeline activities). */
  linkedRecordShareGate: { name: PROBE.linkedRecordShareGate, scope: 'stream' },
  /** buildSubscriberRLSFilter: only whether it ran (the record-access form that still filters rows while matching). */
  subscriberRLSFilter: { name: PROBE.subscriberRLSFilter, scope: 'stream', read: () => true },
  /** filterRestrictedFieldsFromEvent(event, ...): the event as the subscriber may see it. */
  filteredEvent: { name: PROBE.filteredEvent, scope: 'stream', eventOf: eventArgument, derives: true },
  /** get*MatchingQueryIds / matchQueriesWithEvent: how many of the stream's queries match the event. */
  matchedQueryIds: {
    name: PROBE.matchedQueryIds,
    scope: 'stream',
    eventOf: eventArgument,
    read: (value) => (Array.isArray(value) ? value.length : value ? 1 : 0),
  },
} satisfies Record<string, ProbeSpec>;

/** What the per-stream method's arguments tell the rules. */
export interface StreamInputs {
  streamData: unknown;
  permissionsContext?: Dict;
}

export function streamInputs(observation: StreamObservation): StreamInputs {
  return observation.call.inputs as StreamInputs;
}

export function subscriberAuthContext(observation: StreamObservation): Dict {
  return asDict(asDict(streamInputs(observation).streamData)?.authContext) ?? {};
}

/** The permissions context Twenty used for this stream: fetched inside it, passed to it, or fetched by the fan-out. */
export function permissionsContextOf(observation: StreamObservation): Dict | undefined {
  return (
    asDict(observation.facts.get(PROBE.permissionsContext)) ??
    streamInputs(observation).permissionsContext ??
    asDict(observation.fanoutFacts?.get(PROBE.permissionsContext))
  );
}

export function queryCount(observation: StreamObservation): number | undefined {
  const queries = asDict(asDict(streamInputs(observation).streamData)?.queries);
  return queries ? Object.keys(queries).length : undefined;
}

function isApplicationActive(permissionsContext: Dict | undefined, applicationId: string): boolean {
  const application = asDict(asDict(asDict(permissionsContext?.flatApplicationMaps)?.byId)?.[applicationId]);
  if (!application) return false;
  if (isDefined(application.deletedAt)) return false;
  return application.isActive !== false;
}

/** Why resolveStreamRoleIds returned no role: no user workspace (D4), an inactive application (D4'), or no role (D5). */
export function emptyRoleIdsReason(auth: Dict, permissionsContext: Dict | undefined): DropReason {
  if (!isDefined(auth.userWorkspaceId)) return 'subscriber_without_user_workspace';
  const applicationId = auth.applicationId;
  if (typeof applicationId === 'string' && !isApplicationActive(permissionsContext, applicationId))
    return 'subscriber_application_inactive';
  return 'subscriber_without_role';
}

/**
 * V5-V9: the subscriber checks that end the whole stream before any event is
 * looked at (D4, D5, D6), replayed on the permissions context Twenty used.
 */
export function subscriberGateFromPermissions(observation: StreamObservation): DropReason | undefined {
  const permissions = permissionsContextOf(observation);
  if (!permissions) return undefined;
  const auth = subscriberAuthContext(observation);
  const userWorkspaceId = auth.userWorkspaceId;
  if (!isDefined(userWorkspaceId)) return 'subscriber_without_user_workspace';
  const roleId = asDict(permissions.userWorkspaceRoleMap)?.[String(userWorkspaceId)];
  if (!isDefined(roleId)) return 'subscriber_without_role';
  const objectPermissions = asDict(
    asDict(asDict(permissions.rolesPermissions)?.[String(roleId)])?.[batchObjectId(observation.call.batch) ?? ''],
  );
  if (!objectPermissions?.canReadObjectRecords) return 'object_not_readable';
  return undefined;
}

/**
 * The stream-wide subscriber checks: through the helpers' results where the
 * generation has them (ObjectRecordEventPublisher: resolveStreamRoleIds ->
 * D4/D4'/D5, resolveStreamObjectsPermissions -> D5', canReadObjectRecords ->
 * D6), else replayed on the permissions context (V5-V9; V1 has none).
 */
export function subscriberGate(observation: StreamObservation): DropReason | undefined {
  const { facts } = observation;
  if (!facts.has(PROBE.roleIds)) return subscriberGateFromPermissions(observation);
  const roleIds = facts.get(PROBE.roleIds);
  if (Array.isArray(roleIds) && roleIds.length === 0)
    return emptyRoleIdsReason(subscriberAuthContext(observation), permissionsContextOf(observation));
  return objectPermissionsReason(facts, batchObjectId(observation.call.batch));
}

export function objectPermissionsReason(facts: Facts, objectId: string | undefined): DropReason | undefined {
  if (!facts.has(PROBE.objectsPermissions)) return undefined;
  const objectsPermissions = asDict(facts.get(PROBE.objectsPermissions));
  if (!objectsPermissions) return 'subscriber_without_role';
  if (objectId !== undefined && !asDict(objectsPermissions[objectId])?.canReadObjectRecords)
    return 'object_not_readable';
  return undefined;
}

/** How the drop rules explain what no rule names: failed when the stream threw or its publish failed, else unattributed. */
export function unexplained(observation: StreamObservation): PairOutcome {
  return observation.threw || observation.publishFailed ? FAILED : dropped('unattributed');
}

export interface PerEventRules {
  /** The generation filters restricted fields through a method (filterRestrictedFieldsFromEvent). */
  filters: boolean;
  /** Stream-wide subscriber checks, replayed. */
  gate(observation: StreamObservation): DropReason | undefined;
}

/**
 * V1 to the publisher at 009451dc: each event of the stream is filtered for
 * restricted fields (D7), passes the record-share gate (D7b, a plain function
 * Twenty calls between the two helpers) and is matched against the stream's
 * queries (D8; V1, which has no inline D3 check, reaches matching with an
 * empty query map). Each helper result is tied to its event.
 */
export function classifyFilterMatchStream(observation: StreamObservation, rules: PerEventRules): PairOutcome[] {
  const { ledger } = observation;
  const count = observation.call.batch.events.length;
  const outcomes: PairOutcome[] = new Array(count);
  const miss = unexplained(observation);
  let anyHelperCall = false;
  for (let index = 0; index < count; index++) {
    const filtered = rules.filters && ledger.has(index, PROBE.filteredEvent);
    const matched = ledger.has(index, PROBE.matchedQueryIds);
    if (filtered || matched) anyHelperCall = true;
    if (filtered) {
      const updatedFields = asDict(asDict(ledger.get(index, PROBE.filteredEvent))?.properties)?.updatedFields;
      if (Array.isArray(updatedFields) && updatedFields.length === 0) {
        outcomes[index] = dropped('restricted_fields_only');
        continue;
      }
      if (!matched) {
        // filtered but never matched: a record-share gate (checked by a plain function, not a method) turned it
        // away, the record's own or, where the form has one, the gate of the record it is linked to
        outcomes[index] =
          isDefined(observation.facts.get(PROBE.recordShareGate)) ||
          isDefined(observation.facts.get(PROBE.linkedRecordShareGate))
            ? dropped('record_share_denied')
            : miss;
        continue;
      }
    }
    if (matched) {
      const matches = ledger.get(index, PROBE.matchedQueryIds);
      if (matches === 0)
        outcomes[index] = dropped(queryCount(observation) === 0 ? 'stream_without_queries' : 'no_matching_query');
      else outcomes[index] = FORWARDED;
      continue;
    }
    outcomes[index] = miss;
  }
  if (!anyHelperCall) {
    // no event reached a helper: the whole stream was gated by the subscriber checks, or everything was published
    const gate = observation.publishedItems === 0 ? rules.gate(observation) : undefined;
    for (let index = 0; index < count; index++) {
      outcomes[index] = gate
        ? dropped(gate)
        : index < observation.publishedItems && !observation.publishFailed
          ? FORWARDED
          : miss;
    }
    return outcomes;
  }
  return limitToPublished(outcomes, observation.publishedItems, observation.publishFailed, miss);
}

/**
 * The fan-out (publishToEventStreams, or the publisher's publish): D1 when
 * there is no active stream; for active streams no per-stream call accounted
 * for, D2 (stream data expired) or D3 (no query registered yet), or failed
 * when an error ended the loop before them (D10).
 */
export function classifyFanout(observation: FanoutObservation): FanoutVerdict {
  const { facts, threw } = observation;
  const activeStreamIds = facts.get(PROBE.activeStreamIds) as string[] | undefined;
  if (activeStreamIds === undefined) {
    return {
      batch: threw ? FAILED : observation.accountedChannels.size > 0 ? FORWARDED : dropped('unattributed'),
      pairs: [],
    };
  }
  if (activeStreamIds.length === 0) return { batch: dropped('no_active_streams'), pairs: [], streamCount: 0 };
  const streamsData = facts.get(PROBE.streamsData) as Map<string, unknown> | undefined;
  const pairs: FanoutVerdict['pairs'] = [];
  for (const channelId of streamsData ? streamsData.keys() : activeStreamIds) {
    if (observation.accountedChannels.has(channelId)) continue;
    let reason: DropReason | undefined;
    if (streamsData) {
      const data = asDict(streamsData.get(channelId));
      if (!data) reason = 'stream_expired';
      else if (Object.keys(asDict(data.queries) ?? {}).length === 0) reason = 'stream_without_queries';
    }
    pairs.push({ channelId, outcome: reason ? dropped(reason) : threw ? FAILED : dropped('unattributed') });
  }
  return { batch: FORWARDED, pairs, streamCount: activeStreamIds.length };
}
