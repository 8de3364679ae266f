/**
 * The real observability stack for end-to-end tests, on free loopback ports:
 * Jaeger v2 and the collector built from Go modules (OTELCOL_BIN / JAEGER_BIN,
 * see .ci/build-otel-binaries.sh) with the SHIPPED configs
 * (collector/jaeger-config.yaml, collector/otelcol-config.local.yaml, ports
 * moved through their env vars), and the Debian Prometheus with a generated
 * prometheus.yml: the shipped dashboards/prometheus/prometheus.yml with 1s
 * scrape and evaluation intervals, the targets moved to the collector's ports
 * and rule_files pointing at the SHIPPED rules file(s).
 *
 * Also the example app's two processes (API server and queue worker) started
 * with the register entry, exporting to that collector.
 *
 * Everything started here is tracked and stopped by `stop()`; a process-exit
 * hook SIGKILLs whatever a crashed test left behind.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import IORedis from 'ioredis';
import YAML from 'yaml';
import { getRedisQueueListKey } from '../../example/twenty/engine/core-modules/message-queue/drivers/redis-list.driver';
import { MessageQueue } from '../../example/twenty/engine/core-modules/message-queue/message-queue.constants';

export const ROOT = path.resolve(__dirname, '../..');
export const COLLECTOR_DIR = path.join(ROOT, 'collector');
export const PROMETHEUS_DIR = path.join(ROOT, 'dashboards/prometheus');
export const SHIPPED_PROMETHEUS_CONFIG = path.join(PROMETHEUS_DIR, 'prometheus.yml');
export const SHIPPED_RULES_FILE = path.join(PROMETHEUS_DIR, 'rules/twenty-sse.rules.yml');
/** Prometheus for the two-tier deployment on one host: also scrapes the tier-2 collectors' telemetry. */
export const SHIPPED_SCALE_OUT_PROMETHEUS_CONFIG = path.join(PROMETHEUS_DIR, 'prometheus.scale-out.yml');
/** Telemetry port of the i-th tier-2 collector in prometheus.scale-out.yml (collector/otelcol-config.sampler.local.yaml's default, then +10 each). */
export const shippedSamplerTelemetryPort = (index: number) => 28888 + 10 * index;
/** TEST_NODE_BIN (CI runs the suite on Node 20 and 24; a relative path is from where the run started), else this Node. */
export const NODE_BIN = process.env.TEST_NODE_BIN ? path.resolve(process.env.TEST_NODE_BIN) : process.execPath;
export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6390';

// ---------------------------------------------------------------------------
// binaries

const BUILD_HINT =
  'build them with: eval "$(bash .ci/build-otel-binaries.sh)" (test/run-all.sh exports them through .ci/setup.sh)';

/** OTELCOL_BIN and JAEGER_BIN, or a clear error. */
export function otelBinaries(): { otelcol: string; jaeger: string } {
  const otelcol = process.env.OTELCOL_BIN;
  const jaeger = process.env.JAEGER_BIN;
  const problems: string[] = [];
  for (const [name, value] of [
    ['OTELCOL_BIN', otelcol],
    ['JAEGER_BIN', jaeger],
  ] as const) {
    if (!value) problems.push(`${name} is not set`);
    else if (!fs.existsSync(value)) problems.push(`${name}=${value} does not exist`);
  }
  if (problems.length > 0) throw new Error(`${problems.join('; ')}: ${BUILD_HINT}`);
  return { otelcol: otelcol as string, jaeger: jaeger as string };
}

function findOnPath(name: string, fallbacks: string[] = []): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (dir !== '' && fs.existsSync(path.join(dir, name))) return path.join(dir, name);
  }
  return fallbacks.find((candidate) => fs.existsSync(candidate));
}

export function prometheusBinary(): string {
  const bin = findOnPath('prometheus', ['/usr/bin/prometheus']);
  if (!bin)
    throw new Error(
      'prometheus not found on PATH: apt-get install prometheus (Debian 2.42; .ci/setup.sh does it as root)',
    );
  return bin;
}

export function promtoolBinary(): string {
  const bin = findOnPath('promtool', ['/usr/bin/promtool']);
  if (!bin) throw new Error('promtool not found on PATH: apt-get install prometheus (it ships promtool)');
  return bin;
}

// ---------------------------------------------------------------------------
// YAML

export function parseYaml(text: string): unknown {
  return YAML.parse(text);
}

export function stringifyYaml(value: unknown): string {
  return YAML.stringify(value);
}

