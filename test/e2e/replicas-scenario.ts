/**
 * The scale-out scenario shared by test/e2e/replicas.test.ts (one collector,
 * tail sampling at 1%) and test/e2e/two-tier.test.ts (tier 1 routing to two
 * tail-sampling collectors): the example app's real processes as a small
 * production deployment, 2 API servers and 2 queue workers on one (private)
 * Redis, every process instrumented through the register entry with nothing
 * but its service name set, so each picks its own service.instance.id.
 *
 * Workspace A ("drops"): an admin watches all companies on server 1 and again
 * on server 2; a user without a role watches them on server 2, so every event
 * of A is dropped once (D5, subscriber_without_role) and its trace must be
 * kept whatever the sampling. Workspace B ("plain"): an admin watches on both
 * servers; nothing is dropped, so its traces are only kept by the baseline.
 * UI creates go through both servers; workflow runs (PLAIN_RUNS in B first,
 * then DROP_RUNS in A) are enqueued at once and shared by the two workers.
 *
 * Ground truth: every record the example writes carries the pid of the process
 * that wrote it; Prometheus' target_info (from each process's resource) maps
 * pids to service.instance.id, so counts compare per instance.
 */
import type { GroundTruthRecord, SseStream, TwentyLikeApp } from '../../example/harness';
import { startTwentyLikeApp } from '../../example/harness';
import { ATTR, PROM } from '../../src/semconv';
import {
  getJson,
  promQuery,
  sleep,
  startExampleProcesses,
  startRedis,
  startStack,
  waitFor,
  type ExampleProcesses,
  type ManagedProcess,
  type Stack,
  type StackOptions,
} from '../helpers/stack';

export const SERVER_JOB = 'twenty-server';
export const WORKER_JOB = 'twenty-worker';
export const PLAIN_RUNS = 30;
export const DROP_RUNS = 4;
const ALL_COMPANIES = { objectNameSingular: 'company', variables: { filter: {} } };
const JOB_SPAN = 'RunWorkflowJob.handle';

export interface ReplicaStream {
  name: 'a1' | 'a2' | 'r2' | 'b1' | 'b2';
  /** Index of the API server holding the SSE connection. */
  server: number;
  stream: SseStream;
}

export interface ReplicaRun {
  stack: Stack;
  example: ExampleProcesses;
  redis: ManagedProcess;
  client: TwentyLikeApp;
  startedAtMs: number;
  workspaces: { drops: string; plain: string };
  streams: ReplicaStream[];
  dropRuns: string[];
  plainRuns: string[];
  groundTruth(): GroundTruthRecord[];
  /** pid of every example process, in `example.servers` then `example.workers` order. */
  pids: { servers: number[]; workers: number[] };
  diagnostics(): string;
}

/** For one describe block: stack (single or two-tier), Redis, 2 servers + 2 workers, the scenario; torn down after. */
export function useReplicaRun(stackOptions: StackOptions): ReplicaRun {
  const run = {} as ReplicaRun;
  let close: () => Promise<void> = async () => undefined;
  beforeAll(async () => {
    const stack = await startStack(stackOptions);
    const closers: (() => Promise<unknown>)[] = [() => stack.stop()];
    close = async () => {
      for (const closer of closers.reverse()) await closer().catch(() => undefined);
    };
    try {
      const redis = await startRedis(stack.workDir);
      closers.push(() => redis.proc.stop());
      const example = await startExampleProcesses({
        otlpHttpUrl: stack.otlpHttpUrl,
        redisUrl: redis.url,
        workDir: stack.workDir,
        generation: 'v5',
        servers: 2,
        workers: 2,
      });
      closers.push(() => example.stop());
      const client = await startTwentyLikeApp({
        generation: 'v5',
        mode: 'client',
        url: example.url,
        redisUrl: redis.url,
        groundTruthFile: example.groundTruthFile,
      });
      closers.push(() => client.close());
      Object.assign(run, { stack, example, redis: redis.proc, client });
      run.diagnostics = () => `${example.logs(15)}\n${stack.logs(15)}`;
      await runScenario(run);
    } catch (error) {
      await close();
      throw error;
    }
  }, 120_000);
  afterAll(() => close());
  return run;
}

