/**
 * The pieces `npm run stack` starts, each a child process on 127.0.0.1: its
 * own Redis, Jaeger v2 and the OpenTelemetry Collector built from the pinned
 * Go modules (.ci/build-otel-binaries.sh, cached), Debian's Prometheus with the
 * shipped rules, and the example app's API server and queue worker started
 * with the register entry. Configs are the shipped ones (collector/,
 * dashboards/prometheus/), their ports moved through their env vars.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';

import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';

/** The repository root (this file runs from dist/stack/). */
export const ROOT = path.resolve(__dirname, '../..');

/**
 * Short intervals so a change shows within seconds (the defaults: the SDK
 * exports metrics every 60 s and spans every 5 s, the collector decides on a
 * trace 10 s after its first span).
 */
export const INTERVALS = {
  metricExportMs: 2000,
  spanExportDelayMs: 500,
  spanMetricsFlush: '2s',
  prometheusScrape: '2s',
  tailDecisionWait: '2s',
} as const;

/** A dev stack keeps every trace (the shipped collector keeps drops, failures and 10% of the rest); the environment may say otherwise. */
export const tracesSamplePercent = (): string => process.env.OTELCOL_TRACES_SAMPLE_PERCENT ?? '100';

/** A failure the command reports as one line (then exits 2). */
export class StackError extends Error {}

// ---------------------------------------------------------------------------
// ports

/** Resolves when nothing listens on 127.0.0.1:`port`, else throws with `what` in the message. */
export async function assertPortFree(port: number, what: string): Promise<void> {
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => {
      reject(
        new StackError(
          error.code === 'EADDRINUSE'
            ? `port ${port} (${what}) is already in use on 127.0.0.1; free it, pick another port, or leave the option out to take a free one`
            : `cannot use port ${port} (${what}): ${error.code ?? error.message}`,
        ),
      );
    });
    server.listen(port, '127.0.0.1', () => resolve());
  });
  await new Promise((resolve) => server.close(resolve));
}

/** `count` distinct free loopback ports (held open together, then released), none of `avoid`. */
export async function freePorts(count: number, avoid: number[] = []): Promise<number[]> {
  const servers: net.Server[] = [];
  const ports: number[] = [];
  try {
    while (ports.length < count) {
      const server = net.createServer();
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(0, '127.0.0.1', () => resolve());
      });
      servers.push(server);
      const { port } = server.address() as net.AddressInfo;
      if (!avoid.includes(port)) ports.push(port);
    }
    return ports;
  } finally {
    await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  }
}

// ---------------------------------------------------------------------------
// binaries

function onPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (dir !== '' && fs.existsSync(path.join(dir, name))) return path.join(dir, name);
  }
  return ['/usr/bin', '/usr/sbin', '/usr/local/bin']
    .map((dir) => path.join(dir, name))
    .find((file) => fs.existsSync(file));
}

export function debianBinary(name: 'prometheus' | 'redis-server'): string {
  const bin = onPath(name);
  if (!bin)
    throw new StackError(
      `${name} not found on PATH; install Debian's ${name === 'prometheus' ? 'prometheus' : 'redis-server'} package (apt-get install ${name})`,
    );
  return bin;
}

/**
 * OTELCOL_BIN and JAEGER_BIN from .ci/build-otel-binaries.sh (a cache hit
 * answers at once; a real build takes minutes, its progress goes to `log`).
 */
export function buildOtelBinaries(log: (line: string) => void): Promise<{ otelcol: string; jaeger: string }> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      'bash',
      [path.join(ROOT, '.ci/build-otel-binaries.sh')],
      { cwd: ROOT, maxBuffer: 64 * 1024 * 1024 },
      (error, stdout) => {
        const bins = Object.fromEntries(
          stdout
            .split('\n')
            .map((line) => /^(OTELCOL_BIN|JAEGER_BIN)=(.+)$/.exec(line.trim()))
            .filter((match): match is RegExpExecArray => match !== null)
            .map((match) => [match[1], match[2]]),
        );
        if (error || !bins.OTELCOL_BIN || !bins.JAEGER_BIN) {
          const reason = lastError || (error ? `exit code ${error.code}` : 'it printed no OTELCOL_BIN/JAEGER_BIN');
          reject(
            new StackError(
              `building the collector and Jaeger failed (${reason}); the build log is above, rerun it with: bash .ci/build-otel-binaries.sh`,
            ),
          );
          return;
        }
        resolve({ otelcol: bins.OTELCOL_BIN, jaeger: bins.JAEGER_BIN });
      },
    );
    let lastError = '';
    let pending = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      pending += chunk.toString('utf8');
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) {
        const error = /\berror: (.*)$/.exec(line);
        if (error) lastError = error[1];
        // A cache hit is not news; a build (minutes) is.
        if (!/: cached at /.test(line)) log(line);
      }
    });
  });
}

