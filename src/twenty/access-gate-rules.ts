import { StreamObservation } from '../engine/model';
import { dropped, FORWARDED, limitToPublished, PairOutcome } from '../engine/outcomes';
import { ProbeSpec } from '../engine/roles';
import { DropReason } from '../semconv';
import { asDict, Dict, isDefined, nonEmptyString } from './facts';
import { batchObjectId } from './model';
import {
  emptyRoleIdsReason,
  objectPermissionsReason,
  permissionsContextOf,
  PROBE,
  queryCount,
  streamInputs,
  subscriberAuthContext,
  unexplained,
} from './rules';

/**
 * Drop rules of the ObjectRecordEventPublisher forms with one record-access
 * gate per batch (September 2026: RecordAccessPolicyService builds it, the
 * publisher asks it per stream which records the subscriber may see).
 *
 * Where Twenty decides in module functions that cannot be patched (the
 * restricted-field omission, the "no record query for this object" check),
 * the rules replay them on the inputs Twenty used: the per-stream method's
 * arguments, resolveStreamObjectsPermissions' result, the cached field
 * metadata. The gate's answer is observed, not replayed.
 */

export const ADMITTED = 'admittedRecordIds';

/** RecordAccessPolicyService.build*Gate: its gate's resolveAdmittedRecordIds is observed per stream. */
export const GATE_PROBE: ProbeSpec = {
  name: 'recordAccessGate',
  scope: 'nearest',
  resultMethods: {
    resolveAdmittedRecordIds: {
      name: ADMITTED,
      scope: 'stream',
      read: (value) => (value instanceof Set ? value : Array.isArray(value) ? new Set(value) : new Set()),
    },
  },
};

export interface AccessGateForm {
  /** faec8d88: the explicit canReadObjectRecords early return (D6) still precedes the query check. */
  objectReadCheck: boolean;
  /** 2c712b6a: an empty admitted set ends the stream (N2); faec8d88 goes on and skips each event (N4). */
  emptyGateReturns: boolean;
  /** faec8d88: restricted fields are removed by a method (observed); 2c712b6a: by a module function (replayed). */
  filterMethod: boolean;
}

function objectsPermissionsOf(observation: StreamObservation): Dict | undefined {
  return asDict(observation.facts.get(PROBE.objectsPermissions));
}

/** Why the gate refused a record: the role cannot read the object at all, or the record itself is not admitted. */
function refusedReason(observation: StreamObservation): DropReason {
  const objectId = batchObjectId(observation.call.batch);
  const objectPermissions = objectId ? asDict(objectsPermissionsOf(observation)?.[objectId]) : undefined;
  return objectPermissions && !objectPermissions.canReadObjectRecords ? 'object_not_readable' : 'record_access_denied';
}

/** Whether any of the stream's queries is a record query on the batch's object (Twenty's "no record query" early return). */
function hasRecordQueryForObject(observation: StreamObservation): boolean | undefined {
  const queries = asDict(asDict(streamInputs(observation).streamData)?.queries);
  const objectName =
    nonEmptyString(asDict(asDict(observation.call.batch.raw)?.objectMetadata)?.nameSingular) ??
    observation.call.batch.objectName;
  if (!queries || !objectName) return undefined;
  return Object.values(queries).some((signature) => {
    const dict = asDict(signature);
    return !!dict && typeof dict.objectNameSingular === 'string' && dict.objectNameSingular === objectName;
  });
}

/** Field names the subscriber may not read: omitRestrictedFieldsFromEvent's set, including a many-to-one relation's join column. */
export function restrictedFieldNames(observation: StreamObservation): Set<string> {
  const names = new Set<string>();
  const objectId = batchObjectId(observation.call.batch);
  const restricted = objectId
    ? asDict(asDict(objectsPermissionsOf(observation)?.[objectId])?.restrictedFields)
    : undefined;
  if (!restricted) return names;
  const fields = asDict(asDict(permissionsContextOf(observation)?.flatFieldMetadataMaps)?.byId);
  for (const [fieldId, permissions] of Object.entries(restricted)) {
    if (asDict(permissions)?.canRead !== false) continue;
    const field = asDict(fields?.[fieldId]);
    const name = nonEmptyString(field?.name);
    if (!name) continue;
    names.add(name);
    const settings = asDict(field?.settings);
    if ((field?.type === 'RELATION' || field?.type === 'MORPH_RELATION') && settings?.relationType === 'MANY_TO_ONE') {
      names.add(nonEmptyString(settings.joinColumnName) ?? `${name}Id`);
      names.add(`${name}Id`);
    }
  }
  return names;
}

