/**
 * `npm run stack` (dist/stack/main.js) as a user runs it: it builds or reuses
 * the collector and Jaeger, starts them with Prometheus, its own Redis and the
 * example app's two instrumented processes, and prints every URL.
 *
 * - Plain run: every printed URL answers; the printed curl recipes (a UI edit
 *   and a workflow run) make traffic that shows up in Prometheus (counted per
 *   origin) and in Jaeger (traces of both services); Ctrl-C (SIGINT) stops
 *   every process it listed, frees the ports and removes its work directory.
 * - Scenario run: drives the demo's workflow-leaves-filter scenario through the
 *   real processes, prints the doctor's numbers, writes the HTML report, and
 *   stops everything by itself.
 * - A pinned port that is taken, a build that fails, bad options: exit 2 and
 *   one line, nothing started.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import IORedis from 'ioredis';

import { ROOT, freePorts, getJson, promQuery, waitFor } from '../helpers/stack';

jest.setTimeout(180_000);

const STACK = path.join(ROOT, 'dist/stack/main.js');
const NODE = process.env.TEST_NODE_BIN ? path.resolve(process.env.TEST_NODE_BIN) : process.execPath;

interface StackRun {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<number | null>;
}

function startStack(args: string[], env: NodeJS.ProcessEnv = process.env): StackRun {
  const child = spawn(NODE, [STACK, ...args], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  // 'close', not 'exit': the output is complete only once the pipes closed.
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  return { child, stdout: () => stdout, stderr: () => stderr, exited };
}

/** `Label   URL   note` lines of the printout. */
function printedUrl(stdout: string, label: string): string {
  const line = stdout.split('\n').find((candidate) => candidate.trimStart().startsWith(`${label} `));
  const url = line
    ?.slice(line.indexOf(label) + label.length)
    .trim()
    .split(/\s+/)[0];
  if (!url) throw new Error(`no "${label}" line in:\n${stdout}`);
  return url;
}

