import { EventLedger } from '../../src/engine/event-ledger';
import { StreamObservation } from '../../src/engine/model';
import { classifyFilterMatchStream, PROBE, subscriberGate } from '../../src/twenty/rules';
import { TWENTY_MODEL } from '../../src/twenty/model';
import { readObjectStreamCall, readPositionalStreamCall } from '../../src/twenty/stream-args';

const event = (recordId: string, updatedFields?: string[]) => ({
  recordId,
  properties: { updatedFields, after: { id: recordId } },
});
// What Twenty hands its helpers: a shallow copy that shares `properties`.
const asHelperArg = (e: ReturnType<typeof event>) => ({ action: 'updated', objectNameSingular: 'company', ...e });

function observation(
  events: object[],
  over: Partial<StreamObservation> = {},
  streamData: object = { queries: { q: {} }, authContext: {} },
): StreamObservation {
  const batch = { name: 'company.updated', workspaceId: 'ws', objectMetadata: { id: 'obj-1' }, events };
  const call = readObjectStreamCall([{ streamChannelId: 'ch', streamData, workspaceEventBatch: batch }])!;
  return {
    call,
    facts: new Map(),
    fanoutFacts: undefined,
    ledger: new EventLedger(events, TWENTY_MODEL.eventIdentity),
    publishedItems: 0,
    publishFailed: false,
    threw: false,
    ...over,
  };
}

describe('EventLedger: a helper result belongs to the event it was called with', () => {
  it('by identity of a shallow copy, whatever the call order', () => {
    const events = [event('a'), event('b'), event('c')];
    const ledger = new EventLedger(events, TWENTY_MODEL.eventIdentity);
    ledger.record('match', asHelperArg(events[2]), 2);
    ledger.record('match', asHelperArg(events[0]), 0);
    expect([0, 1, 2].map((i) => ledger.get(i, 'match'))).toEqual([0, undefined, 2]);
    expect(ledger.has(1, 'match')).toBe(false);
  });

  it('a derived object (a filtered copy) stands for its event in later calls', () => {
    const events = [event('a'), event('b')];
    const ledger = new EventLedger(events, TWENTY_MODEL.eventIdentity);
    const filtered = { ...asHelperArg(events[1]), properties: { updatedFields: ['name'] } };
    ledger.record('filter', asHelperArg(events[1]), filtered, filtered);
    ledger.record('match', { ...filtered }, 1);
    expect(ledger.get(1, 'match')).toBe(1);
    expect(ledger.has(0, 'match')).toBe(false);
  });

  it('by record id when identity is lost; repeated ids go to the events that could reach the helper', () => {
    const events = [event('a'), event('x'), event('x')];
    const ledger = new EventLedger(events, TWENTY_MODEL.eventIdentity);
    // fresh objects: nothing shared with the batch events
    ledger.record('match', { recordId: 'x', properties: {} }, 7);
    ledger.record('match', { recordId: 'a', properties: {} }, 1);
    expect(ledger.get(0, 'match')).toBe(1);
    // without knowing more, the first event with that id takes the first call
    expect([ledger.get(1, 'match'), ledger.get(2, 'match')]).toEqual([7, undefined]);
    // the rules know event 1 never reached the helper (skipped before it): the call is event 2's
    const reaches = (index: number) => index !== 1;
    expect([ledger.get(1, 'match', reaches), ledger.get(2, 'match', reaches)]).toEqual([undefined, 7]);
  });
});

