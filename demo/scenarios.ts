import { type TwentyGeneration } from '../example/app/example-config';
import { type SseStream, type TwentyLikeApp } from '../example/harness';
import { FeatureFlagKey, type RecordGqlOperationSignature } from '../example/twenty/twenty-shared/types';

/**
 * Demo scenarios: the situation this package was built for (a companies
 * table open in the browser while a user and a workflow update companies; the
 * workflow's changes never show) and one variant per suspected cause and per
 * drop condition (D-codes, see the README). Each
 * makes `events` UI updates and `events` workflow updates, interleaved. The
 * trigger recipes are those of example/drop-conditions.ts, scaled up.
 */
export type DemoScenario = {
  name: string;
  /** One line for --list. */
  summary: string;
  /** What is set up, for the reader: who has which stream open, what the UI and the workflow do. */
  situation: (events: number) => { stream: string; ui: string; workflow: string };
  /** What this scenario checks: a suspected cause or the drop condition (D-code), in Twenty's terms. */
  checks: string;
  /** A next command worth running after this one. */
  tryNext?: string;
  /** Generations whose code has this condition; in the others the demo says what to expect instead. */
  conditionIn: readonly TwentyGeneration[];
  notInOtherGenerations?: string;
  /** Injects its fault inside the app's own process: runs in the one-process demo only, not against separate processes. */
  inProcessOnly?: true;
  run: (app: TwentyLikeApp, events: number) => Promise<ScenarioRun>;
};

export type ScenarioRun = {
  /** SSE streams the scenario opened: the demo waits for their deliveries and counts what they received. */
  streams: SseStream[];
  uiRecordIds: string[];
  workflowRecordIds: string[];
};

type Received = { sent: number; received: number };
export type BrowserReceived = { streamsOpen: number; ui: Received; workflow: Received };

const DELIVERY_TIMEOUT_MS = 5_000;

/** Waits until each open stream received what the pipeline forwarded to it (or a timeout: the report shows the gap). */
export const waitForDeliveries = async (app: TwentyLikeApp, run: ScenarioRun) => {
  await app.settle({ quietMs: 50 });
  const records = app.readGroundTruth();

  for (const stream of run.streams) {
    const forwarded = records
      .filter((record) => record.kind === 'forwarded' && record.streamChannelId === stream.channelId)
      .reduce((sum, record) => sum + record.count, 0);

    await stream.waitForEvents((events) => events.length >= forwarded, DELIVERY_TIMEOUT_MS).catch(() => undefined);
  }
};

/** What the scenario's open streams received of its UI and of its workflow updates. */
export const countReceived = (run: ScenarioRun, events: number): BrowserReceived => {
  const ui = new Set(run.uiRecordIds);
  const workflow = new Set(run.workflowRecordIds);
  const delivered = run.streams.flatMap((stream) => stream.events());

  return {
    streamsOpen: run.streams.length,
    ui: { sent: events, received: delivered.filter(({ event }) => ui.has(event.recordId)).length },
    workflow: { sent: events, received: delivered.filter(({ event }) => workflow.has(event.recordId)).length },
  };
};

export const ALL: readonly TwentyGeneration[] = ['v1', 'v5', 'v8', 'publisher', 'record_share', 'record_access'];
const WITH_PERMISSIONS: readonly TwentyGeneration[] = ['v5', 'v8', 'publisher', 'record_share', 'record_access'];
const SEPTEMBER_2026: readonly TwentyGeneration[] = ['record_share', 'record_access'];
const V1_HAS_NO_PERMISSION_CHECKS =
  'v1 has no permission checks in processStreamEvents: expect every event to be delivered.';

// What a workflow step writes to updatedBy (buildWorkflowActorMetadata in Twenty).
const WORKFLOW_ACTOR = { source: 'WORKFLOW', name: 'Workflow', workspaceMemberId: null, context: {} };

const TABLE_QUERY_ID = 'record-table-virtualized-company';
const companiesTable = (filter: Record<string, unknown> = {}): RecordGqlOperationSignature => ({
  objectNameSingular: 'company',
  variables: { filter },
});

