/**
 * The whole product on real components: the built collector and Jaeger v2, the
 * Debian Prometheus loading the shipped rules (test/helpers/stack.ts), and the
 * example app's two processes (API server and queue worker, generation v5,
 * real Redis) started with `--require dist/src/register.js`, driven by a real
 * graphql-sse client.
 *
 * Scenario 1 (drops): in one workspace an admin watches the companies table
 * filtered on stage = LEAD, and a user without a role watches all companies.
 * Twice (a fresh LEAD company each round, so counters grow after their first
 * scrape and rate() panels have data):
 *   - UI update (stays in the filter): delivered to the admin; D5 subscriber_without_role on the other stream.
 *   - workflow update that stays in the filter: delivered to the admin; D5.
 *   - workflow update that moves the record out of the filter (stage WON): D8
 *     no_matching_query for the admin (v5 matches only the new values); D5.
 * Before the app starts, one span larger than Jaeger's 4 MiB gRPC limit goes to
 * the collector: its export fails for real, so the collector export-failure
 * panel has data and CollectorExportFailing fires.
 * Checked: the Prometheus funnel equals the app's ground truth (per job,
 * stage, origin, outcome, reason); Jaeger returns the workflow traces with the
 * drop and one worker-to-server trace per delivered workflow event; every
 * dashboard query has data; only the collector alert fires (so few drops are
 * below every share's minimum volume); the doctor CLI reports the
 * ground-truth numbers, D8 as routine and D5 as loss, and links the dropped
 * workflow traces.
 *
 * Scenario 2 (no drops): fresh stack and processes, every event delivered:
 * no alert is pending or firing, the doctor exits 0.
 *
 * Scenario 3 (the last mile): fresh stack and processes; of two tabs watching
 * companies one closes its connection, and a third stream stays registered
 * with nobody subscribed (a tab whose API server went away without cleaning
 * up); a UI and a workflow update follow (each published once into that
 * stream: no_live_connection), the closed tab comes back under the same stream
 * id (a re-subscription), and a second UI and workflow update follow.
 * Checked: the pubsub counters equal the ground truth's publishes and receipts,
 * the connection counters, and every last-mile dashboard query has data.
 */
import * as fs from 'node:fs';
import { randomBytes } from 'node:crypto';
import { dashboardQueries } from '../../dashboards/generator/dashboard';
import { runAllDashboardQueries, type QueryCheck } from '../../dashboards/generator/promql-check';
import { recordNames } from '../../dashboards/generator/rules';
import type { GroundTruthRecord, SseStream, TwentyLikeApp, WorkflowRunResult } from '../../example/harness';
import { startTwentyLikeApp } from '../../example/harness';
import { pubsubOutcomes } from '../../example/app/ground-truth';
import { ATTR, PROM } from '../../src/semconv';
import IORedis from 'ioredis';
import {
  ROOT,
  getJson,
  promAlerts,
  promQuery,
  redisUrlWithDb,
  runCli,
  startExampleProcesses,
  startStack,
  waitFor,
  waitForRuleEvaluation,
  type ExampleProcesses,
  type PromAlert,
  type Stack,
} from '../helpers/stack';

jest.setTimeout(90_000);

const SERVER_JOB = 'twenty-server';
const WORKER_JOB = 'twenty-worker';
const JOB_OF_PROCESS: Record<string, string> = { server: SERVER_JOB, worker: WORKER_JOB };
const COMPANY_TABLE_QUERY = 'record-table-virtualized-company';
/** Dashboard queries (panel and refId) that have series only once a tab went away, came back or was sent to nobody. */
const LAST_MILE_QUERIES_NEEDING_A_GONE_TAB = [
  'Publishes with no live connection, by origin A',
  'Share of publishes that reached no subscriber A',
  'Reconnect rate A',
  'SSE connections: open, opened and closed by reason C',
  'Connection lifetimes A',
  // an event handed to a connection while it closes needs a publish racing the close: the unit and live-Prometheus
  // dashboard tests cover it with exact series, an end-to-end run cannot make it happen on purpose
  'Events handed to a closing connection A',
];
const EMPTY_WITHOUT_A_RACE = 'Events handed to a closing connection A';

// ---------------------------------------------------------------------------
// funnel keys: job|stage|origin|outcome|reason -> count

type Counts = Record<string, number>;

const add = (counts: Counts, key: string, count: number) => {
  counts[key] = (counts[key] ?? 0) + count;
};

/**
 * What the example app recorded: drops (any stage), (event x stream) pairs
 * forwarded or failed at `stream`, and emitted events (counted as `emit|...|in`).
 */
function groundTruthCounts(records: GroundTruthRecord[], withJob = true): Counts {
  const counts: Counts = {};
  for (const record of records) {
    const job = withJob ? `${JOB_OF_PROCESS[record.process] ?? record.process}|` : '';
    if (record.kind === 'dropped')
      add(counts, `${job}${record.stage}|${record.origin}|dropped|${record.reason}`, record.count);
    else if (record.kind === 'forwarded') add(counts, `${job}stream|${record.origin}|forwarded|`, record.count);
    else if (record.kind === 'failed') add(counts, `${job}stream|${record.origin}|failed|`, record.count);
    else if (record.kind === 'emitted') add(counts, `${job}emit|${record.origin}|in|`, record.count);
  }
  return counts;
}

interface FunnelRow {
  job?: string;
  stage: string;
  origin: string;
  outcome: string;
  reason?: string;
  count: number;
}

/** The same keys from instrumentation rows: every drop or failure at any stage, stream forwarded, emit in. */
function instrumentationCounts(rows: FunnelRow[], withJob = true): Counts {
  const counts: Counts = {};
  for (const row of rows) {
    if (row.count === 0) continue;
    const job = withJob ? `${row.job}|` : '';
    if (row.outcome === 'dropped')
      add(counts, `${job}${row.stage}|${row.origin}|dropped|${row.reason ?? ''}`, row.count);
    else if (row.outcome === 'failed') add(counts, `${job}${row.stage}|${row.origin}|failed|`, row.count);
    else if (row.stage === 'stream') add(counts, `${job}stream|${row.origin}|forwarded|`, row.count);
    if (row.stage === 'emit') add(counts, `${job}emit|${row.origin}|in|`, row.count);
  }
  return counts;
}