async function runScenario(run: ReplicaRun): Promise<void> {
  const { client, example } = run;
  const [s1, s2] = example.servers.map(({ url }) => url);
  run.startedAtMs = Date.now() - 1000;
  run.pids = {
    servers: example.servers.map(({ proc }) => proc.child.pid as number),
    workers: example.workers.map((proc) => proc.child.pid as number),
  };

  const { workspaceId: drops } = await client.seed.workspace();
  const { workspaceId: plain } = await client.seed.workspace();
  run.workspaces = { drops, plain };
  const admin = await client.seed.user({ workspaceId: drops });
  const withoutRole = await client.seed.user({ workspaceId: drops, roleId: null });
  const plainAdmin = await client.seed.user({ workspaceId: plain });

  const open = async (name: ReplicaStream['name'], token: string, server: number): Promise<ReplicaStream> => {
    const stream = await client.streams.open({ token, serverUrl: [s1, s2][server] });
    expect(await stream.addQuery({ queryId: `companies-${name}`, operationSignature: ALL_COMPANIES })).toBe(true);
    return { name, server, stream };
  };
  run.streams = [
    await open('a1', admin.token, 0),
    await open('a2', admin.token, 1),
    await open('r2', withoutRole.token, 1),
    await open('b1', plainAdmin.token, 0),
    await open('b2', plainAdmin.token, 1),
  ];
  const stream = (name: ReplicaStream['name']) => run.streams.find((candidate) => candidate.name === name)!.stream;

  // UI creates through each server, in both workspaces.
  for (const [token, workspace] of [
    [plainAdmin.token, 'B'],
    [admin.token, 'A'],
  ] as const) {
    for (const [index, serverUrl] of [s1, s2].entries()) {
      await client.ui.createRecord({
        token,
        serverUrl,
        objectNameSingular: 'companies',
        data: { name: `UI ${workspace} via server ${index + 1}` },
      });
    }
  }

  const runAll = async (workspaceId: string, count: number, label: string) => {
    const results = await Promise.all(
      Array.from({ length: count }, (_, i) =>
        client.workflows.runAutomatic({
          workspaceId,
          steps: [client.workflows.steps.createRecord('company', { name: `${label} ${i}` })],
        }),
      ),
    );
    expect(results.map(({ status }) => status)).toEqual(results.map(() => 'COMPLETED'));
    return results.map(({ workflowRunId }) => workflowRunId);
  };
  run.plainRuns = await runAll(plain, PLAIN_RUNS, 'Plain run');
  run.dropRuns = await runAll(drops, DROP_RUNS, 'Drop run');

  await Promise.all([
    stream('a1').waitForEvents((events) => events.length >= 2 + DROP_RUNS, 10_000),
    stream('a2').waitForEvents((events) => events.length >= 2 + DROP_RUNS, 10_000),
    stream('b1').waitForEvents((events) => events.length >= 2 + PLAIN_RUNS, 10_000),
    stream('b2').waitForEvents((events) => events.length >= 2 + PLAIN_RUNS, 10_000),
  ]);
  await client.settle({ quietMs: 300 });
  run.groundTruth = () =>
    client.readGroundTruth().filter((record) => record.workspaceId === drops || record.workspaceId === plain);
}

// ---------------------------------------------------------------------------
// Prometheus: instances and the funnel

/** pid -> { job, instance } from target_info, which the collector's exporter derives from each process's resource. */
export async function instancesByPid(promUrl: string): Promise<Map<number, { job: string; instance: string }>> {
  const samples = await promQuery(promUrl, `target_info{job=~"${SERVER_JOB}|${WORKER_JOB}"}`);
  return new Map(
    samples.map(({ metric }) => [Number(metric.process_pid), { job: metric.job, instance: metric.instance }]),
  );
}

/** Waits until target_info names every example process; returns pid -> instance. */
export async function waitForInstances(run: ReplicaRun): Promise<Map<number, { job: string; instance: string }>> {
  const pids = [...run.pids.servers, ...run.pids.workers];
  return waitFor(
    'target_info of the 4 example processes',
    async () => {
      const byPid = await instancesByPid(run.stack.promUrl);
      return pids.every((pid) => byPid.has(pid)) ? byPid : undefined;
    },
    { timeoutMs: 30_000, context: run.diagnostics },
  );
}