/** N5: after omitting restricted fields the update has no updated field left. */
function onlyRestrictedFieldsChanged(event: unknown, restricted: Set<string>): boolean {
  const updatedFields = asDict(asDict(event)?.properties)?.updatedFields;
  if (!Array.isArray(updatedFields)) return false;
  const left = restricted.size > 0 ? updatedFields.filter((field) => !restricted.has(String(field))) : updatedFields;
  return left.length === 0;
}

function subscriberReason(observation: StreamObservation, form: AccessGateForm): DropReason | undefined {
  const { facts } = observation;
  if (!facts.has(PROBE.roleIds)) return undefined;
  const roleIds = facts.get(PROBE.roleIds);
  if (Array.isArray(roleIds) && roleIds.length === 0)
    return emptyRoleIdsReason(subscriberAuthContext(observation), permissionsContextOf(observation));
  if (facts.has(PROBE.objectsPermissions) && !isDefined(facts.get(PROBE.objectsPermissions)))
    return 'subscriber_without_role';
  if (form.objectReadCheck) return objectPermissionsReason(facts, batchObjectId(observation.call.batch));
  return undefined;
}

export function classifyAccessGateStream(observation: StreamObservation, form: AccessGateForm): PairOutcome[] {
  const events = observation.call.batch.events;
  const miss = unexplained(observation);
  const all = (outcome: PairOutcome) => events.map(() => outcome);

  const subscriber = subscriberReason(observation, form);
  if (subscriber) return all(dropped(subscriber));
  const admitted = observation.facts.get(ADMITTED) as Set<string> | undefined;
  if (!admitted) {
    // the gate was never asked: the early return on a stream with no record query for this object (N1), or a throw
    if (observation.facts.has(PROBE.roleIds) && hasRecordQueryForObject(observation) === false)
      return all(dropped('no_matching_query'));
    if (observation.threw || !observation.facts.has(PROBE.roleIds)) return all(miss);
    // the gate was asked but its answer not observed (its service was never seen): after N1 only the gate,
    // restricted fields and matching stop an event, so an event that reached no helper was refused by the gate
  }
  if (admitted && admitted.size === 0 && form.emptyGateReturns) return all(dropped(refusedReason(observation)));

  const restricted = form.filterMethod ? undefined : restrictedFieldNames(observation);
  const { ledger } = observation;
  const isRestricted = (index: number): boolean => {
    if (restricted) return onlyRestrictedFieldsChanged(events[index], restricted);
    if (!ledger.has(index, PROBE.filteredEvent)) return false;
    const updatedFields = asDict(asDict(ledger.get(index, PROBE.filteredEvent))?.properties)?.updatedFields;
    return Array.isArray(updatedFields) && updatedFields.length === 0;
  };
  // with the gate's answer unknown, an event reached matching iff a matching call is tied to it
  const reachesMatching = admitted
    ? (index: number) => !isRestricted(index) && admitted.has(String(asDict(events[index])?.recordId))
    : (index: number) => !isRestricted(index);
  const isAdmitted = (index: number) =>
    admitted
      ? admitted.has(String(asDict(events[index])?.recordId))
      : ledger.has(index, PROBE.matchedQueryIds, reachesMatching);

  const outcomes: PairOutcome[] = new Array(events.length);
  for (let index = 0; index < events.length; index++) {
    if (isRestricted(index)) outcomes[index] = dropped('restricted_fields_only');
    else if (!isAdmitted(index)) outcomes[index] = dropped(refusedReason(observation));
    else if (!ledger.has(index, PROBE.matchedQueryIds, reachesMatching)) outcomes[index] = miss;
    else if (ledger.get(index, PROBE.matchedQueryIds, reachesMatching) === 0)
      outcomes[index] = dropped(queryCount(observation) === 0 ? 'stream_without_queries' : 'no_matching_query');
    else outcomes[index] = FORWARDED;
  }
  return limitToPublished(outcomes, observation.publishedItems, observation.publishFailed, miss);
}