async function prometheusFunnel(promUrl: string): Promise<FunnelRow[]> {
  const samples = await promQuery(
    promUrl,
    `sum by (job, ${PROM.LABEL_STAGE}, ${PROM.LABEL_ORIGIN}, ${PROM.LABEL_OUTCOME}, ${PROM.LABEL_DROP_REASON}) (${PROM.STAGE_EVENTS})`,
  );
  return samples.map(({ metric, value }) => ({
    job: metric.job,
    stage: metric[PROM.LABEL_STAGE],
    origin: metric[PROM.LABEL_ORIGIN],
    outcome: metric[PROM.LABEL_OUTCOME],
    reason: metric[PROM.LABEL_DROP_REASON],
    count: Number(value[1]),
  }));
}

const sortedEntries = (counts: Counts) => Object.entries(counts).sort(([a], [b]) => a.localeCompare(b));

/** Polls Prometheus until its funnel equals `expected` (exports every 1s, scrapes every 1s); returns the last funnel. */
async function waitForFunnel(
  stack: Stack,
  expected: Counts,
  extra: (rows: FunnelRow[]) => boolean = () => true,
): Promise<FunnelRow[]> {
  let last: FunnelRow[] = [];
  try {
    return await waitFor(
      'the Prometheus funnel to equal the ground truth',
      async () => {
        last = await prometheusFunnel(stack.promUrl);
        const same =
          JSON.stringify(sortedEntries(instrumentationCounts(last))) === JSON.stringify(sortedEntries(expected));
        return same && extra(last) ? last : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 500 },
    );
  } catch {
    return last; // the caller's expect shows the difference
  }
}

/** events handed to SSE connections, per origin, from Prometheus (the `deliver` stage). */
const deliveredByOrigin = (rows: FunnelRow[]) =>
  Object.fromEntries(
    rows
      .filter((row) => row.stage === 'deliver' && row.outcome === 'forwarded')
      .map((row) => [row.origin, row.count] as const)
      .sort(([a], [b]) => a.localeCompare(b)),
  );

// ---------------------------------------------------------------------------
// Jaeger HTTP API

interface JaegerKeyValue {
  key: string;
  value: unknown;
}
interface JaegerSpan {
  traceID: string;
  spanID: string;
  operationName: string;
  processID: string;
  references: { refType: string; traceID: string; spanID: string }[];
  tags: JaegerKeyValue[];
  logs: { fields: JaegerKeyValue[] }[];
}
interface JaegerTrace {
  traceID: string;
  spans: JaegerSpan[];
  processes: Record<string, { serviceName: string }>;
}

const tagsOf = (span: { tags: JaegerKeyValue[] }) =>
  Object.fromEntries(span.tags.map(({ key, value }) => [key, value]));
const serviceOf = (trace: JaegerTrace, span: JaegerSpan) => trace.processes[span.processID]?.serviceName;

async function jaegerSearch(
  jaegerUrl: string,
  service: string,
  tags: Record<string, string>,
  sinceMs: number,
): Promise<JaegerTrace[]> {
  const params = new URLSearchParams({
    service,
    tags: JSON.stringify(tags),
    start: String(sinceMs * 1000),
    end: String((Date.now() + 60_000) * 1000),
    limit: '20',
  });
  const body = await getJson<{ data: JaegerTrace[] | null; errors: unknown }>(`${jaegerUrl}/api/traces?${params}`);
  return body.data ?? [];
}

// ---------------------------------------------------------------------------
// the scenarios

interface Scenario {
  stack: Stack;
  example: ExampleProcesses;
  client: TwentyLikeApp;
  workspaceId: string;
  startedAtMs: number;
  groundTruth: () => GroundTruthRecord[];
  /** SSE events received per origin (ui: the event has an author user; workflow: none). */
  receivedByOrigin: () => Record<string, number>;
  runIds: Record<string, string>;
  close(): Promise<void>;
}

/**
 * Redis logical database of these tests: the example's job queue is one list per queue name, so two deployments in
 * one database steal each other's jobs. Databases 1-14 belong to test/e2e/cross-process*.test.ts; the two scenarios
 * here run one after the other (the first one's processes are stopped before the second starts) and share 15.
 */
const REDIS_DB = 15;

async function startScenarioProcesses(
  stack: Stack,
): Promise<{ example: ExampleProcesses; client: TwentyLikeApp; redisUrl: string; close: () => Promise<void> }> {
  const redisUrl = redisUrlWithDb(REDIS_DB);
  const example = await startExampleProcesses({
    otlpHttpUrl: stack.otlpHttpUrl,
    redisUrl,
    workDir: stack.workDir,
    generation: 'v5',
  });
  try {
    const client = await startTwentyLikeApp({
      generation: 'v5',
      mode: 'client',
      url: example.url,
      redisUrl,
      groundTruthFile: example.groundTruthFile,
    });
    const close = async () => {
      await client.close().catch(() => undefined);
      await example.stop();
    };
    return { example, client, redisUrl, close };
  } catch (error) {
    await example.stop();
    throw error;
  }
}

/** One span larger than Jaeger's 4 MiB gRPC receive limit: the collector's export fails permanently (ResourceExhausted, not retried). */
async function sendOversizedSpan(stack: Stack): Promise<void> {
  const now = BigInt(Date.now()) * 1_000_000n;
  const body = {
    resourceSpans: [
      {
        resource: { attributes: [{ key: 'service.name', value: { stringValue: 'stack-test-oversized' } }] },
        scopeSpans: [
          {
            spans: [
              {
                traceId: randomBytes(16).toString('hex'),
                spanId: randomBytes(8).toString('hex'),
                name: 'oversized',
                kind: 1,
                startTimeUnixNano: String(now),
                endTimeUnixNano: String(now + 1000n),
                attributes: [{ key: 'blob', value: { stringValue: randomBytes(3 * 1024 * 1024).toString('base64') } }],
              },
            ],
          },
        ],
      },
    ],
  };
  const response = await fetch(`${stack.otlpHttpUrl}/v1/traces`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  expect(response.status).toBe(200);
  await waitFor(
    'the collector to count the failed export',
    async () => {
      const text = await (await fetch(`http://127.0.0.1:${stack.ports.collectorTelemetry}/metrics`)).text();
      return /^otelcol_exporter_send_failed_spans(_total)?\{[^}]*exporter="otlp_grpc\/jaeger"[^}]*\} [1-9]/m.test(text)
        ? true
        : undefined;
    },
    { context: () => stack.logs(10) },
  );
}