describe('classifyFilterMatchStream', () => {
  it('per event, not per call order: restricted fields, share gate, no match, forwarded', () => {
    const events = [event('a', []), event('b', ['name']), event('c', ['name']), event('d', ['name'])];
    const obs = observation(events, { publishedItems: 1 });
    obs.facts.set(PROBE.recordShareGate, { kind: 'private' });
    const filter = (e: ReturnType<typeof event>, fields: string[]) => {
      const filtered = { ...asHelperArg(e), properties: { ...e.properties, updatedFields: fields } };
      obs.ledger.record(PROBE.filteredEvent, asHelperArg(e), filtered, filtered);
      return filtered;
    };
    const fd = filter(events[3], ['name']);
    obs.ledger.record(PROBE.matchedQueryIds, fd, 2);
    filter(events[1], ['name']); // then the share gate turned it away: no match call
    const fc = filter(events[2], ['name']);
    obs.ledger.record(PROBE.matchedQueryIds, fc, 0);
    filter(events[0], []);
    expect(classifyFilterMatchStream(obs, { filters: true, gate: subscriberGate })).toEqual([
      { outcome: 'dropped', reason: 'restricted_fields_only' },
      { outcome: 'dropped', reason: 'record_share_denied' },
      { outcome: 'dropped', reason: 'no_matching_query' },
      { outcome: 'forwarded' },
    ]);
  });

  it('the form with a linked-record share gate: an event it turned away is record_share_denied, also when the record itself has no gate', () => {
    const classify = (gates: { own?: object | null; linked?: object }) => {
      const events = [event('a', ['name']), event('b', ['name'])];
      const obs = observation(events, { publishedItems: 1 });
      // buildSubscriberRecordShareGate answers null for an object not shared record by record
      if ('own' in gates) obs.facts.set(PROBE.recordShareGate, gates.own);
      if (gates.linked) obs.facts.set(PROBE.linkedRecordShareGate, gates.linked);
      for (const e of events) {
        const filtered = { ...asHelperArg(e), properties: { ...e.properties } };
        obs.ledger.record(PROBE.filteredEvent, asHelperArg(e), filtered, filtered);
        if (e === events[1]) obs.ledger.record(PROBE.matchedQueryIds, filtered, 1);
      }
      return classifyFilterMatchStream(obs, { filters: true, gate: subscriberGate });
    };
    expect(classify({ own: null, linked: { principalIds: ['p'] } })).toEqual([
      { outcome: 'dropped', reason: 'record_share_denied' },
      { outcome: 'forwarded' },
    ]);
    // no gate at all: nothing known turned it away
    expect(classify({ own: null })).toEqual([{ outcome: 'dropped', reason: 'unattributed' }, { outcome: 'forwarded' }]);
  });

  it('a candidate that was never published and no error is unattributed; a failed publish fails it', () => {
    const events = [event('a')];
    const obs = observation(events);
    obs.ledger.record(PROBE.matchedQueryIds, asHelperArg(events[0]), 1);
    expect(classifyFilterMatchStream(obs, { filters: false, gate: subscriberGate })).toEqual([
      { outcome: 'dropped', reason: 'unattributed' },
    ]);
    const failed = observation(events, { publishFailed: true, threw: true });
    failed.ledger.record(PROBE.matchedQueryIds, asHelperArg(events[0]), 1);
    expect(classifyFilterMatchStream(failed, { filters: false, gate: subscriberGate })).toEqual([
      { outcome: 'failed' },
    ]);
  });

  it('V1: an empty query map reaches matching and counts as stream_without_queries', () => {
    const events = [event('a')];
    const obs = observation(events, {}, { queries: {}, authContext: {} });
    obs.ledger.record(PROBE.matchedQueryIds, asHelperArg(events[0]), 0);
    expect(classifyFilterMatchStream(obs, { filters: false, gate: subscriberGate })).toEqual([
      { outcome: 'dropped', reason: 'stream_without_queries' },
    ]);
  });
});