export function readYamlFile<T = Record<string, unknown>>(file: string): T {
  return parseYaml(fs.readFileSync(file, 'utf8')) as T;
}

// ---------------------------------------------------------------------------
// ports, waiting, HTTP

/** `count` distinct free loopback ports (all held open at once, then released). */
export async function freePorts(count: number): Promise<number[]> {
  const servers: net.Server[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const server = net.createServer();
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(0, '127.0.0.1', () => resolve());
      });
      servers.push(server);
    }
    return servers.map((server) => (server.address() as net.AddressInfo).port);
  } finally {
    await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  }
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Polls `probe` until it returns something other than undefined. On timeout,
 * throws with `what`, the last probe error and `context()` (e.g. process logs).
 */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined> | T | undefined,
  options: { timeoutMs?: number; intervalMs?: number; context?: () => string } = {},
): Promise<T> {
  const { timeoutMs = 30_000, intervalMs = 200 } = options;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) {
      const detail = lastError instanceof Error ? `; last error: ${lastError.message}` : '';
      const context = options.context?.();
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${detail}${context ? `\n${context}` : ''}`);
    }
    await sleep(intervalMs);
  }
}

export async function httpStatus(url: string, timeoutMs = 2000): Promise<number> {
  const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  await response.arrayBuffer();
  return response.status;
}

export async function getJson<T = unknown>(url: string, timeoutMs = 5000): Promise<T> {
  const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  const text = await response.text();
  if (!response.ok) throw new Error(`GET ${url}: HTTP ${response.status}: ${text.slice(0, 300)}`);
  return JSON.parse(text) as T;
}

// ---------------------------------------------------------------------------
// processes

const live = new Set<ManagedProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const managed of live) managed.killNow();
  });
}

/** A child process with its output kept (last 200 KB) for failure messages. */
export class ManagedProcess {
  readonly child: ChildProcess;
  private output = '';
  private exited: Promise<number | null>;
  exitCode: number | null | undefined;

  constructor(
    readonly name: string,
    command: string,
    args: string[],
    options: { env?: NodeJS.ProcessEnv; cwd?: string } = {},
  ) {
    installExitHook();
    this.child = spawn(command, args, {
      cwd: options.cwd ?? ROOT,
      env: options.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    live.add(this);
    const append = (chunk: Buffer) => {
      this.output += chunk.toString('utf8');
      if (this.output.length > 200_000) this.output = this.output.slice(-150_000);
    };
    this.child.stdout?.on('data', append);
    this.child.stderr?.on('data', append);
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => {
        this.exitCode = code ?? (signal ? null : code);
        live.delete(this);
        resolve(code);
      });
      this.child.once('error', (error) => {
        append(Buffer.from(`spawn error: ${error.message}\n`));
        this.exitCode = null;
        live.delete(this);
        resolve(null);
      });
    });
  }

  get running(): boolean {
    return this.exitCode === undefined;
  }

  logs(): string {
    return this.output;
  }

  /** The last `lines` lines of output, prefixed with the process name. */
  tail(lines = 40): string {
    const all = this.output.trimEnd().split('\n');
    return all
      .slice(-lines)
      .map((line) => `[${this.name}] ${line}`)
      .join('\n');
  }

  /** Throws (with the log tail) if the process has exited. For use inside waitFor probes. */
  assertRunning(): void {
    if (!this.running) throw new Error(`${this.name} exited with code ${this.exitCode}\n${this.tail()}`);
  }

  /** SIGTERM, then SIGKILL after `graceMs`. Resolves when the process is gone. */
  async stop(graceMs = 5000): Promise<void> {
    if (!this.running) return;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.killNow(), graceMs);
    await this.exited;
    clearTimeout(timer);
  }

  killNow(): void {
    if (this.running) {
      try {
        this.child.kill('SIGKILL');
      } catch {
        // already gone
      }
    }
  }
}

/** Waits for an HTTP URL to answer `expectedStatus`, failing fast if `process` exits. */
async function waitForHttp(
  processes: ManagedProcess[],
  what: string,
  url: string,
  expectedStatus = 200,
  timeoutMs = 30_000,
): Promise<void> {
  await waitFor(
    `${what} (${url} -> ${expectedStatus})`,
    async () => {
      for (const managed of processes) managed.assertRunning();
      return (await httpStatus(url)) === expectedStatus ? true : undefined;
    },
    { timeoutMs, context: () => processes.map((managed) => managed.tail()).join('\n') },
  );
}

// ---------------------------------------------------------------------------
// the stack

export interface StackPorts {
  collectorOtlpGrpc: number;
  collectorOtlpHttp: number;
  collectorProm: number;
  collectorTelemetry: number;
  collectorHealth: number;
  jaegerOtlpGrpc: number;
  jaegerOtlpHttp: number;
  jaegerQueryHttp: number;
  jaegerQueryGrpc: number;
  jaegerHealth: number;
  jaegerHealthGrpc: number;
  jaegerMetrics: number;
  prometheus: number;
}

export interface StackOptions {
  /** Start Prometheus (default true). */
  prometheus?: boolean;
  /** span_metrics flush interval (default 1s, the shipped default is 5s). */
  spanMetricsFlushInterval?: string;
  /** Extra env for the collector (tier 1 with `samplers`). */
  collectorEnv?: NodeJS.ProcessEnv;
  /**
   * Two tiers: the collector becomes collector/otelcol-config.balancer.local.yaml, routing traces to this many
   * tail-sampling collectors (collector/otelcol-config.sampler.local.yaml), which export to Jaeger; Prometheus
   * uses dashboards/prometheus/prometheus.scale-out.yml.
   */
  samplers?: number;
  /** Extra env for every tier-2 collector. */
  samplerEnv?: NodeJS.ProcessEnv;
  /** Rule files Prometheus loads instead of the shipped config's (absolute paths). */
  ruleFiles?: string[];
}

export interface Stack {
  ports: StackPorts;
  workDir: string;
  /** OTLP/HTTP base URL for OTEL_EXPORTER_OTLP_ENDPOINT. */
  otlpHttpUrl: string;
  jaegerUrl: string;
  promUrl: string;
  /** The generated prometheus.yml (undefined without Prometheus). */
  prometheusConfigFile?: string;
  /** The tier-2 collectors (empty for the single collector). */
  samplers: { ports: SamplerPorts; proc: ManagedProcess }[];
  processes: ManagedProcess[];
  /** Log tails of every process of the stack, for failure messages. */
  logs(lines?: number): string;
  stop(): Promise<void>;
}

const STACK_PORT_NAMES: (keyof StackPorts)[] = [
  'collectorOtlpGrpc',
  'collectorOtlpHttp',
  'collectorProm',
  'collectorTelemetry',
  'collectorHealth',
  'jaegerOtlpGrpc',
  'jaegerOtlpHttp',
  'jaegerQueryHttp',
  'jaegerQueryGrpc',
  'jaegerHealth',
  'jaegerHealthGrpc',
  'jaegerMetrics',
  'prometheus',
];

export async function allocateStackPorts(): Promise<StackPorts> {
  const ports = await freePorts(STACK_PORT_NAMES.length);
  return Object.fromEntries(STACK_PORT_NAMES.map((name, i) => [name, ports[i]])) as unknown as StackPorts;
}

/** The env vars of collector/jaeger-config.yaml (collector/README.md) for these ports. */
export function jaegerEnv(ports: StackPorts): Record<string, string> {
  return {
    JAEGER_OTLP_GRPC_PORT: String(ports.jaegerOtlpGrpc),
    JAEGER_OTLP_HTTP_PORT: String(ports.jaegerOtlpHttp),
    JAEGER_QUERY_HTTP_PORT: String(ports.jaegerQueryHttp),
    JAEGER_QUERY_GRPC_PORT: String(ports.jaegerQueryGrpc),
    JAEGER_HEALTH_PORT: String(ports.jaegerHealth),
    JAEGER_HEALTH_GRPC_PORT: String(ports.jaegerHealthGrpc),
    JAEGER_METRICS_PORT: String(ports.jaegerMetrics),
    JAEGER_PROMETHEUS_ENDPOINT: `http://127.0.0.1:${ports.prometheus}`,
    JAEGER_MAX_TRACES: '10000',
  };
}

