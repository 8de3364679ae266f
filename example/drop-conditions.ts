import { type TwentyGeneration } from './app/example-config';
import { CURRENT_WORKSPACE_MEMBER_ID, type TwentyLikeApp } from './harness';
import { FeatureFlagKey, type RecordGqlOperationSignature } from './twenty/twenty-shared/types';

// One scenario per drop condition: a fresh workspace, the stream state that
// triggers it, one mutation. `expected` is the outcome per generation of the
// mutated record on the scenario's stream: a D-code, 'forwarded' or 'failed'.
export type DropConditionScenario = {
  name: string;
  description: string;
  expected: Partial<Record<TwentyGeneration, string>>;
  run: (app: TwentyLikeApp) => Promise<{ workspaceId: string }>;
};

const ALL = (outcome: string): Record<TwentyGeneration, string> => ({
  v1: outcome,
  v5: outcome,
  v8: outcome,
  publisher: outcome,
  record_share: outcome,
  record_access: outcome,
});

// The September 2026 publishers (record-share gate at faec8d88, record-access gate at 2c712b6a).
const SEPTEMBER = (recordShare: string, recordAccess = recordShare) => ({
  record_share: recordShare,
  record_access: recordAccess,
});

const companyQuery = (filter: Record<string, unknown> = {}): Record<string, RecordGqlOperationSignature> => ({
  'record-table-virtualized-company': { objectNameSingular: 'company', variables: { filter } },
});

// A workspace with one company and an admin user whose stream watches companies.
const setUp = async (app: TwentyLikeApp, companyData: Record<string, unknown> = {}) => {
  const workspace = await app.seed.workspace();
  const { workspaceId } = workspace;
  const admin = await app.seed.user({ workspaceId });
  const company = await app.seed.record({
    workspaceId,
    objectNameSingular: 'company',
    data: { name: 'Acme', stage: 'LEAD', employees: 10, ...companyData },
  });
  const adminAuthContext = { userId: admin.userId, userWorkspaceId: admin.userWorkspaceId };
  const updateCompanyAsAdmin = (data: Record<string, unknown>) =>
    app.ui.updateRecord({ token: admin.token, objectNameSingular: 'company', id: company.id, data });

  return { workspace, workspaceId, admin, company, adminAuthContext, updateCompanyAsAdmin };
};