describe('subscriberGate', () => {
  const permissions = {
    userWorkspaceRoleMap: { 'uw-1': 'role-1', 'uw-2': 'role-2' },
    rolesPermissions: {
      'role-1': { 'obj-1': { canReadObjectRecords: true } },
      'role-2': { 'obj-1': { canReadObjectRecords: false } },
    },
  };
  const positional = (auth: object) => {
    const batch = { name: 'company.updated', workspaceId: 'ws', objectMetadata: { id: 'obj-1' }, events: [event('a')] };
    const call = readPositionalStreamCall(['ch', { queries: { q: {} }, authContext: auth }, batch, permissions])!;
    return { ...observation([event('a')]), call };
  };

  it.each([
    [{}, 'subscriber_without_user_workspace'],
    [{ userWorkspaceId: 'uw-unknown' }, 'subscriber_without_role'],
    [{ userWorkspaceId: 'uw-2' }, 'object_not_readable'],
    [{ userWorkspaceId: 'uw-1' }, undefined],
  ])('V5-V9 replay on the permissions context: auth %j -> %s', (auth, reason) => {
    expect(subscriberGate(positional(auth))).toBe(reason);
  });

  it('publisher helpers: empty role ids, inactive application, missing or unreadable object permissions', () => {
    const withFacts = (auth: object, facts: [string, unknown][]) => {
      const obs = observation([event('a')], {}, { queries: { q: {} }, authContext: auth });
      for (const [k, v] of facts) obs.facts.set(k, v);
      return subscriberGate(obs);
    };
    expect(withFacts({}, [[PROBE.roleIds, []]])).toBe('subscriber_without_user_workspace');
    expect(
      withFacts({ userWorkspaceId: 'u', applicationId: 'app' }, [
        [PROBE.roleIds, []],
        [PROBE.permissionsContext, { userWorkspaceRoleMap: {}, flatApplicationMaps: { byId: {} } }],
      ]),
    ).toBe('subscriber_application_inactive');
    expect(withFacts({ userWorkspaceId: 'u' }, [[PROBE.roleIds, []]])).toBe('subscriber_without_role');
    expect(
      withFacts({ userWorkspaceId: 'u' }, [
        [PROBE.roleIds, ['r']],
        [PROBE.objectsPermissions, undefined],
      ]),
    ).toBe('subscriber_without_role');
    expect(
      withFacts({ userWorkspaceId: 'u' }, [
        [PROBE.roleIds, ['r']],
        [PROBE.objectsPermissions, { 'obj-1': { canReadObjectRecords: false } }],
      ]),
    ).toBe('object_not_readable');
    expect(
      withFacts({ userWorkspaceId: 'u' }, [
        [PROBE.roleIds, ['r']],
        [PROBE.objectsPermissions, { 'obj-1': { canReadObjectRecords: true } }],
      ]),
    ).toBeUndefined();
  });
});