/**
 * Two identical rounds (a fresh LEAD company each): the first creates every
 * counter series, the second, after Prometheus has scraped the first, makes
 * them grow, so rate()-based panels have something to show (a series' first
 * value is invisible to rate()).
 */
/** SSE events the streams received, per origin (ui: the event has an author user; workflow: none). */
function receivedByOrigin(streams: SseStream[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const stream of streams)
    for (const { event } of stream.events()) add(counts, event.userId ? 'ui' : 'workflow', 1);
  return counts;
}

/** A UI update, then a workflow update, of one company; each waited for on `stream`, which must receive both. */
async function uiThenWorkflowUpdate(
  client: TwentyLikeApp,
  stream: SseStream,
  input: {
    token: string;
    workspaceId: string;
    companyId: string;
    ui: Record<string, unknown>;
    workflow: Record<string, unknown>;
  },
): Promise<WorkflowRunResult> {
  const delivered = stream.events().length;
  await client.ui.updateRecord({
    token: input.token,
    objectNameSingular: 'companies',
    id: input.companyId,
    data: input.ui,
  });
  await stream.waitForEvents((events) => events.length >= delivered + 1);
  const run = await client.workflows.runAutomatic({
    workspaceId: input.workspaceId,
    steps: [client.workflows.steps.updateRecord('company', input.companyId, input.workflow)],
  });
  await stream.waitForEvents((events) => events.length >= delivered + 2);
  return run;
}