// ---------------------------------------------------------------------------
// child processes

const LOG_TAIL_BYTES = 100_000;

/** A child process of the stack: output kept (tail) and appended to `<logDir>/<name>.log`. */
export class Component {
  readonly child: ChildProcess;
  private output = '';
  private readonly exited: Promise<void>;
  exitCode: number | null | undefined;
  exitSignal: NodeJS.Signals | null = null;

  constructor(
    readonly name: string,
    command: string,
    args: string[],
    options: { env: NodeJS.ProcessEnv; logDir: string; onExit?: (component: Component) => void },
  ) {
    const logFile = fs.createWriteStream(path.join(options.logDir, `${name}.log`));
    // The log file is a copy of the output: a failed write (disk full, directory gone) must not take the stack down.
    logFile.on('error', () => undefined);
    this.child = spawn(command, args, { cwd: ROOT, env: options.env, stdio: ['ignore', 'pipe', 'pipe'] });
    const append = (chunk: Buffer) => {
      logFile.write(chunk);
      this.output += chunk.toString('utf8');
      if (this.output.length > LOG_TAIL_BYTES) this.output = this.output.slice(-LOG_TAIL_BYTES / 2);
    };
    this.child.stdout?.on('data', append);
    this.child.stderr?.on('data', append);
    this.exited = new Promise((resolve) => {
      const done = (code: number | null, signal: NodeJS.Signals | null) => {
        if (this.exitCode !== undefined) return;
        this.exitCode = code;
        this.exitSignal = signal;
        options.onExit?.(this);
        resolve();
      };
      this.child.once('exit', done);
      // 'exit' can come before the last output does (a child's pipes drain after it exits, and a process it left
      // behind may still write): the log ends only once both pipes closed.
      this.child.once('close', () => logFile.end());
      this.child.once('error', (error) => {
        append(Buffer.from(`cannot start ${command}: ${error.message}\n`));
        done(null, null);
      });
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get running(): boolean {
    return this.exitCode === undefined;
  }

  logs(): string {
    return this.output;
  }

  tail(lines = 15): string {
    return this.output
      .trimEnd()
      .split('\n')
      .slice(-lines)
      .map((line) => `  [${this.name}] ${line}`)
      .join('\n');
  }

  /** SIGTERM, then SIGKILL after `graceMs`; resolves once the process is gone. */
  async stop(graceMs = 5000): Promise<void> {
    if (!this.running) return;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.kill(), graceMs);
    await this.exited;
    clearTimeout(timer);
  }

  kill(): void {
    if (this.running) this.child.kill('SIGKILL');
  }
}

/** Polls `probe` until it returns true; fails with `what` and the component's log tail if it exits or the time runs out. */
export async function waitUntil(
  component: Component,
  what: string,
  probe: () => Promise<boolean>,
  timeoutMs = 60_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (!component.running)
      throw startupFailure(
        component,
        `exited (${component.exitSignal ?? `code ${component.exitCode}`}) before ${what}`,
      );
    if (await probe().catch(() => false)) return;
    if (Date.now() > deadline)
      throw startupFailure(component, `did not get ready within ${timeoutMs / 1000} s (${what})`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** One line naming the component and why; a port clash (someone took the port since it was checked) is named as such. */
function startupFailure(component: Component, problem: string): StackError {
  const clash = component
    .logs()
    .split('\n')
    .find((line) => /address already in use/i.test(line));
  if (clash) {
    const address = /127\.0\.0\.1:\d+/.exec(clash)?.[0] ?? 'one of its ports';
    return new StackError(
      `${component.name} could not listen on ${address}: address already in use; free that port or run again (free ports are picked anew)`,
    );
  }
  return new StackError(`${component.name} ${problem}; its last log lines:\n${component.tail()}`);
}

export const httpOk = async (url: string, init?: RequestInit): Promise<boolean> => {
  const response = await fetch(url, { ...init, signal: AbortSignal.timeout(2000) });
  await response.arrayBuffer();
  return response.ok;
};

/** process.env without what would steer a child elsewhere: the stack sets these itself. */
export function childEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (
      /^(OTEL_|OTELCOL_|JAEGER_|TWENTY_SSE_|EXAMPLE_)/.test(key) ||
      ['NODE_OPTIONS', 'REDIS_URL', 'PORT', 'MESSAGE_QUEUE_TYPE'].includes(key)
    )
      continue;
    env[key] = value;
  }
  return env;
}

// ---------------------------------------------------------------------------
// configs

export interface StackPorts {
  redis: number;
  app: number;
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

export const PORT_NAMES: (keyof StackPorts)[] = [
  'redis',
  'app',
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

/** collector/jaeger-config.yaml's env vars (collector/README.md). */
export const jaegerEnv = (ports: StackPorts): Record<string, string> => ({
  JAEGER_OTLP_GRPC_PORT: String(ports.jaegerOtlpGrpc),
  JAEGER_OTLP_HTTP_PORT: String(ports.jaegerOtlpHttp),
  JAEGER_QUERY_HTTP_PORT: String(ports.jaegerQueryHttp),
  JAEGER_QUERY_GRPC_PORT: String(ports.jaegerQueryGrpc),
  JAEGER_HEALTH_PORT: String(ports.jaegerHealth),
  JAEGER_HEALTH_GRPC_PORT: String(ports.jaegerHealthGrpc),
  JAEGER_METRICS_PORT: String(ports.jaegerMetrics),
  JAEGER_PROMETHEUS_ENDPOINT: `http://127.0.0.1:${ports.prometheus}`,
});

/** collector/otelcol-config.local.yaml's env vars (collector/README.md). */
export const collectorEnv = (ports: StackPorts): Record<string, string> => ({
  OTELCOL_OTLP_GRPC_PORT: String(ports.collectorOtlpGrpc),
  OTELCOL_OTLP_HTTP_PORT: String(ports.collectorOtlpHttp),
  OTELCOL_PROM_PORT: String(ports.collectorProm),
  OTELCOL_TELEMETRY_PORT: String(ports.collectorTelemetry),
  OTELCOL_HEALTH_PORT: String(ports.collectorHealth),
  JAEGER_OTLP_GRPC_ENDPOINT: `127.0.0.1:${ports.jaegerOtlpGrpc}`,
  OTELCOL_SPANMETRICS_FLUSH_INTERVAL: INTERVALS.spanMetricsFlush,
  OTELCOL_TAIL_DECISION_WAIT: INTERVALS.tailDecisionWait,
  OTELCOL_TRACES_SAMPLE_PERCENT: tracesSamplePercent(),
});

type PrometheusConfig = {
  global?: Record<string, unknown>;
  rule_files?: string[];
  scrape_configs?: { job_name: string; static_configs?: { targets: string[] }[] }[];
};

/**
 * dashboards/prometheus/prometheus.yml for this stack: short scrape and
 * evaluation intervals, the shipped rules by absolute path, and its targets
 * (the collector's 8889 and 8888, Jaeger's 18888) moved to the stack's ports.
 */
export function prometheusConfig(ports: StackPorts): string {
  const shipped = path.join(ROOT, 'dashboards/prometheus/prometheus.yml');
  const config = parseYaml(fs.readFileSync(shipped, 'utf8')) as PrometheusConfig;
  const moved: Record<string, number> = {
    '8889': ports.collectorProm,
    '8888': ports.collectorTelemetry,
    '18888': ports.jaegerMetrics,
  };
  config.global = {
    ...config.global,
    scrape_interval: INTERVALS.prometheusScrape,
    evaluation_interval: INTERVALS.prometheusScrape,
  };
  config.rule_files = (config.rule_files ?? []).map((entry) => path.resolve(path.dirname(shipped), entry));
  for (const scrape of config.scrape_configs ?? []) {
    for (const target of scrape.static_configs ?? []) {
      target.targets = target.targets.map((address) => {
        const port = moved[address.split(':').pop() ?? ''];
        if (port === undefined)
          throw new StackError(
            `${shipped}: job ${scrape.job_name} scrapes ${address}, which npm run stack does not start`,
          );
        return `127.0.0.1:${port}`;
      });
    }
  }
  return `# written by npm run stack from dashboards/prometheus/prometheus.yml\n${stringifyYaml(config)}`;
}