type Workspace = {
  workspaceId: string;
  /** An admin user: edits companies in the browser and, unless a scenario says otherwise, has the table open. */
  editor: { token: string; userId: string; userWorkspaceId: string };
  uiCompanies: { id: string; name: string }[];
  workflowCompanies: { id: string; name: string }[];
};

// A workspace with an admin user and 2 x `events` companies: the first half is
// edited in the UI, the second half by the workflow.
const seedWorkspace = async (
  app: TwentyLikeApp,
  events: number,
  {
    uiCompany = {},
    workflowCompany = {},
  }: { uiCompany?: Record<string, unknown>; workflowCompany?: Record<string, unknown> } = {},
): Promise<Workspace> => {
  const { workspaceId } = await app.seed.workspace();
  const editor = await app.seed.user({ workspaceId });
  const seedCompanies = (label: string, data: Record<string, unknown>) =>
    Promise.all(
      Array.from({ length: events }, (_, index) =>
        app.seed.record({
          workspaceId,
          objectNameSingular: 'company',
          data: { name: `${label} ${index + 1}`, stage: 'LEAD', employees: 10, ...data },
        }),
      ),
    ) as Promise<{ id: string; name: string }[]>;

  return {
    workspaceId,
    editor,
    uiCompanies: await seedCompanies('Company edited in the UI', uiCompany),
    workflowCompanies: await seedCompanies('Company updated by the workflow', workflowCompany),
  };
};

// The browser: an SSE event stream, plus the table's query unless `query` is null.
const openTable = async (
  app: TwentyLikeApp,
  token: string,
  query: RecordGqlOperationSignature | null = companiesTable(),
): Promise<SseStream> => {
  const stream = await app.streams.open({ token });

  if (query) {
    await stream.addQuery({ queryId: TABLE_QUERY_ID, operationSignature: query });
  }

  return stream;
};

type UpdateInput = { app: TwentyLikeApp; workspace: Workspace; index: number };

const renameInUi = ({ app, workspace, index }: UpdateInput) => {
  const company = workspace.uiCompanies[index];

  return app.ui.updateRecord({
    token: workspace.editor.token,
    objectNameSingular: 'company',
    id: company.id,
    data: { name: `${company.name} (renamed)` },
  });
};

// An automatic workflow run (database-event trigger: it acts as the Twenty
// Standard Application) with one update step.
const runWorkflowUpdate = async (
  app: TwentyLikeApp,
  workspaceId: string,
  objectName: string,
  recordId: string,
  data: Record<string, unknown>,
) => {
  const run = await app.workflows.runAutomatic({
    workspaceId,
    steps: [app.workflows.steps.updateRecord(objectName, recordId, data)],
  });

  if (run.status !== 'COMPLETED') {
    throw new Error(`workflow run ${run.workflowRunId} ended ${run.status}`);
  }
};

const workflowSetsEmployees = ({ app, workspace, index }: UpdateInput) =>
  runWorkflowUpdate(app, workspace.workspaceId, 'company', workspace.workflowCompanies[index].id, {
    employees: 100 + index,
  });

// UI and workflow updates take turns, as they would on a busy table.
const interleave = async (
  app: TwentyLikeApp,
  workspace: Workspace,
  events: number,
  ui: (input: UpdateInput) => Promise<unknown> = renameInUi,
  workflow: (input: UpdateInput) => Promise<unknown> = workflowSetsEmployees,
) => {
  for (let index = 0; index < events; index++) {
    await ui({ app, workspace, index });
    await workflow({ app, workspace, index });
  }
};

const runOf = (workspace: Workspace, streams: SseStream[]): ScenarioRun => ({
  streams,
  uiRecordIds: workspace.uiCompanies.map((company) => company.id),
  workflowRecordIds: workspace.workflowCompanies.map((company) => company.id),
});