/**
 * The env vars of collector/otelcol-config.local.yaml (collector/README.md) for these ports. Tail sampling keeps
 * every trace (a suite that tests sampling sets OTELCOL_TRACES_SAMPLE_PERCENT itself) and decides after 1s.
 */
export function collectorEnv(ports: StackPorts, spanMetricsFlushInterval = '1s'): Record<string, string> {
  return {
    OTELCOL_OTLP_GRPC_PORT: String(ports.collectorOtlpGrpc),
    OTELCOL_OTLP_HTTP_PORT: String(ports.collectorOtlpHttp),
    OTELCOL_PROM_PORT: String(ports.collectorProm),
    OTELCOL_TELEMETRY_PORT: String(ports.collectorTelemetry),
    OTELCOL_HEALTH_PORT: String(ports.collectorHealth),
    JAEGER_OTLP_GRPC_ENDPOINT: `127.0.0.1:${ports.jaegerOtlpGrpc}`,
    OTELCOL_SPANMETRICS_FLUSH_INTERVAL: spanMetricsFlushInterval,
    ...SAMPLING_ENV,
  };
}

const SAMPLING_ENV = { OTELCOL_TRACES_SAMPLE_PERCENT: '100', OTELCOL_TAIL_DECISION_WAIT: '1s' };

