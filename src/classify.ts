import { StreamStep } from './context';
import { DropReason } from './semconv';

/**
 * Drop classification for the `stream` stage: which (event, stream) pair
 * ended how, inferred from Twenty's unmodified code through the arguments of
 * the per-stream method and the results of the private helpers it called.
 */

export type PairOutcome =
  | { outcome: 'forwarded' }
  | { outcome: 'dropped'; reason: DropReason }
  | { outcome: 'failed' };

export interface StreamObservation {
  eventCount: number;
  /** Helper results in call order: a `filter` (filterRestrictedFieldsFromEvent) and/or a `match` (get*MatchingQueryIds) per event reached. */
  steps: StreamStep[];
  /** Number of queries registered on the stream (streamData.queries), when known. */
  queryCount?: number;
  /** Number of payload items published to this stream inside the invocation. */
  publishedItems: number;
  publishFailed: boolean;
  threw: boolean;
  /** The subscriber's auth context stored with the stream ({ userId, userWorkspaceId, apiKeyId, applicationId? }). */
  subscriberAuthContext?: Record<string, unknown>;
  permissionsContext?: Record<string, unknown>;
  objectMetadataId?: string;
  /** resolveStreamRoleIds result, when the generation has it. */
  roleIds?: unknown;
  /** resolveStreamObjectsPermissions result, when it ran. */
  objectsPermissions?: unknown;
  objectsPermissionsSeen: boolean;
  /** buildSubscriberRecordShareGate result, when it ran (null = no gate). */
  recordShareGate?: unknown;
}

function isDefined<T>(value: T | null | undefined): value is T {
  return value !== undefined && value !== null;
}

function asRecord(value: unknown): Record<string, unknown> | undefined {
  return value && typeof value === 'object' ? (value as Record<string, unknown>) : undefined;
}

function isApplicationActive(permissionsContext: Record<string, unknown> | undefined, applicationId: string): boolean {
  const maps = asRecord(permissionsContext?.flatApplicationMaps);
  const byId = asRecord(maps?.byId);
  const application = asRecord(byId?.[applicationId]);
  if (!application) return false;
  if (isDefined(application.deletedAt)) return false;
  return application.isActive !== false;
}

/**
 * The subscriber-side checks that end the whole stream before any event is
 * looked at (D4, D4', D5, D6), replayed on the same inputs Twenty used.
 * Returns undefined when every check passes or cannot be evaluated.
 */
export function classifySubscriberGate(observation: StreamObservation): DropReason | undefined {
  const auth = observation.subscriberAuthContext ?? {};
  const permissions = observation.permissionsContext;
  const userWorkspaceId = auth.userWorkspaceId;

  if (observation.roleIds !== undefined) {
    // newest publisher: resolveStreamRoleIds / resolveStreamObjectsPermissions
    if (Array.isArray(observation.roleIds) && observation.roleIds.length === 0) {
      if (!isDefined(userWorkspaceId)) return 'subscriber_without_user_workspace';
      const applicationId = auth.applicationId;
      if (typeof applicationId === 'string' && !isApplicationActive(permissions, applicationId)) {
        return 'subscriber_application_inactive';
      }
      return 'subscriber_without_role';
    }
    if (observation.objectsPermissionsSeen && !isDefined(observation.objectsPermissions)) return 'subscriber_without_role';
    const objectsPermissions = asRecord(observation.objectsPermissions);
    if (objectsPermissions && observation.objectMetadataId !== undefined) {
      const objectPermissions = asRecord(objectsPermissions[observation.objectMetadataId]);
      if (!objectPermissions?.canReadObjectRecords) return 'object_not_readable';
    }
    return undefined;
  }

  if (!permissions) return undefined; // v1: no subscriber-side checks exist
  if (!isDefined(userWorkspaceId)) return 'subscriber_without_user_workspace';
  const roleMap = asRecord(permissions.userWorkspaceRoleMap);
  const roleId = roleMap?.[String(userWorkspaceId)];
  if (!isDefined(roleId)) return 'subscriber_without_role';
  const rolesPermissions = asRecord(permissions.rolesPermissions);
  const objectPermissions = asRecord(asRecord(rolesPermissions?.[String(roleId)])?.[observation.objectMetadataId ?? '']);
  if (!objectPermissions?.canReadObjectRecords) return 'object_not_readable';
  return undefined;
}

// Outcomes are never mutated: one shared object per kind instead of one per (event, stream) pair.
const FORWARDED: PairOutcome = Object.freeze({ outcome: 'forwarded' });
const FAILED: PairOutcome = Object.freeze({ outcome: 'failed' });
const DROPPED = new Map<DropReason, PairOutcome>();

function dropped(reason: DropReason): PairOutcome {
  let outcome = DROPPED.get(reason);
  if (!outcome) {
    outcome = Object.freeze({ outcome: 'dropped', reason });
    DROPPED.set(reason, outcome);
  }
  return outcome;
}

/** One outcome per event of the batch, in batch order, for one stream. */
export function classifyStreamPairs(observation: StreamObservation): PairOutcome[] {
  const outcomes: PairOutcome[] = [];
  const { steps } = observation;
  const unexplainedOutcome = observation.threw || observation.publishFailed ? FAILED : dropped('unattributed');
  const unexplained = (): PairOutcome => unexplainedOutcome;

  if (steps.length === 0) {
    const gate = observation.publishedItems === 0 ? classifySubscriberGate(observation) : undefined;
    for (let i = 0; i < observation.eventCount; i++) {
      if (gate) outcomes.push(dropped(gate));
      else if (i < observation.publishedItems && !observation.publishFailed) outcomes.push(FORWARDED);
      else outcomes.push(unexplained());
    }
    return outcomes;
  }

  let cursor = 0;
  let candidates = 0;
  const candidateIndexes: number[] = [];
  for (let i = 0; i < observation.eventCount; i++) {
    const step = steps[cursor];
    if (!step) {
      outcomes.push(unexplained());
      continue;
    }
    if (step.kind === 'filter') {
      cursor++;
      if (step.emptiedUpdatedFields) {
        outcomes.push(dropped('restricted_fields_only'));
        continue;
      }
      const next = steps[cursor];
      if (next?.kind !== 'match') {
        // filtered but never matched: the record-share gate (a plain function, not a method) turned it away
        outcomes.push(
          isDefined(observation.recordShareGate) ? dropped('record_share_denied') : unexplained(),
        );
        continue;
      }
    }
    const match = steps[cursor];
    if (match?.kind === 'match') {
      cursor++;
      if (match.matched === 0) {
        // the oldest code has no inline D3 check: an empty query map reaches matching and matches nothing
        outcomes.push(dropped(observation.queryCount === 0 ? 'stream_without_queries' : 'no_matching_query'));
        continue;
      }
      candidateIndexes.push(outcomes.length);
      outcomes.push(FORWARDED);
      candidates++;
      continue;
    }
    outcomes.push(unexplained());
  }

  // Candidates count as forwarded only if their payload really went out.
  const published = observation.publishFailed ? 0 : Math.min(observation.publishedItems, candidates);
  for (let position = published; position < candidateIndexes.length; position++) outcomes[candidateIndexes[position]] = unexplainedOutcome;
  return outcomes;
}