export type Counts = Record<string, number>;
const add = (counts: Counts, key: string, count: number) => {
  counts[key] = (counts[key] ?? 0) + count;
};
export const sorted = (counts: Counts) => Object.entries(counts).sort(([a], [b]) => a.localeCompare(b));

/**
 * Ground truth as funnel keys `<who>|stage|origin|outcome|reason`: drops at any stage, (event x stream) pairs
 * forwarded or failed at `stream`, and emitted events as `emit|origin|in`. `who` names the process.
 */
export function groundTruthCounts(records: GroundTruthRecord[], who: (record: GroundTruthRecord) => string): Counts {
  const counts: Counts = {};
  for (const record of records) {
    const prefix = `${who(record)}|`;
    if (record.kind === 'dropped')
      add(counts, `${prefix}${record.stage}|${record.origin}|dropped|${record.reason}`, record.count);
    else if (record.kind === 'forwarded') add(counts, `${prefix}stream|${record.origin}|forwarded|`, record.count);
    else if (record.kind === 'failed') add(counts, `${prefix}stream|${record.origin}|failed|`, record.count);
    else if (record.kind === 'emitted') add(counts, `${prefix}emit|${record.origin}|in|`, record.count);
  }
  return counts;
}

export interface FunnelRow {
  labels: Record<string, string>;
  stage: string;
  origin: string;
  outcome: string;
  reason?: string;
  count: number;
}

/** The same keys from the instrumentation's counter, `who` naming the series' process. */
export function instrumentationCounts(rows: FunnelRow[], who: (row: FunnelRow) => string): Counts {
  const counts: Counts = {};
  for (const row of rows) {
    if (row.count === 0) continue;
    const prefix = `${who(row)}|`;
    if (row.outcome === 'dropped')
      add(counts, `${prefix}${row.stage}|${row.origin}|dropped|${row.reason ?? ''}`, row.count);
    else if (row.outcome === 'failed') add(counts, `${prefix}${row.stage}|${row.origin}|failed|`, row.count);
    else if (row.stage === 'stream') add(counts, `${prefix}stream|${row.origin}|forwarded|`, row.count);
    if (row.stage === 'emit') add(counts, `${prefix}emit|${row.origin}|in|`, row.count);
  }
  return counts;
}

/** The stage counter summed by `by` (plus stage, origin, outcome, reason). */
export async function prometheusFunnel(promUrl: string, by: string[]): Promise<FunnelRow[]> {
  const samples = await promQuery(
    promUrl,
    `sum by (${[...by, PROM.LABEL_STAGE, PROM.LABEL_ORIGIN, PROM.LABEL_OUTCOME, PROM.LABEL_DROP_REASON].join(', ')}) (${PROM.STAGE_EVENTS})`,
  );
  return samples.map(({ metric, value }) => ({
    labels: metric,
    stage: metric[PROM.LABEL_STAGE],
    origin: metric[PROM.LABEL_ORIGIN],
    outcome: metric[PROM.LABEL_OUTCOME],
    reason: metric[PROM.LABEL_DROP_REASON],
    count: Number(value[1]),
  }));
}

/** Polls until `read()` equals `expected` (Counts), returning the last value either way so the caller's expect shows a difference. */
export async function pollCounts(read: () => Promise<Counts>, expected: Counts, timeoutMs = 30_000): Promise<Counts> {
  let last: Counts = {};
  try {
    return await waitFor(
      'the Prometheus counts to equal the expected ones',
      async () => {
        last = await read();
        return JSON.stringify(sorted(last)) === JSON.stringify(sorted(expected)) ? last : undefined;
      },
      { timeoutMs, intervalMs: 500 },
    );
  } catch {
    return last;
  }
}

/** SSE events each API server's connections received, as `<server index>|<origin>` (ui: the event has an author user). */
export function receivedByServer(run: ReplicaRun): Counts {
  const counts: Counts = {};
  for (const { server, stream } of run.streams) {
    for (const { event } of stream.events()) add(counts, `${server}|${event.userId ? 'ui' : 'workflow'}`, 1);
  }
  return counts;
}

