import { classifyStreamPairs, classifySubscriberGate, StreamObservation } from '../../src/classify';

const base = (over: Partial<StreamObservation>): StreamObservation => ({
  eventCount: 1,
  steps: [],
  publishedItems: 0,
  publishFailed: false,
  threw: false,
  objectsPermissionsSeen: false,
  objectMetadataId: 'obj-1',
  ...over,
});

const permissions = {
  userWorkspaceRoleMap: { 'uw-1': 'role-1' },
  rolesPermissions: { 'role-1': { 'obj-1': { canReadObjectRecords: true } }, 'role-2': { 'obj-1': { canReadObjectRecords: false } } },
};

describe('classifySubscriberGate (v5/v8 arguments)', () => {
  it.each([
    [{}, 'subscriber_without_user_workspace'],
    [{ userWorkspaceId: 'uw-unknown' }, 'subscriber_without_role'],
    [{ userWorkspaceId: 'uw-1' }, undefined],
  ])('auth %j -> %s', (auth, reason) => {
    expect(classifySubscriberGate(base({ subscriberAuthContext: auth, permissionsContext: permissions }))).toBe(reason);
  });

  it('object not readable', () => {
    const p = { ...permissions, userWorkspaceRoleMap: { 'uw-1': 'role-2' } };
    expect(classifySubscriberGate(base({ subscriberAuthContext: { userWorkspaceId: 'uw-1' }, permissionsContext: p }))).toBe('object_not_readable');
  });

  it('v1 has no subscriber checks', () => {
    expect(classifySubscriberGate(base({ subscriberAuthContext: {} }))).toBeUndefined();
  });
});

describe('classifySubscriberGate (publisher helpers)', () => {
  it('empty role ids: no user workspace, inactive application, or no role', () => {
    expect(classifySubscriberGate(base({ roleIds: [], subscriberAuthContext: {} }))).toBe('subscriber_without_user_workspace');
    expect(
      classifySubscriberGate(
        base({ roleIds: [], subscriberAuthContext: { userWorkspaceId: 'u', applicationId: 'app' }, permissionsContext: { flatApplicationMaps: { byId: {} } } }),
      ),
    ).toBe('subscriber_application_inactive');
    expect(classifySubscriberGate(base({ roleIds: [], subscriberAuthContext: { userWorkspaceId: 'u' } }))).toBe('subscriber_without_role');
  });
  it('objects permissions missing or not readable', () => {
    expect(classifySubscriberGate(base({ roleIds: ['r'], objectsPermissionsSeen: true, objectsPermissions: undefined }))).toBe('subscriber_without_role');
    expect(
      classifySubscriberGate(base({ roleIds: ['r'], objectsPermissionsSeen: true, objectsPermissions: { 'obj-1': { canReadObjectRecords: false } } })),
    ).toBe('object_not_readable');
  });
});

describe('classifyStreamPairs', () => {
  it('walks filter/match steps per event and trusts only what was published', () => {
    const outcomes = classifyStreamPairs(
      base({
        eventCount: 4,
        steps: [
          { kind: 'filter', emptiedUpdatedFields: true },
          { kind: 'filter', emptiedUpdatedFields: false },
          { kind: 'match', matched: 0 },
          { kind: 'filter', emptiedUpdatedFields: false },
          { kind: 'match', matched: 2 },
          { kind: 'filter', emptiedUpdatedFields: false },
        ],
        publishedItems: 1,
        recordShareGate: { kind: 'private' },
      }),
    );
    expect(outcomes).toEqual([
      { outcome: 'dropped', reason: 'restricted_fields_only' },
      { outcome: 'dropped', reason: 'no_matching_query' },
      { outcome: 'forwarded' },
      { outcome: 'dropped', reason: 'record_share_denied' },
    ]);
  });

  it('match-only steps (v1) and a failed publish', () => {
    expect(
      classifyStreamPairs(base({ eventCount: 2, steps: [{ kind: 'match', matched: 1 }, { kind: 'match', matched: 0 }], publishFailed: true, threw: true })),
    ).toEqual([{ outcome: 'failed' }, { outcome: 'dropped', reason: 'no_matching_query' }]);
  });

  it('a candidate that was never published and no error is unattributed, not forwarded', () => {
    expect(classifyStreamPairs(base({ steps: [{ kind: 'match', matched: 1 }], publishedItems: 0 }))).toEqual([
      { outcome: 'dropped', reason: 'unattributed' },
    ]);
  });

  it('no steps: the whole stream is gated by the subscriber checks', () => {
    expect(classifyStreamPairs(base({ eventCount: 3, subscriberAuthContext: {}, permissionsContext: permissions }))).toEqual(
      Array(3).fill({ outcome: 'dropped', reason: 'subscriber_without_user_workspace' }),
    );
  });
});