export const DROP_CONDITION_SCENARIOS: DropConditionScenario[] = [
  {
    name: 'no_active_streams',
    description: 'D1: nobody has a stream open in the workspace',
    expected: ALL('D1'),
    run: async (app) => {
      const { workspaceId, updateCompanyAsAdmin } = await setUp(app);

      await updateCompanyAsAdmin({ name: 'Acme (D1)' });

      return { workspaceId };
    },
  },
  {
    name: 'stream_expired',
    description: 'D2: the eventStream key expired but its id is still in the active set',
    expected: ALL('D2'),
    run: async (app) => {
      const { workspaceId, adminAuthContext, updateCompanyAsAdmin } = await setUp(app);
      const stream = await app.streams.createStreamState({
        workspaceId,
        authContext: adminAuthContext,
        queries: companyQuery(),
      });

      await app.streams.expire({ workspaceId, eventStreamId: stream.eventStreamId });
      await updateCompanyAsAdmin({ name: 'Acme (D2)' });

      return { workspaceId };
    },
  },
  {
    name: 'stream_without_queries',
    description: 'D3: the stream exists but no addQueryToEventStream succeeded yet',
    expected: ALL('D3'),
    run: async (app) => {
      const { workspaceId, adminAuthContext, updateCompanyAsAdmin } = await setUp(app);

      await app.streams.createStreamState({ workspaceId, authContext: adminAuthContext });
      await updateCompanyAsAdmin({ name: 'Acme (D3)' });

      return { workspaceId };
    },
  },
  {
    name: 'subscriber_without_user_workspace',
    description: 'D4: an API-key stream (no userWorkspaceId); V1 has no such check',
    expected: { v1: 'forwarded', v5: 'D4', v8: 'D4', publisher: "D4'", ...SEPTEMBER("D4'") },
    run: async (app) => {
      const { workspaceId, updateCompanyAsAdmin } = await setUp(app);
      const { apiKeyId } = await app.seed.apiKey({ workspaceId });

      await app.streams.createStreamState({
        workspaceId,
        authContext: { apiKeyId },
        queries: companyQuery(),
      });
      await updateCompanyAsAdmin({ name: 'Acme (D4)' });

      return { workspaceId };
    },
  },
  {
    name: 'subscriber_without_role',
    description: "D5: the subscriber's userWorkspace has no role (publisher: D4', empty role ids)",
    expected: { v1: 'forwarded', v5: 'D5', v8: 'D5', publisher: "D4'", ...SEPTEMBER("D4'") },
    run: async (app) => {
      const { workspaceId, updateCompanyAsAdmin } = await setUp(app);
      const roleless = await app.seed.user({ workspaceId, roleId: null });

      await app.streams.createStreamState({
        workspaceId,
        authContext: { userId: roleless.userId, userWorkspaceId: roleless.userWorkspaceId },
        queries: companyQuery(),
      });
      await updateCompanyAsAdmin({ name: 'Acme (D5)' });

      return { workspaceId };
    },
  },
  {
    name: 'role_missing_from_roles_permissions',
    description: "D5': the role id is known but the cached rolesPermissions lack it (V5/V8 see D6)",
    expected: { v1: 'forwarded', v5: 'D6', v8: 'D6', publisher: 'D5', ...SEPTEMBER('D5') },
    run: async (app) => {
      const { workspaceId, updateCompanyAsAdmin } = await setUp(app);
      const staleRoleUser = await app.seed.user({ workspaceId, roleId: 'role-not-in-cache' });

      await app.streams.createStreamState({
        workspaceId,
        authContext: { userId: staleRoleUser.userId, userWorkspaceId: staleRoleUser.userWorkspaceId },
        queries: companyQuery(),
      });
      await updateCompanyAsAdmin({ name: "Acme (D5')" });

      return { workspaceId };
    },
  },
  {
    name: 'subscriber_application_inactive',
    description: "D4': the stream acts through an application that is no longer active (publisher only)",
    expected: { v1: 'forwarded', v5: 'forwarded', v8: 'forwarded', publisher: "D4'", ...SEPTEMBER("D4'") },
    run: async (app) => {
      const { workspaceId, admin, updateCompanyAsAdmin } = await setUp(app);
      const { applicationId } = await app.seed.application({ workspaceId, active: false });

      await app.streams.createStreamState({
        workspaceId,
        authContext: { userId: admin.userId, userWorkspaceId: admin.userWorkspaceId, applicationId },
        queries: companyQuery(),
      });
      await updateCompanyAsAdmin({ name: "Acme (D4')" });

      return { workspaceId };
    },
  },
  {
    name: 'object_not_readable',
    description: "D6: the subscriber's role cannot read companies",
    expected: { v1: 'forwarded', v5: 'D6', v8: 'D6', publisher: 'D6', ...SEPTEMBER('D6', 'N2') },
    run: async (app) => {
      const { workspaceId, updateCompanyAsAdmin } = await setUp(app);
      const { roleId } = await app.seed.role({ workspaceId, objects: { company: { canRead: false } } });
      const reader = await app.seed.user({ workspaceId, roleId });

      await app.streams.createStreamState({
        workspaceId,
        authContext: { userId: reader.userId, userWorkspaceId: reader.userWorkspaceId },
        queries: companyQuery(),
      });
      await updateCompanyAsAdmin({ name: 'Acme (D6)' });

      return { workspaceId };
    },
  },
  {
    name: 'restricted_fields_only',
    description: 'D7: the update only touched fields the subscriber may not read',
    expected: { v1: 'forwarded', v5: 'D7', v8: 'D7', publisher: 'D7', ...SEPTEMBER('N5') },
    run: async (app) => {
      const { workspaceId, updateCompanyAsAdmin } = await setUp(app);
      const { roleId } = await app.seed.role({
        workspaceId,
        objects: { company: { restrictedFields: ['annualRecurringRevenue'] } },
      });
      const reader = await app.seed.user({ workspaceId, roleId });

      await app.streams.createStreamState({
        workspaceId,
        authContext: { userId: reader.userId, userWorkspaceId: reader.userWorkspaceId },
        queries: companyQuery(),
      });
      await updateCompanyAsAdmin({ annualRecurringRevenue: 1_000_000 });

      return { workspaceId };
    },
  },
  {
    name: 'record_share_denied',
    description: 'D7b: record sharing on, company PRIVATE, record not shared with the subscriber',
    expected: { v1: 'forwarded', v5: 'forwarded', v8: 'forwarded', publisher: 'D7b', ...SEPTEMBER('forwarded') },
    run: async (app) => {
      const { workspaceId, adminAuthContext, updateCompanyAsAdmin } = await setUp(app);

      await app.seed.featureFlag({ workspaceId, key: FeatureFlagKey.IS_RECORD_SHARING_ENABLED, value: true });
      await app.seed.objectReadability({ workspaceId, objectNameSingular: 'company', readability: 'PRIVATE' });
      await app.streams.createStreamState({ workspaceId, authContext: adminAuthContext, queries: companyQuery() });
      await updateCompanyAsAdmin({ name: 'Acme (D7b)' });

      return { workspaceId };
    },
  },
  {
    name: 'record_access_denied',
    description:
      'N2/N4: IS_RECORD_LEVEL_SHARING_ENABLED on, company PRIVATE, record not shared with the subscriber (the older flag and gate ignore it)',
    expected: { v1: 'forwarded', v5: 'forwarded', v8: 'forwarded', publisher: 'forwarded', ...SEPTEMBER('N4', 'N2') },
    run: async (app) => {
      const { workspaceId, adminAuthContext, updateCompanyAsAdmin } = await setUp(app);

      await app.seed.featureFlag({ workspaceId, key: FeatureFlagKey.IS_RECORD_LEVEL_SHARING_ENABLED, value: true });
      await app.seed.objectReadability({ workspaceId, objectNameSingular: 'company', readability: 'PRIVATE' });
      await app.streams.createStreamState({ workspaceId, authContext: adminAuthContext, queries: companyQuery() });
      await updateCompanyAsAdmin({ name: 'Acme (N2/N4)' });

      return { workspaceId };
    },
  },
  {
    name: 'no_matching_query',
    description: 'D8: the stream only watches people (September 2026: the early return before the gate, N1)',
    expected: { ...ALL('D8'), ...SEPTEMBER('N1') },
    run: async (app) => {
      const { workspaceId, adminAuthContext, updateCompanyAsAdmin } = await setUp(app);

      await app.streams.createStreamState({
        workspaceId,
        authContext: adminAuthContext,
        queries: { 'record-table-virtualized-person': { objectNameSingular: 'person' } },
      });
      await updateCompanyAsAdmin({ name: 'Acme (D8)' });

      return { workspaceId };
    },
  },
  {
    name: 'workflow_update_leaves_filter',
    description: 'D8 (the seed bug): a workflow moves a record out of the table filter; V5/V8 test only `after`',
    expected: { v1: 'forwarded', v5: 'D8', v8: 'D8', publisher: 'forwarded', ...SEPTEMBER('forwarded') },
    run: async (app) => {
      const { workspaceId, company, adminAuthContext } = await setUp(app);

      await app.streams.createStreamState({
        workspaceId,
        authContext: adminAuthContext,
        queries: companyQuery({ stage: { eq: 'LEAD' } }),
      });
      await app.workflows.runAutomatic({
        workspaceId,
        steps: [app.workflows.steps.updateRecord('company', company.id, { stage: 'WON' })],
      });

      return { workspaceId };
    },
  },
  {
    name: 'rls_predicate_excludes_record',
    description: "D8 via RLS: the subscriber's role only sees LEAD companies",
    expected: { v1: 'forwarded', v5: 'D8', v8: 'D8', publisher: 'D8', ...SEPTEMBER('D8', 'N2') },
    run: async (app) => {
      const { workspaceId, updateCompanyAsAdmin } = await setUp(app, { stage: 'WON' });
      const { roleId } = await app.seed.role({ workspaceId });
      const reader = await app.seed.user({ workspaceId, roleId });

      await app.seed.rlsPredicate({
        workspaceId,
        roleId,
        objectNameSingular: 'company',
        fieldName: 'stage',
        value: 'LEAD',
      });
      await app.streams.createStreamState({
        workspaceId,
        authContext: { userId: reader.userId, userWorkspaceId: reader.userWorkspaceId },
        queries: companyQuery(),
      });
      await updateCompanyAsAdmin({ name: 'Acme (RLS)' });

      return { workspaceId };
    },
  },
  {
    name: 'dynamic_rls_without_workspace_member',
    description:
      'D11 -> D8: RLS "owner = current member"; older streams carry no workspaceMemberId, the publisher resolves it',
    expected: { v1: 'forwarded', v5: 'D8', v8: 'D8', publisher: 'forwarded', ...SEPTEMBER('forwarded') },
    run: async (app) => {
      const workspace = await app.seed.workspace();
      const { workspaceId } = workspace;
      const { roleId } = await app.seed.role({ workspaceId });
      const owner = await app.seed.user({ workspaceId, roleId });
      const admin = await app.seed.user({ workspaceId });
      const company = await app.seed.record({
        workspaceId,
        objectNameSingular: 'company',
        data: { name: 'Owned', accountOwnerId: owner.workspaceMemberId },
      });

      await app.seed.rlsPredicate({
        workspaceId,
        roleId,
        objectNameSingular: 'company',
        fieldName: 'accountOwnerId',
        value: CURRENT_WORKSPACE_MEMBER_ID,
      });
      await app.streams.createStreamState({
        workspaceId,
        authContext: { userId: owner.userId, userWorkspaceId: owner.userWorkspaceId },
        queries: companyQuery(),
      });
      await app.ui.updateRecord({
        token: admin.token,
        objectNameSingular: 'company',
        id: company.id,
        data: { name: 'Owned 2' },
      });

      return { workspaceId };
    },
  },
  {
    name: 'workflow_update_without_change',
    description: 'NOT_EMITTED: a workflow step writes the values the record already has',
    expected: ALL('NOT_EMITTED'),
    run: async (app) => {
      // updatedBy is written too, so the record must already carry the workflow actor.
      const { workspaceId, company, adminAuthContext } = await setUp(app, {
        updatedBy: { source: 'WORKFLOW', name: 'Workflow', workspaceMemberId: null, context: {} },
      });

      await app.streams.createStreamState({ workspaceId, authContext: adminAuthContext, queries: companyQuery() });
      await app.workflows.runAutomatic({
        workspaceId,
        steps: [app.workflows.steps.updateRecord('company', company.id, { name: 'Acme' })],
      });

      return { workspaceId };
    },
  },
  {
    name: 'enrichment_failure',
    description: 'D10: nested-relation enrichment throws; V8 fails the stream, the publisher logs and sends',
    expected: { v8: 'failed', publisher: 'forwarded', ...SEPTEMBER('forwarded') },
    run: async (app) => {
      const { workspaceId, adminAuthContext, updateCompanyAsAdmin } = await setUp(app);

      await app.streams.createStreamState({ workspaceId, authContext: adminAuthContext, queries: companyQuery() });
      app.faults.failEnrichment(1);
      await updateCompanyAsAdmin({ name: 'Acme (D10)' });

      return { workspaceId };
    },
  },
];