/** Calls of the workflow job span in span_metrics, all instances and collectors summed. */
export async function jobSpanCalls(promUrl: string): Promise<number> {
  const [sample] = await promQuery(promUrl, `sum(traces_span_metrics_calls_total{span_name="${JOB_SPAN}"})`);
  return sample ? Number(sample.value[1]) : 0;
}

// ---------------------------------------------------------------------------
// Jaeger

interface JaegerKeyValue {
  key: string;
  value: unknown;
}
export interface JaegerSpan {
  traceID: string;
  spanID: string;
  operationName: string;
  processID: string;
  tags: JaegerKeyValue[];
}
export interface JaegerTrace {
  traceID: string;
  spans: JaegerSpan[];
  processes: Record<string, { serviceName: string; tags: JaegerKeyValue[] }>;
}

export const tagsOf = (item: { tags: JaegerKeyValue[] }) =>
  Object.fromEntries(item.tags.map(({ key, value }) => [key, value]));
/** service.instance.id of the process that emitted the span (Jaeger keeps resource attributes as process tags). */
export const instanceOf = (trace: JaegerTrace, span: JaegerSpan) =>
  tagsOf(trace.processes[span.processID])['service.instance.id'] as string;
export const runIdOf = (trace: JaegerTrace) => {
  const job = trace.spans.find((span) => span.operationName === JOB_SPAN);
  return job ? (tagsOf(job)[ATTR.WORKFLOW_RUN_ID] as string) : undefined;
};
export const jobSpanOf = (trace: JaegerTrace) => trace.spans.find((span) => span.operationName === JOB_SPAN);
export const deliverSpansOf = (trace: JaegerTrace) =>
  trace.spans.filter((span) => tagsOf(span)[ATTR.STAGE] === 'deliver');

export async function jaegerSearch(
  jaegerUrl: string,
  query: { service: string; operation?: string; tags?: Record<string, string> },
  sinceMs: number,
) {
  const params = new URLSearchParams({
    service: query.service,
    ...(query.operation && { operation: query.operation }),
    ...(query.tags && { tags: JSON.stringify(query.tags) }),
    start: String(sinceMs * 1000),
    end: String((Date.now() + 60_000) * 1000),
    limit: '1000',
  });
  const body = await getJson<{ data: JaegerTrace[] | null }>(`${jaegerUrl}/api/traces?${params}`);
  return body.data ?? [];
}

/** A drop-run trace is whole once it holds the job span, the D5 stream drop and both deliveries (server 1 and 2). */
export const wholeDropTrace = (trace: JaegerTrace) =>
  jobSpanOf(trace) !== undefined &&
  trace.spans.some((span) => tagsOf(span)[ATTR.DROP_REASON] === 'subscriber_without_role') &&
  deliverSpansOf(trace).length === 2;

/** Waits for the trace of every drop run to be in Jaeger, whole; returns them by run id. */
export async function waitForDropTraces(run: ReplicaRun): Promise<Map<string, JaegerTrace>> {
  let found: JaegerTrace[] = [];
  try {
    return await waitFor(
      `the ${DROP_RUNS} drop-run traces in Jaeger, whole`,
      async () => {
        found = await jaegerSearch(
          run.stack.jaegerUrl,
          { service: WORKER_JOB, tags: { [ATTR.DROP_REASON]: 'subscriber_without_role' } },
          run.startedAtMs,
        );
        const byRun = new Map(found.filter(wholeDropTrace).map((trace) => [runIdOf(trace) as string, trace]));
        return run.dropRuns.every((id) => byRun.has(id)) ? byRun : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 500 },
    );
  } catch (error) {
    const seen = found.map((trace) => `${runIdOf(trace)}: ${trace.spans.map((span) => span.operationName).join(', ')}`);
    throw new Error(`${(error as Error).message}\nfound:\n${seen.join('\n')}\n${run.diagnostics()}`, { cause: error });
  }
}

/** Plain-run traces Jaeger holds, once the plain runs' decisions are surely made (they are older than the drop runs'). */
export async function keptPlainRuns(run: ReplicaRun): Promise<string[]> {
  await sleep(2000);
  const traces = await jaegerSearch(run.stack.jaegerUrl, { service: WORKER_JOB, operation: JOB_SPAN }, run.startedAtMs);
  const plain = new Set(run.plainRuns);
  return traces.map(runIdOf).filter((id): id is string => id !== undefined && plain.has(id));
}