// The browser user has the whole companies table open; UI renames, the workflow sets employee counts.
const tableOpenBy = async (
  app: TwentyLikeApp,
  events: number,
  subscriberToken: (workspace: Workspace) => Promise<string>,
  options: { beforeUpdates?: (workspace: Workspace) => Promise<void>; query?: RecordGqlOperationSignature | null } = {},
): Promise<ScenarioRun> => {
  const workspace = await seedWorkspace(app, events);

  await options.beforeUpdates?.(workspace);
  const stream = await openTable(app, await subscriberToken(workspace), options.query);

  await interleave(app, workspace, events);

  return runOf(workspace, [stream]);
};

const UI_RENAMES = (events: number, who = 'a user') => `${who} renames ${events} companies`;
const WORKFLOW_SETS_EMPLOYEES = (events: number) =>
  `an automatic workflow sets the employee count of ${events} other companies`;

export const DEMO_SCENARIOS: DemoScenario[] = [
  {
    name: 'workflow-leaves-filter',
    summary: "the default: a workflow moves records out of the open table's filter",
    situation: (events) => ({
      stream: 'a user has the companies table open in the browser, filtered on stage = LEAD',
      ui: `the user renames ${events} LEAD companies (they stay in the filter)`,
      workflow: `an automatic workflow moves ${events} other LEAD companies to stage WON (out of the filter)`,
    }),
    checks:
      'the most likely cause of tables not refreshing after workflows (D8): before ObjectRecordEventPublisher only the record AFTER the update is matched against the table filter, so an update that takes a record out of the filter is never delivered and the row stays on screen.',
    tryNext:
      'npm run demo -- --generation publisher (the newest publisher also matches the record BEFORE the update: the workflow column reaches deliver)',
    conditionIn: ['v5', 'v8'],
    notInOtherGenerations:
      'v1 matches on the object name only and the publisher also tests the record before the update: expect every event to be delivered.',
    run: async (app, events) => {
      const workspace = await seedWorkspace(app, events);
      const stream = await openTable(app, workspace.editor.token, companiesTable({ stage: { eq: 'LEAD' } }));

      await interleave(app, workspace, events, renameInUi, ({ index }) =>
        runWorkflowUpdate(app, workspace.workspaceId, 'company', workspace.workflowCompanies[index].id, {
          stage: 'WON',
        }),
      );

      return runOf(workspace, [stream]);
    },
  },
  {
    name: 'healthy',
    summary: 'the baseline: every UI and workflow update reaches the open table',
    situation: (events) => ({
      stream: 'a user has the companies table open in the browser (no filter)',
      ui: UI_RENAMES(events),
      workflow: WORKFLOW_SETS_EMPLOYEES(events),
    }),
    checks:
      'the baseline: with a logged-in subscriber and a matching query, workflow events travel exactly like UI events.',
    conditionIn: ALL,
    run: (app, events) => tableOpenBy(app, events, async (workspace) => workspace.editor.token),
  },
  {
    name: 'subscriber-without-user-workspace',
    summary: 'the only open stream belongs to an API key (no userWorkspaceId)',
    situation: (events) => ({
      stream: 'an integration listens to the companies table with an API key; no browser is open',
      ui: UI_RENAMES(events),
      workflow: WORKFLOW_SETS_EMPLOYEES(events),
    }),
    checks:
      "the first suspect, `if (!isDefined(userWorkspaceId)) return;` in the per-stream method. That check reads the SUBSCRIBER's identity stored with the stream, not the workflow's, so it drops UI events just as much, and only for streams without a user (D4).",
    conditionIn: WITH_PERMISSIONS,
    notInOtherGenerations: V1_HAS_NO_PERMISSION_CHECKS,
    run: (app, events) =>
      tableOpenBy(app, events, async ({ workspaceId }) => (await app.seed.apiKey({ workspaceId })).token),
  },
  {
    name: 'subscriber-without-role',
    summary: "the browser user's userWorkspace has no role in the cached role map",
    situation: (events) => ({
      stream: 'a user whose membership has no role (or a stale workspace cache) has the companies table open',
      ui: UI_RENAMES(events, 'an admin'),
      workflow: WORKFLOW_SETS_EMPLOYEES(events),
    }),
    checks:
      "the next suspect: permissionsContext.userWorkspaceRoleMap has no role for the subscriber (D5; in the publisher resolveStreamRoleIds returns [], D4'). Again the subscriber's, so UI events are dropped too.",
    conditionIn: WITH_PERMISSIONS,
    notInOtherGenerations: V1_HAS_NO_PERMISSION_CHECKS,
    run: (app, events) =>
      tableOpenBy(app, events, async ({ workspaceId }) => (await app.seed.user({ workspaceId, roleId: null })).token),
  },
  {
    name: 'no-active-streams',
    summary: 'nobody has an event stream open (SSE flag off in the front end, or TTL expired)',
    situation: (events) => ({
      stream: 'no event stream is open: the front end opens one only when IS_SSE_DB_EVENTS_ENABLED is on',
      ui: UI_RENAMES(events),
      workflow: WORKFLOW_SETS_EMPLOYEES(events),
    }),
    checks:
      'does eventStreamService.getActiveStreamIds(workspaceId) return anything? If not, every event is dropped before any per-stream check (D1).',
    conditionIn: ALL,
    run: async (app, events) => {
      const workspace = await seedWorkspace(app, events);

      await interleave(app, workspace, events);

      return runOf(workspace, []);
    },
  },
  {
    name: 'stream-without-queries',
    summary: 'the stream is open but the table has not registered its query yet',
    situation: (events) => ({
      stream: 'a user has an event stream open, but no addQueryToEventStream has succeeded yet',
      ui: UI_RENAMES(events),
      workflow: WORKFLOW_SETS_EMPLOYEES(events),
    }),
    checks:
      'D3: the stream has no query yet, e.g. during the race right after a (re)connect, so every event is skipped for it.',
    conditionIn: ALL,
    run: (app, events) => tableOpenBy(app, events, async (workspace) => workspace.editor.token, { query: null }),
  },
  {
    name: 'stream-expired',
    summary: "the stream's data key expired while its id stayed in the active set",
    situation: (events) => ({
      stream: "a user had the companies table open; the stream's Redis key expired (30 min TTL, no heartbeat)",
      ui: UI_RENAMES(events),
      workflow: WORKFLOW_SETS_EMPLOYEES(events),
    }),
    checks:
      'D2: the stream id is still in the active set but its data is gone. Twenty skips the stream for the first event and removes the id, so every later event finds no active stream at all (D1).',
    conditionIn: ALL,
    run: async (app, events) => {
      const workspace = await seedWorkspace(app, events);
      const stream = await openTable(app, workspace.editor.token);

      await app.streams.expire({ workspaceId: workspace.workspaceId, eventStreamId: stream.eventStreamId });
      await interleave(app, workspace, events);

      return runOf(workspace, [stream]);
    },
  },
  {
    name: 'no-live-connection',
    summary: 'events are published to a stream whose connection is gone (its tab closed while its server was down)',
    situation: (events) => ({
      stream:
        'a user has the companies table open; a second tab of theirs was served by an API server that went away without cleaning up (a crash, or a deploy that did not drain) and was then closed, so its stream stays registered until its 30 min TTL with nobody subscribed to it',
      ui: UI_RENAMES(events),
      workflow: WORKFLOW_SETS_EMPLOYEES(events),
    }),
    checks:
      "does each event-stream publish reach a subscriber? Redis answers every PUBLISH with the number of subscribers it delivered to, and Twenty's pub/sub client (graphql-redis-subscriptions) throws that number away; the package reads it, so a publish into the left-behind stream is dropped at pubsub as no_live_connection, for UI and workflow events alike, while the open tab gets everything. The in-memory pub/sub of the demo gives no count (the demo says so): run it on Redis, REDIS_URL=redis://... npm run demo -- --scenario no-live-connection.",
    conditionIn: ALL,
    run: async (app, events) => {
      const workspace = await seedWorkspace(app, events);
      const stream = await openTable(app, workspace.editor.token);

      // What the dead server left behind: the second tab's stream, its query registered, no subscriber.
      await app.streams.createStreamState({
        workspaceId: workspace.workspaceId,
        authContext: { userId: workspace.editor.userId, userWorkspaceId: workspace.editor.userWorkspaceId },
        queries: { [TABLE_QUERY_ID]: companiesTable() },
      });
      await interleave(app, workspace, events);

      return runOf(workspace, [stream]);
    },
  },
  {
    name: 'workspace-mismatch',
    summary: 'the workflow runs in another workspace than the open table',
    situation: (events) => ({
      stream: 'a user has the companies table of workspace A open',
      ui: `the user renames ${events} companies in workspace A`,
      workflow: `an automatic workflow updates ${events} companies of workspace B, where nobody has a stream open`,
    }),
    checks:
      "is the workflow's workspaceId the one the stream was opened in? If not, the workflow's batch finds no active stream (D1).",
    conditionIn: ALL,
    run: async (app, events) => {
      const workspaceA = await seedWorkspace(app, events);
      const workspaceB = await seedWorkspace(app, events);
      const stream = await openTable(app, workspaceA.editor.token);

      await interleave(app, workspaceA, events, renameInUi, ({ index }) =>
        workflowSetsEmployees({ app, workspace: workspaceB, index }),
      );

      return {
        streams: [stream],
        uiRecordIds: workspaceA.uiCompanies.map((company) => company.id),
        workflowRecordIds: workspaceB.workflowCompanies.map((company) => company.id),
      };
    },
  },
  {
    name: 'rls-mismatch',
    summary: "the subscriber's row-level permission hides the records the workflow changes",
    situation: (events) => ({
      stream: 'a sales rep whose role only sees LEAD companies (row-level permission) has the companies table open',
      ui: `an admin renames ${events} LEAD companies`,
      workflow: `an automatic workflow updates ${events} WON companies, which the rep cannot see`,
    }),
    checks:
      "D8 via RLS: the role's row-level predicate, combined with the table's filter, does not match the record, so the event is not sent to that subscriber (by design: the rep may not see it).",
    conditionIn: WITH_PERMISSIONS,
    notInOtherGenerations: V1_HAS_NO_PERMISSION_CHECKS,
    run: async (app, events) => {
      const workspace = await seedWorkspace(app, events, { workflowCompany: { stage: 'WON' } });
      const { roleId } = await app.seed.role({ workspaceId: workspace.workspaceId });
      const rep = await app.seed.user({ workspaceId: workspace.workspaceId, roleId });

      await app.seed.rlsPredicate({
        workspaceId: workspace.workspaceId,
        roleId,
        objectNameSingular: 'company',
        fieldName: 'stage',
        value: 'LEAD',
      });
      const stream = await openTable(app, rep.token);

      await interleave(app, workspace, events);

      return runOf(workspace, [stream]);
    },
  },
  {
    name: 'query-mismatch',
    summary: 'the workflow updates another object than the table that is open',
    situation: (events) => ({
      stream: 'a user has the companies table open',
      ui: UI_RENAMES(events),
      workflow: `an automatic workflow updates ${events} people; no open query watches people`,
    }),
    checks:
      "D8: no registered query of the stream has the event's object, so the event matches nothing (the people table would refresh if it were open). In the September 2026 publishers this is the early return before the access gate (N1).",
    conditionIn: ALL,
    run: async (app, events) => {
      const workspace = await seedWorkspace(app, events);
      const people = await Promise.all(
        Array.from({ length: events }, (_, index) =>
          app.seed.record({
            workspaceId: workspace.workspaceId,
            objectNameSingular: 'person',
            data: { name: `Person updated by the workflow ${index + 1}`, jobTitle: 'Buyer' },
          }),
        ),
      );
      const stream = await openTable(app, workspace.editor.token);

      await interleave(app, workspace, events, renameInUi, ({ index }) =>
        runWorkflowUpdate(app, workspace.workspaceId, 'person', people[index].id, { jobTitle: 'Decision maker' }),
      );

      return { ...runOf(workspace, [stream]), workflowRecordIds: people.map((person) => person.id) };
    },
  },
  {
    name: 'object-not-readable',
    summary: "the subscriber's role cannot read companies",
    situation: (events) => ({
      stream: 'a user whose role has canReadObjectRecords = false on companies has a companies query registered',
      ui: UI_RENAMES(events, 'an admin'),
      workflow: WORKFLOW_SETS_EMPLOYEES(events),
    }),
    checks: "D6: the subscriber's role may not read the object, so no event of it is sent to that stream.",
    conditionIn: WITH_PERMISSIONS,
    notInOtherGenerations: V1_HAS_NO_PERMISSION_CHECKS,
    run: (app, events) =>
      tableOpenBy(app, events, async ({ workspaceId }) => {
        const { roleId } = await app.seed.role({ workspaceId, objects: { company: { canRead: false } } });

        return (await app.seed.user({ workspaceId, roleId })).token;
      }),
  },
  {
    name: 'restricted-fields-only',
    summary: 'the workflow only changes a field the subscriber may not read',
    situation: (events) => ({
      stream: 'a user whose role may not read annualRecurringRevenue has the companies table open',
      ui: UI_RENAMES(events, 'an admin'),
      workflow: `an automatic workflow sets annualRecurringRevenue on ${events} other companies`,
    }),
    checks:
      'D7: after filterRestrictedFieldsFromEvent removes the fields the subscriber may not read, no updated field is left, so the event is skipped (by design).',
    conditionIn: WITH_PERMISSIONS,
    notInOtherGenerations: V1_HAS_NO_PERMISSION_CHECKS,
    run: async (app, events) => {
      // Last updated by a workflow already, so updatedBy does not change and ARR is the only updated field.
      const workspace = await seedWorkspace(app, events, { workflowCompany: { updatedBy: WORKFLOW_ACTOR } });
      const { roleId } = await app.seed.role({
        workspaceId: workspace.workspaceId,
        objects: { company: { restrictedFields: ['annualRecurringRevenue'] } },
      });
      const reader = await app.seed.user({ workspaceId: workspace.workspaceId, roleId });
      const stream = await openTable(app, reader.token);

      await interleave(app, workspace, events, renameInUi, ({ index }) =>
        runWorkflowUpdate(app, workspace.workspaceId, 'company', workspace.workflowCompanies[index].id, {
          annualRecurringRevenue: 1_000_000 + index,
        }),
      );

      return runOf(workspace, [stream]);
    },
  },
  {
    name: 'record-share-denied',
    summary: 'record sharing is on, companies are private and none is shared with the subscriber',
    situation: (events) => ({
      stream: 'a user has the companies table open; IS_RECORD_SHARING_ENABLED is on and companies are PRIVATE',
      ui: UI_RENAMES(events),
      workflow: WORKFLOW_SETS_EMPLOYEES(events),
    }),
    checks:
      'D7b: the record-share gate of ObjectRecordEventPublisher does not admit records not shared with the subscriber.',
    conditionIn: ['publisher'],
    notInOtherGenerations:
      'Only ObjectRecordEventPublisher up to 009451dc has this per-stream share gate (IS_RECORD_SHARING_ENABLED); the September 2026 forms use RecordAccessPolicyService and IS_RECORD_LEVEL_SHARING_ENABLED instead: expect every event to be delivered.',
    run: (app, events) =>
      tableOpenBy(app, events, async (workspace) => workspace.editor.token, {
        beforeUpdates: async ({ workspaceId }) => {
          await app.seed.featureFlag({ workspaceId, key: FeatureFlagKey.IS_RECORD_SHARING_ENABLED, value: true });
          await app.seed.objectReadability({ workspaceId, objectNameSingular: 'company', readability: 'PRIVATE' });
        },
      }),
  },
  {
    name: 'record-access-denied',
    summary:
      'record-level sharing is on, companies are private and none is shared with the subscriber (September 2026)',
    situation: (events) => ({
      stream: 'a user has the companies table open; IS_RECORD_LEVEL_SHARING_ENABLED is on and companies are PRIVATE',
      ui: UI_RENAMES(events),
      workflow: WORKFLOW_SETS_EMPLOYEES(events),
    }),
    checks:
      "N2/N4: RecordAccessPolicyService's record-access gate admits none of the records for the subscriber (no record share for its principals); 2c712b6a skips the whole stream when the admitted set is empty (N2), faec8d88 skips each event (N4).",
    conditionIn: SEPTEMBER_2026,
    notInOtherGenerations:
      'Only the September 2026 publishers ask RecordAccessPolicyService, and IS_RECORD_LEVEL_SHARING_ENABLED is their flag: expect every event to be delivered.',
    run: (app, events) =>
      tableOpenBy(app, events, async (workspace) => workspace.editor.token, {
        beforeUpdates: async ({ workspaceId }) => {
          await app.seed.featureFlag({ workspaceId, key: FeatureFlagKey.IS_RECORD_LEVEL_SHARING_ENABLED, value: true });
          await app.seed.objectReadability({ workspaceId, objectNameSingular: 'company', readability: 'PRIVATE' });
        },
      }),
  },
  {
    name: 'subscriber-application-inactive',
    summary: 'the stream acts through an application that is no longer active',
    situation: (events) => ({
      stream: 'a user signed in through an application that was since deactivated has the companies table open',
      ui: UI_RENAMES(events, 'an admin'),
      workflow: WORKFLOW_SETS_EMPLOYEES(events),
    }),
    checks: "D4': resolveStreamRoleIds returns [] because the stream's application is inactive.",
    conditionIn: ['publisher', ...SEPTEMBER_2026],
    notInOtherGenerations:
      "Only ObjectRecordEventPublisher resolves roles through the stream's application: expect every event to be delivered.",
    run: (app, events) =>
      tableOpenBy(app, events, async ({ workspaceId }) => {
        const { applicationId } = await app.seed.application({ workspaceId, active: false });

        return (await app.seed.user({ workspaceId, viaApplicationId: applicationId })).token;
      }),
  },
  {
    name: 'not-emitted',
    summary: 'the workflow writes the values the records already have: no event at all',
    situation: (events) => ({
      stream: 'a user has the companies table open',
      ui: UI_RENAMES(events),
      workflow: `an automatic workflow "updates" ${events} other companies with the values they already have`,
    }),
    checks:
      'do workflow mutations reach EntityEventsToDbListener and publishToEventStreams at all? A write that changes nothing emits no database event, so nothing downstream ever sees it.',
    conditionIn: ALL,
    run: async (app, events) => {
      // updatedBy is written too, so the records already carry the workflow actor.
      const workspace = await seedWorkspace(app, events, { workflowCompany: { updatedBy: WORKFLOW_ACTOR } });
      const stream = await openTable(app, workspace.editor.token);

      await interleave(app, workspace, events, renameInUi, ({ index }) => {
        const company = workspace.workflowCompanies[index];

        return runWorkflowUpdate(app, workspace.workspaceId, 'company', company.id, { name: company.name });
      });

      return runOf(workspace, [stream]);
    },
  },
  {
    name: 'enrichment-failure',
    summary: "loading the workflow events' nested relations throws",
    situation: (events) => ({
      stream: 'a user has the companies table open',
      ui: UI_RENAMES(events),
      workflow: `${WORKFLOW_SETS_EMPLOYEES(events)}; enriching each of its events with nested relations throws`,
    }),
    checks:
      'D10: in v8 an exception in enrichEventBatchWithNestedRelations is not caught: it aborts the stream loop and fails the listener. The publisher catches it and sends the event without relations.',
    conditionIn: ['v8'],
    notInOtherGenerations:
      'v1 and v5 do not enrich events and the publisher catches the error: expect every event to be delivered.',
    inProcessOnly: true,
    run: async (app, events) => {
      const workspace = await seedWorkspace(app, events);
      const stream = await openTable(app, workspace.editor.token);

      await interleave(app, workspace, events, renameInUi, async (input) => {
        app.faults.failEnrichment(1);
        await workflowSetsEmployees(input);
      });

      return runOf(workspace, [stream]);
    },
  },
];

export const DEFAULT_SCENARIO = 'workflow-leaves-filter';

export const findScenario = (name: string): DemoScenario | undefined =>
  DEMO_SCENARIOS.find((scenario) => scenario.name === name);