function printedProcesses(stdout: string): { pids: Record<string, number>; workDir: string } {
  const match = /^Processes: (.*); logs in (.*)\/logs$/m.exec(stdout);
  if (!match) throw new Error(`no Processes line in:\n${stdout}`);
  const pids = Object.fromEntries(
    match[1].split(', ').map((entry) => [entry.split(' ')[0], Number(entry.split(' ')[1])]),
  );
  return { pids, workDir: match[2] };
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

const refused = async (url: string) => {
  try {
    await fetch(url, { signal: AbortSignal.timeout(2000) });
    return false;
  } catch (error) {
    return (error as { cause?: { code?: string } }).cause?.code === 'ECONNREFUSED';
  }
};

const EXPECTED_PROCESSES = ['redis', 'jaeger', 'otelcol', 'prometheus', 'twenty-server', 'twenty-worker'];

describe('npm run stack: start, every URL answers, traffic reaches Prometheus and Jaeger, Ctrl-C stops it all', () => {
  let run: StackRun;
  let stdout: string;

  beforeAll(async () => {
    run = startStack([]);
    await waitFor(
      'the stack to print its URLs',
      () => (run.stdout().includes('Ctrl-C stops everything.') ? true : undefined),
      {
        timeoutMs: 150_000,
        intervalMs: 500,
        context: () => `stdout:\n${run.stdout()}\nstderr:\n${run.stderr()}`,
      },
    );
    stdout = run.stdout();
  });

  afterAll(() => {
    if (run.child.exitCode === null) run.child.kill('SIGKILL');
  });

  test('it lists the six processes it started, all running', () => {
    const { pids } = printedProcesses(stdout);
    expect(Object.keys(pids)).toEqual(EXPECTED_PROCESSES);
    for (const pid of Object.values(pids)) expect(alive(pid)).toBe(true);
  });

  test('every URL it printed answers', async () => {
    const app = printedUrl(stdout, 'Example app (API server)');
    const graphql = await fetch(`${app}/metadata`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ twentyGeneration }' }),
    });
    expect(await graphql.json()).toEqual({ data: { twentyGeneration: 'v5' } });

    const token = /a user's token: (\S+)/.exec(stdout)![1];
    const sse = new AbortController();
    const stream = await fetch(printedUrl(stdout, 'SSE endpoint (GraphQL)'), {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${token}` },
      body: JSON.stringify({
        query: 'subscription { onEventSubscription(eventStreamId: "local-stack-test") { eventStreamId } }',
      }),
      signal: sse.signal,
    });
    expect({ status: stream.status, type: stream.headers.get('content-type') }).toMatchObject({
      status: 200,
      type: expect.stringMatching(/^text\/event-stream/),
    });
    sse.abort();

    const redis = new IORedis(printedUrl(stdout, 'Queue worker'), { lazyConnect: true, maxRetriesPerRequest: 1 });
    await redis.connect();
    expect(await redis.ping()).toBe('PONG');
    redis.disconnect();

    const otlp = await fetch(`${printedUrl(stdout, 'Collector OTLP/HTTP')}/v1/traces`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    expect(otlp.status).toBe(200);
    expect((await fetch(printedUrl(stdout, 'Collector metrics'))).status).toBe(200);
    expect(await getJson(printedUrl(stdout, 'Jaeger API'))).toHaveProperty('data');
    expect((await fetch(printedUrl(stdout, 'Jaeger UI'))).status).toBe(200);
    expect((await fetch(`${printedUrl(stdout, 'Prometheus')}/-/ready`)).status).toBe(200);
    expect(net.isIPv4(printedUrl(stdout, 'Collector OTLP/gRPC').split(':')[0])).toBe(true);
  });

  test('the printed curl recipes make a UI edit and a workflow run, counted in Prometheus and traced in Jaeger', async () => {
    const recipe = (label: string) => {
      const line = stdout.split('\n').find((candidate) => candidate.trimStart().startsWith(label))!;
      const [, url] = / (http:\/\/\S+) /.exec(line)!;
      const method = /-X (\w+)/.exec(line)![1];
      const body = /-d '(.*)'$/.exec(line)![1];
      const token = /Bearer (\S+)'/.exec(line)![1];
      return fetch(url, {
        method,
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body,
      });
    };
    const edit = await recipe('UI edit:');
    expect(edit.status).toBe(200);
    const workflow = await recipe('workflow run:');
    expect(await workflow.json()).toMatchObject({ status: 'COMPLETED' });

    const prometheus = printedUrl(stdout, 'Prometheus');
    const emitted = await waitFor(
      'Prometheus to count the UI and the workflow event at emit',
      async () => {
        const samples = await promQuery(
          prometheus,
          'sum by (twenty_sse_origin) (twenty_sse_stage_events_total{twenty_sse_stage="emit"})',
        );
        const byOrigin = Object.fromEntries(
          samples.map((sample) => [sample.metric.twenty_sse_origin, Number(sample.value[1])]),
        );
        return byOrigin.ui >= 1 && byOrigin.workflow >= 1 ? byOrigin : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 1000 },
    );
    expect(emitted).toEqual({ ui: 1, workflow: 1 });
    expect(await (await fetch(printedUrl(stdout, 'Collector metrics'))).text()).toMatch(
      /^twenty_sse_stage_events_total\{/m,
    );

    const jaeger = new URL(printedUrl(stdout, 'Jaeger API')).origin;
    await waitFor(
      'Jaeger to hold traces of both processes, with a workflow_step span in the worker',
      async () => {
        const services = (await getJson<{ data: string[] | null }>(`${jaeger}/api/services`)).data ?? [];
        if (!services.includes('twenty-server') || !services.includes('twenty-worker')) return undefined;
        const traces = await getJson<{ data: { spans: { tags: { key: string; value: unknown }[] }[] }[] }>(
          `${jaeger}/api/traces?service=twenty-worker&tags=${encodeURIComponent(JSON.stringify({ 'twenty.sse.stage': 'workflow_step' }))}`,
        );
        return traces.data.length > 0 ? true : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 1000 },
    );
  });

  test('POST /workflows/run without steps answers 400 naming what is missing (it would run and do nothing)', async () => {
    const token = /a user's token: (\S+)/.exec(stdout)![1];
    const run = (body: unknown) =>
      fetch(`${printedUrl(stdout, 'Example app (API server)')}/workflows/run`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    const empty = await run({});
    expect(empty.status).toBe(400);
    expect(((await empty.json()) as { message: string }).message).toMatch(
      /^POST \/workflows\/run needs "steps": a non-empty list of workflow actions, e\.g\. \{"steps":\[\{"id":"step-1","type":"UPDATE_RECORD"/,
    );
    const badStep = await run({ steps: [{ id: 'x', type: 'SEND_EMAIL', settings: { input: {} } }] });
    expect(badStep.status).toBe(400);
    expect(((await badStep.json()) as { message: string }).message).toMatch(
      /^steps\[0\] must be \{ id, type: CREATE_RECORD \| UPDATE_RECORD \| DELETE_RECORD \| UPSERT_RECORD/,
    );
  });

  test('SIGINT stops every process it started, frees the ports and removes its work directory; exit 0', async () => {
    const { pids, workDir } = printedProcesses(stdout);
    expect(fs.existsSync(workDir)).toBe(true);
    run.child.kill('SIGINT');
    expect(await run.exited).toBe(0);
    for (const [name, pid] of Object.entries(pids)) expect({ name, alive: alive(pid) }).toEqual({ name, alive: false });
    expect(fs.existsSync(workDir)).toBe(false);
    expect(await refused(printedUrl(stdout, 'Example app (API server)'))).toBe(true);
    expect(await refused(`${printedUrl(stdout, 'Prometheus')}/-/ready`)).toBe(true);
    expect(run.stderr()).toMatch(/\[stack\] stopped 6 processes\n$/);
  });
});

describe('npm run stack -- --scenario: drives the scenario, reports, and stops by itself', () => {
  const afterCleanup: (() => void)[] = [];
  afterAll(() => afterCleanup.forEach((cleanup) => cleanup()));

  test('workflow-leaves-filter: the doctor points at the workflow-only filtering at stream, the HTML report is written, nothing is left running', async () => {
    const htmlDir = fs.mkdtempSync(path.join(os.tmpdir(), 'twenty-sse-local-stack-test-'));
    afterCleanup.push(() => fs.rmSync(htmlDir, { recursive: true, force: true }));
    const html = path.join(htmlDir, 'report.html');
    const run = startStack(['--scenario', 'workflow-leaves-filter', '--events', '3', '--html', html]);
    const code = await run.exited;
    const stdout = run.stdout();
    // On a failure, the whole stderr: a crash (an uncaught error) prints no `stack:` line of its own.
    const stderrLines = run.stderr().split('\n');
    expect({
      code,
      stderr: code === 0 ? stderrLines.filter((line) => line.startsWith('stack:')) : stderrLines,
    }).toEqual({ code: 0, stderr: [] });
    expect(stdout).toContain('The open event stream received 3 of 3 UI updates and 0 of 3 workflow updates.');
    expect(stdout).toMatch(/^stream +\| 3 in, 0 on, 3 dropped \(no_matching_query 3\) +\| 3 in, 3 on$/m);
    // D8 is routine filtering: no loss, no alert; the doctor points at it as workflow-specific all the same.
    expect(stdout).toContain('No loss: every drop in the window is routine.');
    expect(stdout).toContain(
      'Worth a look: at stage "stream", routine drops end 100.0% of workflow units vs 0.0% of UI units, mostly no_matching_query (D8).',
    );
    expect(stdout).toMatch(
      /Example traces of dropped events:\n- http:\/\/127\.0\.0\.1:\d+\/trace\/[0-9a-f]{32} \(twenty-worker, no_matching_query\)/,
    );
    const page = fs.readFileSync(html, 'utf8');
    expect(page).toContain('data-has-drop="true"');
    expect(page).toContain('twenty-worker');
    const { pids, workDir } = printedProcesses(stdout);
    for (const [name, pid] of Object.entries(pids)) expect({ name, alive: alive(pid) }).toEqual({ name, alive: false });
    expect(fs.existsSync(workDir)).toBe(false);
  });
});

describe('npm run stack: a process that dies takes the stack down cleanly', () => {
  test('Jaeger killed: a line naming it, everything else stopped, exit 1', async () => {
    const run = startStack([]);
    await waitFor(
      'the stack to print its URLs',
      () => (run.stdout().includes('Ctrl-C stops everything.') ? true : undefined),
      {
        timeoutMs: 150_000,
        intervalMs: 500,
        context: () => run.stderr(),
      },
    );
    const { pids, workDir } = printedProcesses(run.stdout());
    process.kill(pids.jaeger, 'SIGKILL');
    expect(await run.exited).toBe(1);
    expect(run.stderr()).toContain('stack: jaeger exited unexpectedly (SIGKILL); stopping everything\n');
    for (const [name, pid] of Object.entries(pids)) expect({ name, alive: alive(pid) }).toEqual({ name, alive: false });
    expect(fs.existsSync(workDir)).toBe(false);
  });
});

describe('npm run stack: errors are one line, exit 2, nothing started', () => {
  const oneLine = async (args: string[], env?: NodeJS.ProcessEnv) => {
    const run = startStack(args, env);
    const code = await run.exited;
    const lines = run.stderr().trimEnd().split('\n');
    return {
      code,
      stdout: run.stdout(),
      error: lines[lines.length - 1],
      stackLines: lines.filter((line) => line.startsWith('stack:')).length,
    };
  };

  test('a pinned port that is taken', async () => {
    const blocker = net.createServer();
    const [port] = await freePorts(1);
    await new Promise<void>((resolve) => blocker.listen(port, '127.0.0.1', () => resolve()));
    try {
      expect(await oneLine(['--prometheus-port', String(port)])).toEqual({
        code: 2,
        stdout: '',
        error: `stack: port ${port} (--prometheus-port, Prometheus (prometheus)) is already in use on 127.0.0.1; free it, pick another port, or leave the option out to take a free one`,
        stackLines: 1,
      });
    } finally {
      blocker.close();
    }
  });

  test('a failed build of the collector (empty build cache, no module proxy)', async () => {
    const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'twenty-sse-local-stack-build-'));
    try {
      const result = await oneLine([], {
        ...process.env,
        XDG_CACHE_HOME: empty,
        GOMODCACHE: path.join(empty, 'mod'),
        GOPROXY: 'off',
        GOTOOLCHAIN: 'local',
      });
      expect({ code: result.code, stdout: result.stdout, stackLines: result.stackLines }).toEqual({
        code: 2,
        stdout: '',
        stackLines: 1,
      });
      expect(result.error).toBe(
        'stack: building the collector and Jaeger failed (otelcol-twenty-sse: go build failed); the build log is above, rerun it with: bash .ci/build-otel-binaries.sh',
      );
    } finally {
      fs.rmSync(empty, { recursive: true, force: true });
    }
  });

  test.each([
    [['--scenario', 'nope'], /^stack: unknown scenario "nope"; use one of: workflow-leaves-filter, healthy, /],
    [
      ['--scenario', 'enrichment-failure'],
      /^stack: scenario "enrichment-failure" injects its fault inside the app's process; run it with npm run demo -- --scenario enrichment-failure$/,
    ],
    [['--stay'], /^stack: --stay goes with --scenario \(see --help\)$/],
    [['--app-port', '70000'], /^stack: --app-port must be a port number from 1 to 65535, got "70000"$/],
    [['--bogus'], /^stack: Unknown option '--bogus'.* \(see --help\)$/],
  ])('%j', async (args, pattern) => {
    const result = await oneLine(args as string[]);
    expect({ code: result.code, stdout: result.stdout, stackLines: result.stackLines }).toEqual({
      code: 2,
      stdout: '',
      stackLines: 1,
    });
    expect(result.error).toMatch(pattern);
  });
});