/** Ports of one tier-2 collector (collector/otelcol-config.sampler.local.yaml). */
export interface SamplerPorts {
  otlpGrpc: number;
  health: number;
  telemetry: number;
}

/** The env vars of collector/otelcol-config.sampler.local.yaml for one tier-2 collector exporting to this stack's Jaeger. */
export function samplerEnv(ports: SamplerPorts, stackPorts: StackPorts): Record<string, string> {
  return {
    OTELCOL_OTLP_GRPC_PORT: String(ports.otlpGrpc),
    OTELCOL_HEALTH_PORT: String(ports.health),
    OTELCOL_TELEMETRY_PORT: String(ports.telemetry),
    JAEGER_OTLP_GRPC_ENDPOINT: `127.0.0.1:${stackPorts.jaegerOtlpGrpc}`,
    ...SAMPLING_ENV,
  };
}

/** The env vars of collector/otelcol-config.balancer.local.yaml: the stack's collector ports, routing to these samplers. */
export function balancerEnv(
  ports: StackPorts,
  samplers: SamplerPorts[],
  spanMetricsFlushInterval = '1s',
): Record<string, string> {
  // tier 1 neither samples nor talks to Jaeger
  const env = collectorEnv(ports, spanMetricsFlushInterval);
  for (const key of ['JAEGER_OTLP_GRPC_ENDPOINT', ...Object.keys(SAMPLING_ENV)]) delete env[key];
  return {
    ...env,
    OTELCOL_SAMPLER_ENDPOINTS: `[${samplers.map(({ otlpGrpc }) => `127.0.0.1:${otlpGrpc}`).join(', ')}]`,
  };
}

/** process.env without what could leak into a child's config (OTEL_*, TWENTY_SSE_*, NODE_OPTIONS, the stack's own vars). */
export function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (/^(OTEL_|OTELCOL_|JAEGER_(?!BIN$)|TWENTY_SSE_|EXAMPLE_)/.test(key) || key === 'NODE_OPTIONS') continue;
    env[key] = value;
  }
  return env;
}

interface PrometheusConfig {
  global?: Record<string, unknown>;
  rule_files?: string[];
  scrape_configs?: { job_name: string; static_configs?: { targets: string[] }[] }[];
}

/**
 * The shipped prometheus.yml for this stack: 1s scrape and evaluation
 * intervals, `rule_files` resolved against the shipped config's directory
 * (absolute, so they load the shipped rules), and the targets moved to the
 * stack's ports: the collector's exporter (127.0.0.1:8889) and internal
 * telemetry (:8888), and Jaeger's internal telemetry (:18888) should the
 * shipped file scrape it. A target it does not know is an error, so a change
 * to the shipped file shows up here.
 */
export function generatePrometheusConfig(
  ports: Pick<StackPorts, 'collectorProm' | 'collectorTelemetry'> & Partial<Pick<StackPorts, 'jaegerMetrics'>>,
  shippedFile = SHIPPED_PROMETHEUS_CONFIG,
  /** Further shipped port -> stack port moves (the tier-2 collectors' telemetry of the scale-out config). */
  extraPorts: Record<string, number> = {},
  /** Rule files to load instead of the shipped ones (absolute paths). */
  ruleFiles?: string[],
): string {
  const config = readYamlFile<PrometheusConfig>(shippedFile);
  const portMap: Record<string, number | undefined> = {
    '8889': ports.collectorProm,
    '8888': ports.collectorTelemetry,
    '18888': ports.jaegerMetrics,
    ...extraPorts,
  };
  config.global = { ...config.global, scrape_interval: '1s', evaluation_interval: '1s' };
  config.rule_files =
    ruleFiles ?? (config.rule_files ?? []).map((entry) => path.resolve(path.dirname(shippedFile), entry));
  for (const scrape of config.scrape_configs ?? []) {
    for (const staticConfig of scrape.static_configs ?? []) {
      staticConfig.targets = staticConfig.targets.map((target) => {
        const match = /^(127\.0\.0\.1|localhost):(\d+)$/.exec(target);
        if (!match || portMap[match[2]] === undefined) {
          const known = Object.keys(portMap)
            .map((port) => `:${port}`)
            .join(', ');
          throw new Error(
            `${shippedFile}: job ${scrape.job_name} scrapes ${target}, which the stack helper does not know (expected 127.0.0.1 with ${known})`,
          );
        }
        return `127.0.0.1:${portMap[match[2]]}`;
      });
    }
  }
  return `# generated by test/helpers/stack.ts from ${path.relative(ROOT, shippedFile)}\n${stringifyYaml(config)}`;
}