async function runDropScenario(stack: Stack): Promise<Scenario> {
  const startedAtMs = Date.now() - 1000;
  const { example, client, close } = await startScenarioProcesses(stack);
  try {
    const { workspaceId } = await client.seed.workspace();
    const admin = await client.seed.user({ workspaceId });
    const withoutRole = await client.seed.user({ workspaceId, roleId: null });

    const adminStream = await client.streams.open({ token: admin.token });
    expect(
      await adminStream.addQuery({
        queryId: COMPANY_TABLE_QUERY,
        operationSignature: { objectNameSingular: 'company', variables: { filter: { stage: { eq: 'LEAD' } } } },
      }),
    ).toBe(true);
    const roleLessStream = await client.streams.open({ token: withoutRole.token });
    expect(
      await roleLessStream.addQuery({
        queryId: COMPANY_TABLE_QUERY,
        operationSignature: { objectNameSingular: 'company', variables: { filter: {} } },
      }),
    ).toBe(true);

    const runIds: Record<string, string> = {};
    const groundTruth = () => client.readGroundTruth().filter((record) => record.workspaceId === workspaceId);
    const round = async (n: number) => {
      const company = await client.seed.record({
        workspaceId,
        objectNameSingular: 'company',
        data: { name: `Acme ${n}`, stage: 'LEAD' },
      });
      const staying = await uiThenWorkflowUpdate(client, adminStream, {
        token: admin.token,
        workspaceId,
        companyId: company.id,
        ui: { name: `Acme ${n} (UI)` },
        workflow: { name: `Acme ${n} (workflow)`, stage: 'LEAD' },
      });
      const leaving = await client.workflows.runAutomatic({
        workspaceId,
        steps: [client.workflows.steps.updateRecord('company', company.id, { stage: 'WON' })],
      });
      expect([staying.status, leaving.status]).toEqual(['COMPLETED', 'COMPLETED']);
      runIds[`staying${n}`] = staying.workflowRunId;
      runIds[`leaving${n}`] = leaving.workflowRunId;
      await client.settle({ quietMs: 300 });
    };

    await round(1);
    const firstRound = groundTruthCounts(groundTruth());
    const scraped = await waitForFunnel(stack, firstRound);
    expect(sortedEntries(instrumentationCounts(scraped))).toEqual(sortedEntries(firstRound));
    await round(2);

    return {
      stack,
      example,
      client,
      workspaceId,
      startedAtMs,
      groundTruth,
      receivedByOrigin: () => receivedByOrigin([adminStream, roleLessStream]),
      runIds,
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}

async function runCleanScenario(stack: Stack): Promise<Scenario> {
  const startedAtMs = Date.now() - 1000;
  const { example, client, close } = await startScenarioProcesses(stack);
  try {
    const { workspaceId } = await client.seed.workspace();
    const admin = await client.seed.user({ workspaceId });
    const company = await client.seed.record({
      workspaceId,
      objectNameSingular: 'company',
      data: { name: 'Acme', stage: 'LEAD' },
    });
    const stream = await client.streams.open({ token: admin.token });
    expect(
      await stream.addQuery({
        queryId: COMPANY_TABLE_QUERY,
        operationSignature: { objectNameSingular: 'company', variables: { filter: {} } },
      }),
    ).toBe(true);
    await client.ui.updateRecord({
      token: admin.token,
      objectNameSingular: 'companies',
      id: company.id,
      data: { name: 'Acme (UI)' },
    });
    await stream.waitForEvents((events) => events.length >= 1);
    const run = await client.workflows.runAutomatic({
      workspaceId,
      steps: [client.workflows.steps.updateRecord('company', company.id, { name: 'Acme (workflow)', stage: 'WON' })],
    });
    expect(run.status).toBe('COMPLETED');
    await stream.waitForEvents((events) => events.length >= 2);
    await client.settle({ quietMs: 300 });
    return {
      stack,
      example,
      client,
      workspaceId,
      startedAtMs,
      groundTruth: () => client.readGroundTruth().filter((record) => record.workspaceId === workspaceId),
      receivedByOrigin: () => receivedByOrigin([stream]),
      runIds: { run: run.workflowRunId },
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}

/**
 * The last mile: a tab closes; a stream stays registered with nobody subscribed; a UI and a workflow update are
 * published into it (no_live_connection); the closed tab comes back under the same stream id; a second round.
 */
async function runLastMileScenario(stack: Stack): Promise<Scenario> {
  const startedAtMs = Date.now() - 1000;
  const { example, client, redisUrl, close } = await startScenarioProcesses(stack);
  const redis = new IORedis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await redis.connect();
    const { workspaceId } = await client.seed.workspace();
    const admin = await client.seed.user({ workspaceId });
    const company = await client.seed.record({
      workspaceId,
      objectNameSingular: 'company',
      data: { name: 'Acme', stage: 'LEAD' },
    });
    const watch = {
      queryId: COMPANY_TABLE_QUERY,
      operationSignature: { objectNameSingular: 'company', variables: { filter: {} } },
    };
    const staying = await client.streams.open({ token: admin.token });
    const leaving = await client.streams.open({ token: admin.token });
    for (const tab of [staying, leaving]) expect(await tab.addQuery(watch)).toBe(true);

    // A tab closed cleanly: the API server unsubscribes from its channel and removes its stream.
    leaving.close();
    const channelOf = (channelId: string) => `EVENT_STREAM_CHANNEL:${workspaceId}:${channelId}`;
    const subscribers = async (channelId: string) =>
      Number(((await redis.pubsub('NUMSUB', channelOf(channelId))) as [string, number])[1]);
    await waitFor('the closed tab to have no subscriber in Redis', async () =>
      (await subscribers(leaving.channelId)) === 0 ? true : undefined,
    );
    // A tab whose API server went away without cleaning up: its stream stays registered (until the TTL) and nobody
    // is subscribed to its channel.
    const orphan = await client.streams.createStreamState({
      workspaceId,
      authContext: { userId: admin.userId, userWorkspaceId: admin.userWorkspaceId },
      queries: { [watch.queryId]: watch.operationSignature },
    });
    expect(await client.streams.getActiveStreamIds(workspaceId)).toContain(orphan.channelId);
    expect(await subscribers(orphan.channelId)).toBe(0);

    let runId = '';
    const round = async (n: number) => {
      const run = await uiThenWorkflowUpdate(client, staying, {
        token: admin.token,
        workspaceId,
        companyId: company.id,
        ui: { name: `Acme ${n} (UI)` },
        workflow: { name: `Acme ${n} (workflow)` },
      });
      expect(run.status).toBe('COMPLETED');
      runId = run.workflowRunId;
      await client.settle({ quietMs: 300 });
    };
    const groundTruth = () => client.readGroundTruth().filter((record) => record.workspaceId === workspaceId);

    await round(1);
    // Prometheus has scraped the first round before anything grows again, so the rate() panels have data
    const firstRound = groundTruthWithPubsub(groundTruth());
    expect(sortedEntries(instrumentationCounts(await waitForFunnel(stack, firstRound)))).toEqual(
      sortedEntries(firstRound),
    );
    // the browser of the closed tab retries its stream id: a re-subscription
    const back = await client.streams.open({ token: admin.token, eventStreamId: leaving.eventStreamId });
    expect(await back.addQuery(watch)).toBe(true);
    await round(2);
    await back.waitForEvents((events) => events.length >= 2);
    return {
      stack,
      example,
      client,
      workspaceId,
      startedAtMs,
      groundTruth,
      receivedByOrigin: () => receivedByOrigin([staying, leaving, back]),
      runIds: { run: runId },
      close,
    };
  } catch (error) {
    await close();
    throw error;
  } finally {
    redis.disconnect();
  }
}

/** Ground-truth counts plus the pubsub stage's drops (a UI publish goes out of the API server, a workflow one out of the worker). */
function groundTruthWithPubsub(records: GroundTruthRecord[]): Counts {
  const counts = groundTruthCounts(records);
  for (const outcome of pubsubOutcomes(records)) {
    if (outcome.outcome !== 'dropped') continue;
    add(
      counts,
      `${outcome.origin === 'workflow' ? WORKER_JOB : SERVER_JOB}|pubsub|${outcome.origin}|dropped|${outcome.reason}`,
      outcome.count,
    );
  }
  return counts;
}

/** The doctor's JSON report as the same funnel keys (no job: the doctor sums over jobs). */
interface DoctorJson {
  stages: {
    stage: string;
    byOrigin: Record<
      string,
      { entered: number; forwarded: number; failed: number; dropped: number; dropsByReason: Record<string, number> }
    >;
  }[];
  firstDivergence?: { stage: string; topReason?: string };
  diagnosis: { stage: string; origin: string; reason: string; count: number; code: string; method: string }[];
  assessment: {
    lossFound: boolean;
    lost: { origin: string; reason: string; count: number }[];
    routine: { reason: string; count: number }[];
    workflowLossAboveUi?: { stage: string };
  };
  generationSource: { generation?: string; from: string; disagreeing: string[] };
  healthy: boolean;
  traces: { traceId: string; service: string; reason?: string; url: string }[];
}

function doctorRows(report: DoctorJson): FunnelRow[] {
  const rows: FunnelRow[] = [];
  for (const { stage, byOrigin } of report.stages) {
    for (const [origin, cell] of Object.entries(byOrigin)) {
      rows.push({ stage, origin, outcome: 'forwarded', count: cell.forwarded });
      if (cell.failed > 0) rows.push({ stage, origin, outcome: 'failed', count: cell.failed });
      for (const [reason, count] of Object.entries(cell.dropsByReason))
        rows.push({ stage, origin, outcome: 'dropped', reason, count });
    }
  }
  return rows;
}

// ---------------------------------------------------------------------------

interface StackRun {
  stack: Stack;
  scenario: Scenario;
  expected: Counts;
  funnel: FunnelRow[];
}

/**
 * A fresh stack and processes for one describe block: runs the scenario, then
 * waits until the Prometheus funnel equals the app's ground truth and the
 * delivered counts equal what the SSE clients received. The returned object is
 * filled in by the time the block's tests run.
 */
function useScenarioOnStack(
  run: (stack: Stack) => Promise<Scenario>,
  truth: (records: GroundTruthRecord[]) => Counts = groundTruthCounts,
): StackRun {
  const state = {} as StackRun;
  beforeAll(async () => {
    state.stack = await startStack();
    try {
      state.scenario = await run(state.stack);
    } catch (error) {
      await state.stack.stop();
      throw error;
    }
    state.expected = truth(state.scenario.groundTruth());
    const received = state.scenario.receivedByOrigin();
    state.funnel = await waitForFunnel(
      state.stack,
      state.expected,
      (rows) => JSON.stringify(deliveredByOrigin(rows)) === JSON.stringify(received),
    );
  }, 90_000);

  afterAll(async () => {
    await state.scenario?.close();
    await state.stack?.stop();
  });
  return state;
}

// ---------------------------------------------------------------------------

describe('scenario 1: UI and workflow updates with known drops (D5, D8) on the real stack', () => {
  let stack: Stack;
  let scenario: Scenario;
  let expected: Counts;
  let funnel: FunnelRow[];

  const run = useScenarioOnStack(async (started) => {
    await sendOversizedSpan(started);
    return runDropScenario(started);
  });
  beforeAll(() => ({ stack, scenario, expected, funnel } = run));

  const diagnostics = () => `${scenario.example.logs(20)}\n${stack.logs(15)}`;

  test('the example app really dropped what the scenario is built for (ground truth)', () => {
    expect(sortedEntries(expected)).toEqual(
      sortedEntries({
        [`${SERVER_JOB}|emit|ui|in|`]: 2,
        [`${SERVER_JOB}|stream|ui|forwarded|`]: 2,
        [`${SERVER_JOB}|stream|ui|dropped|subscriber_without_role`]: 2,
        [`${WORKER_JOB}|emit|workflow|in|`]: 4,
        [`${WORKER_JOB}|stream|workflow|forwarded|`]: 2,
        [`${WORKER_JOB}|stream|workflow|dropped|subscriber_without_role`]: 4,
        [`${WORKER_JOB}|stream|workflow|dropped|no_matching_query`]: 2,
      }),
    );
    const d8 = scenario
      .groundTruth()
      .filter((record) => record.kind === 'dropped' && record.reason === 'no_matching_query');
    expect(d8.map((record) => record.workflowRunId)).toEqual([scenario.runIds.leaving1, scenario.runIds.leaving2]);
    expect(scenario.receivedByOrigin()).toEqual({ ui: 2, workflow: 2 });
  });

  test('Prometheus funnel (scraped from the collector) equals the ground truth per job, stage, origin, outcome and reason; deliver equals what the SSE client got', async () => {
    const rows = funnel;
    expect(sortedEntries(instrumentationCounts(rows))).toEqual(sortedEntries(expected));
    expect(deliveredByOrigin(rows)).toEqual(scenario.receivedByOrigin());
    expect(rows.filter((row) => row.reason === 'unattributed')).toEqual([]);
    // in = forwarded + dropped + failed holds per stage and origin by construction of the counter; every stage of the path reported.
    const stagesSeen = [...new Set(rows.map((row) => `${row.job}|${row.stage}`))].sort();
    expect(stagesSeen).toEqual(
      expect.arrayContaining([
        `${SERVER_JOB}|deliver`,
        `${SERVER_JOB}|emit`,
        `${SERVER_JOB}|stream`,
        `${WORKER_JOB}|emit`,
        `${WORKER_JOB}|fanout`,
        `${WORKER_JOB}|listen`,
        `${WORKER_JOB}|publish`,
        `${WORKER_JOB}|pubsub`,
        `${WORKER_JOB}|stream`,
        `${WORKER_JOB}|workflow_step`,
      ]),
    );
  });

  test('Jaeger returns the workflow traces with the no_matching_query drop, each from the job span to the stream drop', async () => {
    // A trace is complete once the job span and both stream spans (D8 on the admin stream, D5 on the other) are stored.
    const complete = (trace: JaegerTrace) =>
      trace.spans.some((span) => span.operationName === 'RunWorkflowJob.handle') &&
      trace.spans.filter((span) => tagsOf(span)[ATTR.STAGE] === 'stream').length === 2;
    const traces = await waitFor(
      'the two D8 workflow traces in Jaeger',
      async () => {
        const found = await jaegerSearch(
          stack.jaegerUrl,
          WORKER_JOB,
          { [ATTR.DROP_REASON]: 'no_matching_query' },
          scenario.startedAtMs,
        );
        return found.length === 2 && found.every(complete) ? found : undefined;
      },
      { timeoutMs: 20_000, context: diagnostics },
    );
    const runIdOf = (trace: JaegerTrace) =>
      tagsOf(trace.spans.find((span) => span.operationName === 'RunWorkflowJob.handle') as JaegerSpan)[
        ATTR.WORKFLOW_RUN_ID
      ];
    expect(traces.map(runIdOf).sort()).toEqual([scenario.runIds.leaving1, scenario.runIds.leaving2].sort());

    const trace = traces.find((candidate) => runIdOf(candidate) === scenario.runIds.leaving1) as JaegerTrace;
    const drop = trace.spans.filter((span) => tagsOf(span)[ATTR.DROP_REASON] === 'no_matching_query');
    expect(drop).toHaveLength(1);
    expect(tagsOf(drop[0])).toMatchObject({
      [ATTR.STAGE]: 'stream',
      [ATTR.ORIGIN]: 'workflow',
      [ATTR.OUTCOME]: 'dropped',
      [ATTR.WORKFLOW_RUN_ID]: scenario.runIds.leaving1,
      [ATTR.EVENTS_DROPPED]: 1,
    });
    expect(serviceOf(trace, drop[0])).toBe(WORKER_JOB);
    const dropEvents = drop[0].logs.map((log) => Object.fromEntries(log.fields.map(({ key, value }) => [key, value])));
    expect(dropEvents).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ event: 'twenty.sse.drop', [ATTR.DROP_REASON]: 'no_matching_query' }),
      ]),
    );
    const job = trace.spans.find((span) => span.operationName === 'RunWorkflowJob.handle') as JaegerSpan;
    expect(tagsOf(job)).toMatchObject({ [ATTR.STAGE]: 'workflow_step', [ATTR.ORIGIN]: 'workflow' });
    // the same trace carries the subscriber-without-role drop of that event on the other stream
    expect(
      trace.spans
        .map((span) => tagsOf(span)[ATTR.DROP_REASON])
        .filter(Boolean)
        .sort(),
    ).toEqual(['no_matching_query', 'subscriber_without_role']);
  });

  test('Jaeger: a delivered workflow event is one trace from the worker (Redis publish) to the API server (deliver)', async () => {
    // Jaeger shows the parent as the first reference; the deliver span's parent is also its link, and Jaeger's OTLP
    // translator then turns that single reference into FOLLOWS_FROM (pkg/translator/jaeger makeJaegerProtoReferences).
    const parentOf = (trace: JaegerTrace, span: JaegerSpan) =>
      span.references.length > 0
        ? trace.spans.find((candidate) => candidate.spanID === span.references[0].spanID)
        : undefined;
    let lastTraces: JaegerTrace[] = [];
    const deliverOf = (trace: JaegerTrace) => trace.spans.find((span) => tagsOf(span)[ATTR.STAGE] === 'deliver');
    const trace = await waitFor(
      'the delivered workflow trace in Jaeger',
      async () => {
        const traces = await jaegerSearch(
          stack.jaegerUrl,
          SERVER_JOB,
          { [ATTR.STAGE]: 'deliver', [ATTR.ORIGIN]: 'workflow' },
          scenario.startedAtMs,
        );
        lastTraces = traces;
        const wanted = traces.find((candidate) =>
          candidate.spans.some(
            (span) =>
              span.operationName === 'RunWorkflowJob.handle' &&
              tagsOf(span)[ATTR.WORKFLOW_RUN_ID] === scenario.runIds.staying1,
          ),
        );
        // the worker's spans end after the job span (listeners run after emit returns): wait for the deliver span's parent too
        const deliver = wanted && deliverOf(wanted);
        return traces.length === 2 && wanted && deliver && parentOf(wanted, deliver) ? wanted : undefined;
      },
      {
        timeoutMs: 20_000,
        context: () =>
          JSON.stringify(
            lastTraces.map((t) =>
              t.spans.map(
                (span) =>
                  `${serviceOf(t, span)} ${span.operationName} ${span.spanID} <- ${JSON.stringify(span.references)}`,
              ),
            ),
          ),
      },
    );
    const deliver = deliverOf(trace) as JaegerSpan;
    expect(serviceOf(trace, deliver)).toBe(SERVER_JOB);
    expect(tagsOf(deliver)['span.kind']).toBe('consumer');
    expect(deliver.references.map((ref) => ref.refType)).toEqual([expect.stringMatching(/^(CHILD_OF|FOLLOWS_FROM)$/)]);
    const parent = parentOf(trace, deliver) as JaegerSpan;
    expect({
      service: serviceOf(trace, parent),
      kind: tagsOf(parent)['span.kind'],
      stage: tagsOf(parent)[ATTR.STAGE],
    }).toEqual({
      service: WORKER_JOB,
      kind: 'producer',
      stage: 'pubsub',
    });
  });

  test('every Prometheus query of the dashboard JSON runs without error and returns data (the instrumentation-errors panel excepted: no fault happened)', async () => {
    // The shipped JSON is what Grafana loads; runAllDashboardQueries runs the generator's queries, so make sure they are the JSON's.
    const json = JSON.parse(fs.readFileSync(`${ROOT}/dashboards/grafana/dashboards/twenty-sse.json`, 'utf8')) as object;
    expect(dashboardQueries(json)).toEqual(dashboardQueries());

    // twenty_sse_instrumentation_errors_total has no series until the first swallowed instrumentation fault (the OTel SDK
    // exports a counter only once it was added to), and this run has none: the "Instrumentation errors" stat, which ends
    // in `or vector(0)`, must then say 0, and the per-component time series is legitimately empty.
    // The last-mile panels that count closed connections, reconnects and publishes nobody received have no series
    // here either (no tab went away in this scenario); scenario 3 shows them with data.
    const EMPTY_WITHOUT_FAULTS = 'Instrumentation errors by component';
    const allowedEmpty = [`${EMPTY_WITHOUT_FAULTS} A`, ...LAST_MILE_QUERIES_NEEDING_A_GONE_TAB].sort();
    let results: QueryCheck[] = [];
    const names = (list: QueryCheck[]) =>
      list.map((result) => `${result.panel} ${result.refId}${result.error ? `: ${result.error}` : ''}`);
    await waitFor(
      'every dashboard query to have data',
      async () => {
        results = await runAllDashboardQueries(stack.promUrl);
        return results.every(
          (result) => result.status === 'ok' || allowedEmpty.includes(`${result.panel} ${result.refId}`),
        )
          ? true
          : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 1000 },
    ).catch(() => undefined);
    expect(results.length).toBeGreaterThan(20);
    expect(names(results.filter((result) => result.status === 'error'))).toEqual([]);
    expect(names(results.filter((result) => result.status === 'empty')).sort()).toEqual(allowedEmpty);
    const [errors] = await promQuery(
      stack.promUrl,
      dashboardQueries().find((query) => query.panel === 'Instrumentation errors')!.expr,
    );
    expect(errors.value[1]).toBe('0');
    expect(await promQuery(stack.promUrl, PROM.INSTRUMENTATION_ERRORS)).toEqual([]);
  });

  test("the dashboard's job and jaeger_service variables offer the two processes (jobs with drops for Jaeger)", async () => {
    const labelValues = async (match: string) =>
      (
        await getJson<{ data: string[] }>(
          `${stack.promUrl}/api/v1/label/job/values?${new URLSearchParams({ 'match[]': match })}`,
        )
      ).data.sort();
    expect(await labelValues(PROM.STAGE_EVENTS)).toEqual([SERVER_JOB, WORKER_JOB]);
    expect(await labelValues(`${PROM.STAGE_EVENTS}{${PROM.LABEL_OUTCOME}="dropped"}`)).toEqual([
      SERVER_JOB,
      WORKER_JOB,
    ]);
  });

  test('alerts: only CollectorExportFailing fires; a handful of drops is too little traffic to judge a share, and no failure happened', async () => {
    const firing = (alerts: PromAlert[]) => alerts.filter((alert) => alert.state === 'firing');
    const key = (alert: PromAlert) =>
      [alert.labels.alertname, alert.labels.job, alert.labels.exporter].map((part) => part ?? '-').join(' ');
    const expectedFiring = ['CollectorExportFailing otel-collector-internal otlp_grpc/jaeger'];
    let alerts: PromAlert[] = [];
    await waitFor(
      'the expected alerts to fire',
      async () => {
        alerts = await promAlerts(stack.promUrl);
        return JSON.stringify(firing(alerts).map(key).sort()) === JSON.stringify(expectedFiring) ? true : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 500 },
    ).catch(() => undefined);
    expect(firing(alerts).map(key).sort()).toEqual(expectedFiring);
    // nothing pending either (every other rule is inactive), though the rules did see the drops
    expect(alerts.filter((alert) => alert.state === 'pending').map(key)).toEqual([]);
    const shares = await promQuery(stack.promUrl, `${recordNames().LOSS_SHARE}{${PROM.LABEL_STAGE}="stream"}`);
    expect(
      Object.fromEntries(shares.map((sample) => [sample.metric[PROM.LABEL_ORIGIN], Number(sample.value[1])])),
    ).toEqual({ ui: 0.5, workflow: 0.5 });
  });

  test('doctor --json against this Prometheus and Jaeger: exit 1, the ground-truth numbers, and the dropped workflow traces', async () => {
    const result = await runCli([
      'doctor',
      '--prometheus',
      stack.promUrl,
      '--jaeger',
      stack.jaegerUrl,
      '--json',
      '--generation',
      'v5',
    ]);
    expect({
      code: result.code,
      stderr: result.stderr.split('\n').filter((line) => line.startsWith('doctor:')),
    }).toEqual({ code: 1, stderr: [] });
    const report = JSON.parse(result.stdout) as DoctorJson;
    expect(report.healthy).toBe(false);
    expect(sortedEntries(instrumentationCounts(doctorRows(report), false))).toEqual(
      sortedEntries(groundTruthCounts(scenario.groundTruth(), false)),
    );
    const deliver = report.stages.find((stage) => stage.stage === 'deliver');
    expect(
      Object.fromEntries(Object.entries(deliver?.byOrigin ?? {}).map(([origin, cell]) => [origin, cell.forwarded])),
    ).toEqual(scenario.receivedByOrigin());
    expect(report.firstDivergence).toMatchObject({ stage: 'stream', topReason: 'subscriber_without_role' });
    expect(report.diagnosis.find((d) => d.origin === 'workflow' && d.reason === 'no_matching_query')).toMatchObject({
      stage: 'stream',
      count: 2,
      code: 'D8',
      method: 'WorkspaceEventEmitterService.processStreamEvents',
    });
    // D5 is loss (the role-less subscriber misses UI and workflow events alike); D8 is routine filtering.
    expect(report.assessment.lost.map((d) => `${d.origin} ${d.reason} ${d.count}`).sort()).toEqual([
      'ui subscriber_without_role 2',
      'workflow subscriber_without_role 4',
    ]);
    expect(report.assessment.routine.map((entry) => `${entry.reason} ${entry.count}`)).toEqual(['no_matching_query 2']);
    expect(report.assessment.workflowLossAboveUi).toBeUndefined();
    expect(report.generationSource).toMatchObject({ generation: 'v5', from: 'flag', disagreeing: [] });

    // The traces it links: exactly the four workflow traces with drops (staying: D5; leaving: D5 + D8), resolvable in Jaeger.
    const withDrops = await jaegerSearch(
      stack.jaegerUrl,
      WORKER_JOB,
      { [ATTR.ORIGIN]: 'workflow', [ATTR.OUTCOME]: 'dropped' },
      scenario.startedAtMs,
    );
    expect(withDrops).toHaveLength(4);
    expect(report.traces.map((trace) => trace.traceId).sort()).toEqual(withDrops.map((trace) => trace.traceID).sort());
    for (const trace of report.traces) {
      expect(trace).toMatchObject({ service: WORKER_JOB, url: `${stack.jaegerUrl}/trace/${trace.traceId}` });
      expect(['no_matching_query', 'subscriber_without_role']).toContain(trace.reason);
      const fetched = await getJson<{ data: JaegerTrace[] }>(`${stack.jaegerUrl}/api/traces/${trace.traceId}`);
      expect(fetched.data[0].traceID).toBe(trace.traceId);
    }
  });

  test('doctor (text) prints the funnel, the diagnosis and Jaeger links for the dropped workflow events', async () => {
    const result = await runCli(['doctor', '--prometheus', stack.promUrl, '--jaeger', stack.jaegerUrl]);
    expect(result.code).toBe(1);
    expect(result.stdout).toContain(
      'Twenty generation: v5 (detected from the instrumentation targets the processes found)',
    );
    expect(result.stdout).toContain('Events are lost, but workflow events no more than UI events.');
    expect(result.stdout).toMatch(
      /^- no_matching_query \(D8\) at stream: 2 workflow event x stream pairs \(\d+\.\d% of the stage\): filtering by design$/m,
    );
    expect(result.stdout).toContain(
      '- 4 workflow event x stream pairs dropped at stream: subscriber_without_role (D5)\n  where: WorkspaceEventEmitterService.processStreamEvents',
    );
    const links = result.stdout.trimEnd().split('Example traces of dropped events:\n')[1]?.split('\n') ?? [];
    expect(links.length).toBe(4);
    for (const link of links)
      expect(link).toMatch(
        new RegExp(
          `^- ${stack.jaegerUrl.replace(/[.]/g, '\\.')}/trace/[0-9a-f]{32} \\(${WORKER_JOB}, (no_matching_query|subscriber_without_role)\\)$`,
        ),
      );
  });
});