describe('the September 2026 record-access rules (2c712b6a)', () => {
  const { RECORD_ACCESS } =
    require('../../src/twenty/generations/record-access') as typeof import('../../src/twenty/generations/record-access');
  const permissions = {
    userWorkspaceRoleMap: { uw: 'r' },
    flatFieldMetadataMaps: { byId: { 'f-arr': { id: 'f-arr', name: 'annualRecurringRevenue' } } },
  };
  const objectsPermissions = {
    'obj-1': { canReadObjectRecords: true, restrictedFields: { 'f-arr': { canRead: false } } },
  };
  const setUp = (events: object[], queries: object = { q: { objectNameSingular: 'company' } }) => {
    const batch = {
      name: 'company.updated',
      workspaceId: 'ws',
      objectMetadata: { id: 'obj-1', nameSingular: 'company' },
      events,
    };
    const call = readObjectStreamCall([
      {
        streamChannelId: 'ch',
        streamData: { queries, authContext: { userWorkspaceId: 'uw' } },
        workspaceEventBatch: batch,
        permissionsContext: permissions,
      },
    ])!;
    const obs = observation(events, { call });
    obs.facts.set(PROBE.roleIds, ['r']);
    obs.facts.set(PROBE.objectsPermissions, objectsPermissions);
    return obs;
  };

  it('N1: no record query on the object, the gate never asked -> no_matching_query', () => {
    const obs = setUp([event('a', ['name'])], { q: { objectNameSingular: 'person' } });
    expect(RECORD_ACCESS.classifyStream(obs)).toEqual([{ outcome: 'dropped', reason: 'no_matching_query' }]);
  });

  it('the gate observed: N2 (empty set) and, per event, N5 replayed, N4, matching', () => {
    const empty = setUp([event('a', ['name'])]);
    empty.facts.set('admittedRecordIds', new Set());
    expect(RECORD_ACCESS.classifyStream(empty)).toEqual([{ outcome: 'dropped', reason: 'record_access_denied' }]);

    const events = [event('a', ['annualRecurringRevenue']), event('b', ['name']), event('c', ['name'])];
    const obs = setUp(events, { q: { objectNameSingular: 'company' } });
    obs.facts.set('admittedRecordIds', new Set(['a', 'c']));
    obs.ledger.record(PROBE.matchedQueryIds, { recordId: 'c', properties: {} }, 1);
    obs.publishedItems = 1;
    expect(RECORD_ACCESS.classifyStream(obs)).toEqual([
      { outcome: 'dropped', reason: 'restricted_fields_only' },
      { outcome: 'dropped', reason: 'record_access_denied' },
      { outcome: 'forwarded' },
    ]);
  });

  it('the earlier form with its own buildSubscriberRLSFilter: an empty admitted set skips event by event, restricted fields first', () => {
    const events = [event('a', ['annualRecurringRevenue']), event('b', ['name'])];
    const obs = setUp(events);
    obs.facts.set(PROBE.subscriberRLSFilter, true);
    obs.facts.set('admittedRecordIds', new Set());
    expect(RECORD_ACCESS.classifyStream(obs)).toEqual([
      { outcome: 'dropped', reason: 'restricted_fields_only' },
      { outcome: 'dropped', reason: 'record_access_denied' },
    ]);
    // the same stream in the 2c712b6a form (no such call): the empty set ends the stream before any event
    const newest = setUp(events);
    newest.facts.set('admittedRecordIds', new Set());
    expect(RECORD_ACCESS.classifyStream(newest)).toEqual([
      { outcome: 'dropped', reason: 'record_access_denied' },
      { outcome: 'dropped', reason: 'record_access_denied' },
    ]);
  });

  it('a refusal because the role cannot read the object is object_not_readable', () => {
    const obs = setUp([event('a', ['name'])]);
    obs.facts.set(PROBE.objectsPermissions, { 'obj-1': { canReadObjectRecords: false } });
    obs.facts.set('admittedRecordIds', new Set());
    expect(RECORD_ACCESS.classifyStream(obs)).toEqual([{ outcome: 'dropped', reason: 'object_not_readable' }]);
  });

  it("the gate's answer not observed: an event that reached no helper after N1 was refused by the gate", () => {
    const events = [event('a', ['name']), event('b', ['name'])];
    const obs = setUp(events);
    obs.ledger.record(PROBE.matchedQueryIds, { recordId: 'a', properties: {} }, 1);
    obs.publishedItems = 1;
    expect(RECORD_ACCESS.classifyStream(obs)).toEqual([
      { outcome: 'forwarded' },
      { outcome: 'dropped', reason: 'record_access_denied' },
    ]);
  });
});

describe('the emit stage reads only batches that can reach a browser', () => {
  const batch = (action: string) => ({
    objectMetadataNameSingular: 'company',
    action,
    events: [{ recordId: 'r1' }, { recordId: 'r2' }],
    workspaceId: 'ws-1',
  });

  it.each(['created', 'updated', 'deleted', 'restored', 'destroyed'])('a %s batch is an SSE batch', (action) => {
    const emitted = TWENTY_MODEL.readEmit([batch(action)]);
    expect(emitted).toBeDefined();
    expect(emitted?.name).toBe(`company.${action}`);
    expect(emitted?.events).toHaveLength(2);
  });

  it("the ORM's upserted twin of a created/updated batch is not read (no listener sends it to SSE)", () => {
    expect(TWENTY_MODEL.readEmit([batch('upserted')])).toBeUndefined();
  });
});