export async function startJaeger(ports: StackPorts, workDir: string): Promise<ManagedProcess> {
  const { jaeger } = otelBinaries();
  const proc = new ManagedProcess('jaeger', jaeger, [`--config=${path.join(COLLECTOR_DIR, 'jaeger-config.yaml')}`], {
    env: { ...cleanEnv(), ...jaegerEnv(ports) },
    cwd: workDir,
  });
  try {
    await waitForHttp([proc], 'Jaeger healthcheckv2', `http://127.0.0.1:${ports.jaegerHealth}/status`);
    await waitForHttp([proc], 'Jaeger query API', `http://127.0.0.1:${ports.jaegerQueryHttp}/api/services`);
  } catch (error) {
    await proc.stop();
    throw error;
  }
  return proc;
}

export async function startCollector(
  ports: StackPorts,
  workDir: string,
  options: StackOptions = {},
  /** The two-tier deployment's tier 1 instead of the single collector. */
  samplers?: SamplerPorts[],
): Promise<ManagedProcess> {
  const { otelcol } = otelBinaries();
  const [name, config, env] = samplers
    ? [
        'otelcol-balancer',
        'otelcol-config.balancer.local.yaml',
        balancerEnv(ports, samplers, options.spanMetricsFlushInterval),
      ]
    : ['otelcol', 'otelcol-config.local.yaml', collectorEnv(ports, options.spanMetricsFlushInterval)];
  const proc = new ManagedProcess(name, otelcol, [`--config=${path.join(COLLECTOR_DIR, config)}`], {
    env: { ...cleanEnv(), ...env, ...options.collectorEnv },
    cwd: workDir,
  });
  try {
    await waitForHttp([proc], 'collector health_check', `http://127.0.0.1:${ports.collectorHealth}/`);
    await waitForHttp([proc], 'collector prometheus exporter', `http://127.0.0.1:${ports.collectorProm}/metrics`);
    await waitForHttp([proc], 'collector internal telemetry', `http://127.0.0.1:${ports.collectorTelemetry}/metrics`);
  } catch (error) {
    await proc.stop();
    throw error;
  }
  return proc;
}

/** One tier-2 collector (collector/otelcol-config.sampler.local.yaml) exporting to the stack's Jaeger. */
export async function startSampler(
  name: string,
  ports: SamplerPorts,
  stackPorts: StackPorts,
  workDir: string,
  env: NodeJS.ProcessEnv = {},
): Promise<ManagedProcess> {
  const { otelcol } = otelBinaries();
  const proc = new ManagedProcess(
    name,
    otelcol,
    [`--config=${path.join(COLLECTOR_DIR, 'otelcol-config.sampler.local.yaml')}`],
    {
      env: { ...cleanEnv(), ...samplerEnv(ports, stackPorts), ...env },
      cwd: workDir,
    },
  );
  try {
    await waitForHttp([proc], `${name} health_check`, `http://127.0.0.1:${ports.health}/`);
  } catch (error) {
    await proc.stop();
    throw error;
  }
  return proc;
}

export async function startPrometheus(
  ports: StackPorts,
  workDir: string,
  shipped: { file: string; extraPorts: Record<string, number>; ruleFiles?: string[] } = {
    file: SHIPPED_PROMETHEUS_CONFIG,
    extraPorts: {},
  },
): Promise<{ proc: ManagedProcess; configFile: string }> {
  const configFile = path.join(workDir, 'prometheus.yml');
  fs.writeFileSync(configFile, generatePrometheusConfig(ports, shipped.file, shipped.extraPorts, shipped.ruleFiles));
  const proc = new ManagedProcess(
    'prometheus',
    prometheusBinary(),
    [
      `--config.file=${configFile}`,
      `--storage.tsdb.path=${path.join(workDir, 'prometheus-data')}`,
      `--web.listen-address=127.0.0.1:${ports.prometheus}`,
    ],
    { env: cleanEnv(), cwd: workDir },
  );
  try {
    await waitForHttp([proc], 'Prometheus ready', `http://127.0.0.1:${ports.prometheus}/-/ready`);
  } catch (error) {
    await proc.stop();
    throw error;
  }
  return { proc, configFile };
}