describe('scenario 2: every event delivered, fresh stack and processes', () => {
  let stack: Stack;
  let scenario: Scenario;
  let expected: Counts;
  let funnel: FunnelRow[];

  const run = useScenarioOnStack(runCleanScenario);
  beforeAll(() => ({ stack, scenario, expected, funnel } = run));

  test('ground truth and Prometheus agree: nothing dropped or failed, both updates delivered', () => {
    expect(sortedEntries(expected)).toEqual(
      sortedEntries({
        [`${SERVER_JOB}|emit|ui|in|`]: 1,
        [`${SERVER_JOB}|stream|ui|forwarded|`]: 1,
        [`${WORKER_JOB}|emit|workflow|in|`]: 1,
        [`${WORKER_JOB}|stream|workflow|forwarded|`]: 1,
      }),
    );
    const received = scenario.receivedByOrigin();
    expect(received).toEqual({ ui: 1, workflow: 1 });
    expect(sortedEntries(instrumentationCounts(funnel))).toEqual(sortedEntries(expected));
    expect(deliveredByOrigin(funnel)).toEqual(received);
    expect(funnel.filter((row) => row.outcome !== 'forwarded')).toEqual([]);
  });

  test('no alert of the shipped rules is pending or firing once the rules have seen the data', async () => {
    const dataSeenAt = Date.now();
    const groups = await waitForRuleEvaluation(stack.promUrl, dataSeenAt);
    expect(groups.map((group) => group.name).sort()).toEqual(['otel-collector.alerts', 'twenty-sse']);
    for (const group of groups)
      for (const rule of group.rules)
        expect({ rule: rule.name, health: rule.health, lastError: rule.lastError ?? '' }).toEqual({
          rule: rule.name,
          health: 'ok',
          lastError: '',
        });
    expect(await promAlerts(stack.promUrl)).toEqual([]);
    // and the rule engine really had the data: the recording rules produced series
    expect((await promQuery(stack.promUrl, recordNames().STAGE_EVENTS_INCREASE)).length).toBeGreaterThan(0);
  });

  test('doctor exits 0 and reports a healthy pipeline', async () => {
    const json = await runCli(['doctor', '--prometheus', stack.promUrl, '--jaeger', stack.jaegerUrl, '--json']);
    expect(json.code).toBe(0);
    const report = JSON.parse(json.stdout) as DoctorJson;
    expect(report).toMatchObject({ healthy: true, diagnosis: [], traces: [] });
    expect(sortedEntries(instrumentationCounts(doctorRows(report), false))).toEqual(
      sortedEntries(groundTruthCounts(scenario.groundTruth(), false)),
    );
    const text = await runCli(['doctor', '--prometheus', stack.promUrl]);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain('No loss: every drop in the window is routine.');
  });
});