/** Jaeger, then the collector (which exports to it), then Prometheus (which scrapes the collector). */
export async function startStack(options: StackOptions = {}): Promise<Stack> {
  otelBinaries();
  if (options.prometheus !== false) prometheusBinary();
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'twenty-sse-stack-'));
  const ports = await allocateStackPorts();
  const samplerPorts: SamplerPorts[] = [];
  for (let i = 0; i < (options.samplers ?? 0); i++) {
    const [otlpGrpc, health, telemetry] = await freePorts(3);
    samplerPorts.push({ otlpGrpc, health, telemetry });
  }
  const processes: ManagedProcess[] = [];
  const samplers: Stack['samplers'] = [];
  let prometheusConfigFile: string | undefined;
  const stop = async () => {
    await Promise.all([...processes].reverse().map((managed) => managed.stop()));
    fs.rmSync(workDir, { recursive: true, force: true });
  };
  try {
    processes.push(await startJaeger(ports, workDir));
    for (const [i, samplerPort] of samplerPorts.entries()) {
      const proc = await startSampler(`otelcol-sampler-${i + 1}`, samplerPort, ports, workDir, options.samplerEnv);
      processes.push(proc);
      samplers.push({ ports: samplerPort, proc });
    }
    processes.push(await startCollector(ports, workDir, options, samplerPorts.length > 0 ? samplerPorts : undefined));
    if (options.prometheus !== false) {
      const shipped =
        samplerPorts.length > 0
          ? {
              file: SHIPPED_SCALE_OUT_PROMETHEUS_CONFIG,
              extraPorts: Object.fromEntries(
                samplerPorts.map(({ telemetry }, i) => [String(shippedSamplerTelemetryPort(i)), telemetry]),
              ),
              ruleFiles: options.ruleFiles,
            }
          : { file: SHIPPED_PROMETHEUS_CONFIG, extraPorts: {}, ruleFiles: options.ruleFiles };
      const prometheus = await startPrometheus(ports, workDir, shipped);
      processes.push(prometheus.proc);
      prometheusConfigFile = prometheus.configFile;
    }
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    ports,
    workDir,
    otlpHttpUrl: `http://127.0.0.1:${ports.collectorOtlpHttp}`,
    jaegerUrl: `http://127.0.0.1:${ports.jaegerQueryHttp}`,
    promUrl: `http://127.0.0.1:${ports.prometheus}`,
    prometheusConfigFile,
    samplers,
    processes,
    logs: (lines = 40) => processes.map((managed) => managed.tail(lines)).join('\n'),
    stop,
  };
}

// ---------------------------------------------------------------------------
// Prometheus HTTP API

export interface PromSample {
  metric: Record<string, string>;
  value: [number, string];
}

export async function promQuery(promUrl: string, query: string): Promise<PromSample[]> {
  const body = await getJson<{ status: string; data: { resultType: string; result: PromSample[] }; error?: string }>(
    `${promUrl}/api/v1/query?${new URLSearchParams({ query })}`,
  );
  if (body.status !== 'success') throw new Error(`Prometheus query failed: ${body.error}: ${query}`);
  return body.data.result;
}

export interface PromAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  state: 'pending' | 'firing' | 'inactive';
  activeAt?: string;
  value?: string;
}

export async function promAlerts(promUrl: string): Promise<PromAlert[]> {
  const body = await getJson<{ data: { alerts: PromAlert[] } }>(`${promUrl}/api/v1/alerts`);
  return body.data.alerts;
}

export interface PromRuleGroup {
  name: string;
  file: string;
  lastEvaluation: string;
  rules: { name: string; type: 'alerting' | 'recording'; health: string; lastError?: string; state?: string }[];
}

export async function promRuleGroups(promUrl: string): Promise<PromRuleGroup[]> {
  const body = await getJson<{ data: { groups: PromRuleGroup[] } }>(`${promUrl}/api/v1/rules`);
  return body.data.groups;
}