describe('scenario 3: the last mile, a tab that went away and came back, fresh stack and processes', () => {
  let stack: Stack;
  let scenario: Scenario;
  let expected: Counts;
  let funnel: FunnelRow[];

  const run = useScenarioOnStack(runLastMileScenario, groundTruthWithPubsub);
  beforeAll(() => ({ stack, scenario, expected, funnel } = run));

  test("Prometheus counts exactly the publishes into the gone tab's stream as no_live_connection, per origin and process", () => {
    expect(Object.fromEntries(Object.entries(expected).filter(([key]) => key.includes('|pubsub|')))).toEqual({
      [`${SERVER_JOB}|pubsub|ui|dropped|no_live_connection`]: 2,
      [`${WORKER_JOB}|pubsub|workflow|dropped|no_live_connection`]: 2,
    });
    expect(sortedEntries(instrumentationCounts(funnel))).toEqual(sortedEntries(expected));
    expect(deliveredByOrigin(funnel)).toEqual(scenario.receivedByOrigin());
    expect(scenario.receivedByOrigin()).toEqual({ ui: 3, workflow: 3 });
  });

  test('the API server counts the connections: three opened, one closed by the client, two open, one re-subscription', async () => {
    const value = async (query: string) =>
      (await promQuery(stack.promUrl, query)).map((sample) => Number(sample.value[1]));
    await waitFor('the connection counters', async () =>
      (await value(`sum(${PROM.CONNECTIONS_OPENED})`))[0] === 3 ? true : undefined,
    );
    expect(await value(`sum(${PROM.CONNECTIONS_OPENED})`)).toEqual([3]);
    expect(await value(`sum(${PROM.CONNECTIONS_ACTIVE})`)).toEqual([2]);
    expect(await value(`sum by (${PROM.LABEL_CLOSE_REASON}) (${PROM.CONNECTIONS_CLOSED})`)).toEqual([1]);
    expect(
      (await promQuery(stack.promUrl, `sum by (${PROM.LABEL_CLOSE_REASON}) (${PROM.CONNECTIONS_CLOSED})`))[0].metric,
    ).toEqual({
      [PROM.LABEL_CLOSE_REASON]: 'client_gone',
    });
    expect(await value(`sum(${PROM.STREAM_RESUBSCRIPTIONS})`)).toEqual([1]);
  });

  test('every last-mile dashboard query has data (the closing-connection race excepted)', async () => {
    let results: QueryCheck[] = [];
    const wanted = LAST_MILE_QUERIES_NEEDING_A_GONE_TAB.filter((name) => name !== EMPTY_WITHOUT_A_RACE);
    const of = (list: QueryCheck[]) => list.filter((result) => wanted.includes(`${result.panel} ${result.refId}`));
    await waitFor('the last-mile panels to have data', async () => {
      results = of(await runAllDashboardQueries(stack.promUrl));
      return results.length === wanted.length && results.every((result) => result.status === 'ok') ? true : undefined;
    }).catch(() => undefined);
    expect(
      results
        .map((result) => `${result.panel} ${result.refId}: ${result.status}${result.error ? ` ${result.error}` : ''}`)
        .sort(),
    ).toEqual(wanted.map((name) => `${name}: ok`).sort());
  });
});