/** Waits until every rule group has been evaluated after `afterMs` (epoch ms). */
export async function waitForRuleEvaluation(
  promUrl: string,
  afterMs: number,
  timeoutMs = 20_000,
): Promise<PromRuleGroup[]> {
  return waitFor(
    'a rule evaluation of every group',
    async () => {
      const groups = await promRuleGroups(promUrl);
      return groups.length > 0 && groups.every((group) => Date.parse(group.lastEvaluation) > afterMs)
        ? groups
        : undefined;
    },
    { timeoutMs },
  );
}

// ---------------------------------------------------------------------------
// the example app's two processes, instrumented through the register entry

export interface ExampleProcesses {
  /** The first API server's. */
  url: string;
  port: number;
  groundTruthFile: string;
  /** The first API server and queue worker. */
  server: ManagedProcess;
  worker: ManagedProcess;
  /** Every API server, with where it listens, and every queue worker (replicas on one Redis). */
  servers: { proc: ManagedProcess; url: string; port: number }[];
  workers: ManagedProcess[];
  /** Starts one more queue worker on the same Redis and queue, with `env` on top; resolves once it consumes. */
  addWorker(name: string, env?: NodeJS.ProcessEnv): Promise<ManagedProcess>;
  logs(lines?: number): string;
  stop(): Promise<void>;
}

export interface ExampleProcessOptions {
  otlpHttpUrl: string;
  redisUrl: string;
  workDir: string;
  generation?: 'v1' | 'v5' | 'v8' | 'publisher';
  serverServiceName?: string;
  workerServiceName?: string;
  env?: NodeJS.ProcessEnv;
  /** Replicas: how many API servers and queue workers (default 1 each); the workers share the queue. */
  servers?: number;
  workers?: number;
  /** Extra env for the queue workers only (e.g. their own REDIS_URL). */
  workerEnv?: NodeJS.ProcessEnv;
}

const DIST_REGISTER = path.join(ROOT, 'dist/src/register.js');
const DIST_SERVER = path.join(ROOT, 'dist/example/app/main.js');
const DIST_WORKER = path.join(ROOT, 'dist/example/app/queue-worker/queue-worker.js');

/**
 * `node --require dist/src/register.js` on dist/example/app/main.js (API
 * server) and dist/example/app/queue-worker/queue-worker.js, sharing Redis and
 * one ground-truth file; resolves when every server answers GraphQL and every
 * worker consumes its queue.
 */
export async function startExampleProcesses(options: ExampleProcessOptions): Promise<ExampleProcesses> {
  for (const file of [DIST_REGISTER, DIST_SERVER, DIST_WORKER]) {
    if (!fs.existsSync(file))
      throw new Error(
        `${path.relative(ROOT, file)} is missing: run npx tsc -p tsconfig.build.json (or unset SKIP_BUILD)`,
      );
  }
  // A job left in this database's queues by an aborted run would be consumed by the new worker and counted.
  const redis = new IORedis(options.redisUrl, { maxRetriesPerRequest: 1, lazyConnect: true });
  try {
    await redis.connect();
    await redis.del(...Object.values(MessageQueue).map(getRedisQueueListKey));
  } catch (error) {
    throw new Error(
      `cannot reach Redis at ${options.redisUrl} (set REDIS_URL; locally redis-server --port 6390): ${(error as Error).message}`,
      { cause: error },
    );
  } finally {
    redis.disconnect();
  }
  const serverPorts = await freePorts(options.servers ?? 1);
  const [port] = serverPorts;
  const groundTruthFile = path.join(options.workDir, `ground-truth-${port}.jsonl`);
  fs.writeFileSync(groundTruthFile, '');
  const common: NodeJS.ProcessEnv = {
    ...cleanEnv(),
    TWENTY_SSE_OTEL_ENABLED: 'true',
    OTEL_EXPORTER_OTLP_ENDPOINT: options.otlpHttpUrl,
    OTEL_METRIC_EXPORT_INTERVAL: '1000',
    OTEL_BSP_SCHEDULE_DELAY: '200',
    EXAMPLE_TWENTY_GENERATION: options.generation ?? 'v5',
    REDIS_URL: options.redisUrl,
    MESSAGE_QUEUE_TYPE: 'redis',
    EXAMPLE_GROUND_TRUTH_FILE: groundTruthFile,
    ...options.env,
  };
  const replicaName = (base: string, i: number) => (i === 0 ? base : `${base}-${i + 1}`);
  const servers = serverPorts.map((serverPort, i) => ({
    proc: new ManagedProcess(replicaName('twenty-server', i), NODE_BIN, ['--require', DIST_REGISTER, DIST_SERVER], {
      env: { ...common, PORT: String(serverPort), OTEL_SERVICE_NAME: options.serverServiceName ?? 'twenty-server' },
    }),
    url: `http://127.0.0.1:${serverPort}`,
    port: serverPort,
  }));
  const workerProcess = (name: string, env: NodeJS.ProcessEnv = {}) =>
    new ManagedProcess(name, NODE_BIN, ['--require', DIST_REGISTER, DIST_WORKER], {
      env: { ...common, OTEL_SERVICE_NAME: options.workerServiceName ?? 'twenty-worker', ...options.workerEnv, ...env },
    });
  const workers = Array.from({ length: options.workers ?? 1 }, (_, i) =>
    workerProcess(replicaName('twenty-worker', i)),
  );
  const all = [...servers.map(({ proc }) => proc), ...workers];
  const addWorker = async (name: string, env?: NodeJS.ProcessEnv) => {
    const worker = workerProcess(name, env);
    all.push(worker);
    await waitFor(
      `${name} to consume its queue`,
      () => (worker.assertRunning(), /consuming workflow-queue/.test(worker.logs()) ? true : undefined),
      {
        timeoutMs: 30_000,
        context: () => worker.tail(),
      },
    );
    return worker;
  };
  const logs = (lines = 40) => all.map((managed) => managed.tail(lines)).join('\n');
  const stop = async () => {
    await Promise.all(all.map((managed) => managed.stop()));
  };
  const answers = async (serverUrl: string) => {
    const response = await fetch(`${serverUrl}/metadata`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ twentyGeneration }' }),
      signal: AbortSignal.timeout(2000),
    });
    return response.ok;
  };
  try {
    await waitFor(
      'every example API server to answer GraphQL and every worker to consume its queue',
      async () => {
        for (const managed of all) managed.assertRunning();
        if (!workers.every((worker) => /consuming workflow-queue/.test(worker.logs()))) return undefined;
        return (await Promise.all(servers.map(({ url }) => answers(url)))).every(Boolean) ? true : undefined;
      },
      { timeoutMs: 30_000, context: logs },
    );
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    url: servers[0].url,
    port,
    groundTruthFile,
    server: servers[0].proc,
    worker: workers[0],
    servers,
    workers,
    addWorker,
    logs,
    stop,
  };
}

/** A private redis-server on a free loopback port, for a suite whose workers must not share a queue with another suite's. */
export async function startRedis(workDir: string): Promise<{ url: string; proc: ManagedProcess }> {
  const bin = findOnPath('redis-server', ['/usr/bin/redis-server']);
  if (!bin) throw new Error('redis-server not found on PATH: apt-get install redis-server');
  const [port] = await freePorts(1);
  const proc = new ManagedProcess(
    'redis',
    bin,
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    {
      env: cleanEnv(),
      cwd: workDir,
    },
  );
  const url = `redis://127.0.0.1:${port}`;
  try {
    await waitFor(
      `redis-server on ${port}`,
      async () => {
        proc.assertRunning();
        const redis = new IORedis(url, { maxRetriesPerRequest: 0, lazyConnect: true, retryStrategy: () => null });
        try {
          await redis.connect();
          return (await redis.ping()) === 'PONG' ? true : undefined;
        } finally {
          redis.disconnect();
        }
      },
      { timeoutMs: 10_000, context: () => proc.tail() },
    );
  } catch (error) {
    await proc.stop();
    throw error;
  }
  return { url, proc };
}

/** REDIS_URL (default redis://127.0.0.1:6390) with database `db` when the URL names none, so these tests' queue keys stay apart from other suites'. */
export function redisUrlWithDb(db: number, base = process.env.REDIS_URL ?? DEFAULT_REDIS_URL): string {
  const url = new URL(base);
  if (url.pathname === '' || url.pathname === '/') url.pathname = `/${db}`;
  return url.toString();
}

// ---------------------------------------------------------------------------
// the doctor CLI

export const DIST_CLI = path.join(ROOT, 'dist/src/cli/main.js');

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** `node dist/src/cli/main.js ...args` with TEST_NODE_BIN (or this Node). */
export function runCli(
  args: string[],
  options: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {},
): Promise<CliResult> {
  if (!fs.existsSync(DIST_CLI))
    throw new Error(
      `${path.relative(ROOT, DIST_CLI)} is missing: run npx tsc -p tsconfig.build.json (or unset SKIP_BUILD)`,
    );
  return new Promise((resolve, reject) => {
    const child = spawn(NODE_BIN, [DIST_CLI, ...args], {
      cwd: ROOT,
      env: options.env ?? cleanEnv(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}
