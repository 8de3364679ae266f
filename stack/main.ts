/**
 * `npm run stack`: the bundled collector, Jaeger and Prometheus, and the
 * example Twenty-like app's two processes instrumented through the register
 * entry, all on this machine, on free ports, with short export intervals.
 * Prints every URL; `--scenario NAME` drives one of the demo's scenarios
 * through the real processes, waits until Prometheus has the counts and prints
 * the doctor's report. Ctrl-C (or the end of the scenario, unless --stay)
 * stops everything it started.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';

import { DEMO_SCENARIOS, countReceived, findScenario, waitForDeliveries } from '../demo/scenarios';
import { TWENTY_GENERATIONS, type TwentyGeneration } from '../example/app/example-config';
import { runDoctor } from '../src/cli/doctor';
import { PROM } from '../src/semconv';

import {
  INTERVALS,
  PORT_NAMES,
  ROOT,
  StackError,
  assertPortFree,
  buildOtelBinaries,
  childEnv,
  collectorEnv,
  Component,
  debianBinary,
  freePorts,
  httpOk,
  jaegerEnv,
  prometheusConfig,
  tracesSamplePercent,
  waitUntil,
  type StackPorts,
} from './components';

const DEFAULT_EVENTS = 5;
const SERVICES = { server: 'twenty-server', worker: 'twenty-worker' } as const;

/** The ports a user may pin (the others are always free ones). */
const PINNABLE = {
  'app-port': { key: 'app', what: 'the example API server' },
  'otlp-port': { key: 'collectorOtlpHttp', what: 'the collector OTLP/HTTP receiver' },
  'jaeger-port': { key: 'jaegerQueryHttp', what: 'the Jaeger query API' },
  'prometheus-port': { key: 'prometheus', what: 'Prometheus' },
} as const satisfies Record<string, { key: keyof StackPorts; what: string }>;
type PinnableOption = keyof typeof PINNABLE;

const HELP = `npm run stack: the collector, Jaeger and Prometheus (built from the pinned Go
modules and Debian's package) and the example Twenty-like app's API server and
queue worker with the instrumentation on, on free ports. Ctrl-C stops it all.

Usage: npm run stack -- [--scenario NAME [--events N] [--stay] [--html FILE]] [--generation GEN]
                        [--app-port P] [--otlp-port P] [--jaeger-port P] [--prometheus-port P]

  --scenario NAME   drive one of the demo's scenarios through the running processes (real Redis, real
                    SSE client), wait until Prometheus has the counts, print the doctor's report and stop
                    (npm run demo -- --list shows the scenarios)
  --events N        UI updates and workflow updates the scenario makes, N of each (default ${DEFAULT_EVENTS})
  --stay            keep everything running after the scenario, until Ctrl-C
  --html FILE       after the scenario, also write the doctor's HTML report to FILE
  --generation GEN  which Twenty code the example app runs: ${TWENTY_GENERATIONS.join(', ')} (default v5)
  --*-port P        pin a port instead of taking a free one (a taken port is an error)
  --help            this text

Metrics are exported every ${INTERVALS.metricExportMs / 1000} s (OTEL_METRIC_EXPORT_INTERVAL=${INTERVALS.metricExportMs}; the default is 60000),
spans every ${INTERVALS.spanExportDelayMs / 1000} s, and Prometheus scrapes every ${INTERVALS.prometheusScrape}, so events show in Prometheus within about 5 s.
The collector keeps every trace (OTELCOL_TRACES_SAMPLE_PERCENT=100 unless set) and passes it to Jaeger ${INTERVALS.tailDecisionWait} after its first span.
Exit status: 0 after a clean stop, 1 if a process died, 2 on a bad option, a taken port, a failed build or a process that would not start.`;

class UsageError extends Error {}

interface Options {
  scenario?: string;
  events: number;
  generation: TwentyGeneration;
  stay: boolean;
  html?: string;
  pinned: Partial<Record<keyof StackPorts, { port: number; option: PinnableOption }>>;
}

function parseOptions(argv: string[]): Options | 'help' {
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        scenario: { type: 'string' },
        events: { type: 'string' },
        generation: { type: 'string' },
        stay: { type: 'boolean' },
        html: { type: 'string' },
        help: { type: 'boolean' },
        ...Object.fromEntries(Object.keys(PINNABLE).map((name) => [name, { type: 'string' as const }])),
      },
    });
  } catch (error) {
    throw new UsageError(`${(error as Error).message.split('\n')[0]} (see --help)`);
  }
  const values = parsed.values as Record<string, string | boolean | undefined>;
  if (values.help) return 'help';
  const scenario = values.scenario as string | undefined;
  if (scenario !== undefined) {
    const found = findScenario(scenario);
    if (!found)
      throw new UsageError(
        `unknown scenario "${scenario}"; use one of: ${DEMO_SCENARIOS.filter((s) => !s.inProcessOnly)
          .map((s) => s.name)
          .join(', ')}`,
      );
    if (found.inProcessOnly)
      throw new UsageError(
        `scenario "${scenario}" injects its fault inside the app's process; run it with npm run demo -- --scenario ${scenario}`,
      );
  }
  for (const name of ['events', 'stay', 'html'] as const) {
    if (values[name] !== undefined && scenario === undefined)
      throw new UsageError(`--${name} goes with --scenario (see --help)`);
  }
  const events =
    values.events === undefined ? DEFAULT_EVENTS : /^\d+$/.test(values.events as string) ? Number(values.events) : NaN;
  if (!Number.isInteger(events) || events < 1 || events > 200)
    throw new UsageError(`--events must be a whole number from 1 to 200, got "${values.events}"`);
  const generation = (values.generation as string | undefined) ?? 'v5';
  if (!(TWENTY_GENERATIONS as readonly string[]).includes(generation)) {
    throw new UsageError(`unknown generation "${generation}"; use one of: ${TWENTY_GENERATIONS.join(', ')}`);
  }
  // npm runs scripts from the package root; a relative path is meant from where the user typed the command.
  const html =
    values.html === undefined ? undefined : path.resolve(process.env.INIT_CWD ?? process.cwd(), values.html as string);
  if (html !== undefined) {
    const directory = path.dirname(path.resolve(html));
    if (!fs.existsSync(directory)) throw new UsageError(`--html ${html}: the directory ${directory} does not exist`);
  }
  const pinned: Options['pinned'] = {};
  for (const option of Object.keys(PINNABLE) as PinnableOption[]) {
    const value = values[option] as string | undefined;
    if (value === undefined) continue;
    const port = /^\d+$/.test(value) ? Number(value) : NaN;
    if (!(port >= 1 && port <= 65535))
      throw new UsageError(`--${option} must be a port number from 1 to 65535, got "${value}"`);
    if (Object.values(pinned).some((entry) => entry.port === port))
      throw new UsageError(`--${option} ${port}: that port is already pinned by another option`);
    pinned[PINNABLE[option].key] = { port, option };
  }
  return { scenario, events, generation: generation as TwentyGeneration, stay: Boolean(values.stay), html, pinned };
}

const out = (text = '') => process.stdout.write(`${text}\n`);
const progress = (text: string) => process.stderr.write(`[stack] ${text}\n`);

const DIST = {
  register: path.join(ROOT, 'dist/src/register.js'),
  server: path.join(ROOT, 'dist/example/app/main.js'),
  worker: path.join(ROOT, 'dist/example/app/queue-worker/queue-worker.js'),
};

type Seeded = { workspaceId: string; companyId: string; token: string };

class LocalStack {
  readonly components: Component[] = [];
  stopping = false;
  /** Set once everything answered: from then on a process that exits is a failure of its own. */
  up = false;
  private stopped?: Promise<void>;

  constructor(
    readonly workDir: string,
    private readonly onUnexpectedExit: (component: Component) => void,
  ) {}

  start(name: string, command: string, args: string[], env: NodeJS.ProcessEnv): Component {
    const component = new Component(name, command, args, {
      env,
      logDir: path.join(this.workDir, 'logs'),
      onExit: (exited) => {
        // Ctrl-C in a terminal signals the children too, and one may exit before this process handles its own SIGINT.
        if (this.up && !this.stopping) setTimeout(() => !this.stopping && this.onUnexpectedExit(exited), 500);
      },
    });
    this.components.push(component);
    return component;
  }

  /** The app first (it flushes its telemetry on SIGTERM), then the backends, Redis last. */
  stop(): Promise<void> {
    this.stopping = true;
    this.stopped ??= (async () => {
      const order = ['twenty-server', 'twenty-worker', 'prometheus', 'otelcol', 'jaeger', 'redis'];
      for (const group of [order.slice(0, 2), order.slice(2, 5), order.slice(5)]) {
        await Promise.all(
          this.components.filter((component) => group.includes(component.name)).map((component) => component.stop()),
        );
      }
      fs.rmSync(this.workDir, { recursive: true, force: true });
    })();
    return this.stopped;
  }

  killAll(): void {
    for (const component of this.components) component.kill();
  }
}

async function allocatePorts(options: Options): Promise<StackPorts> {
  for (const [key, { port, option }] of Object.entries(options.pinned)) {
    await assertPortFree(port, `--${option}, ${PINNABLE[option].what} (${key})`);
  }
  const pinnedPorts = Object.values(options.pinned).map((entry) => entry.port);
  const free = await freePorts(PORT_NAMES.length, pinnedPorts);
  return Object.fromEntries(
    PORT_NAMES.map((name, index) => [name, options.pinned[name]?.port ?? free[index]]),
  ) as unknown as StackPorts;
}

async function startEverything(stack: LocalStack, options: Options, ports: StackPorts): Promise<Seeded> {
  const redisBin = debianBinary('redis-server');
  const prometheusBin = debianBinary('prometheus');
  for (const file of Object.values(DIST)) {
    if (!fs.existsSync(file))
      throw new StackError(
        `${path.relative(ROOT, file)} is missing: build first (npm run stack does: bash .ci/build-if-stale.sh)`,
      );
  }
  const binaries = await buildOtelBinaries(progress);
  fs.mkdirSync(path.join(stack.workDir, 'logs'), { recursive: true });
  const base = childEnv();

  progress('starting Redis, Jaeger, the collector and Prometheus');
  const redis = stack.start(
    'redis',
    redisBin,
    ['--port', String(ports.redis), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    base,
  );
  const jaeger = stack.start(
    'jaeger',
    binaries.jaeger,
    [`--config=${path.join(ROOT, 'collector/jaeger-config.yaml')}`],
    { ...base, ...jaegerEnv(ports) },
  );
  const collector = stack.start(
    'otelcol',
    binaries.otelcol,
    [`--config=${path.join(ROOT, 'collector/otelcol-config.local.yaml')}`],
    {
      ...base,
      ...collectorEnv(ports),
    },
  );
  const prometheusFile = path.join(stack.workDir, 'prometheus.yml');
  fs.writeFileSync(prometheusFile, prometheusConfig(ports));
  const prometheus = stack.start(
    'prometheus',
    prometheusBin,
    [
      `--config.file=${prometheusFile}`,
      `--storage.tsdb.path=${path.join(stack.workDir, 'prometheus-data')}`,
      `--web.listen-address=127.0.0.1:${ports.prometheus}`,
    ],
    base,
  );
  await Promise.all([
    waitUntil(redis, 'accepting connections', async () => /Ready to accept connections/i.test(redis.logs())),
    waitUntil(jaeger, 'its query API answered', () => httpOk(`http://127.0.0.1:${ports.jaegerQueryHttp}/api/services`)),
    waitUntil(collector, 'its health check answered', () => httpOk(`http://127.0.0.1:${ports.collectorHealth}/`)),
    waitUntil(prometheus, 'it was ready', () => httpOk(`http://127.0.0.1:${ports.prometheus}/-/ready`)),
  ]);

  progress(
    `starting the example app (generation ${options.generation}): API server and queue worker, with the register entry`,
  );
  const appEnv: NodeJS.ProcessEnv = {
    ...base,
    TWENTY_SSE_OTEL_ENABLED: 'true',
    OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${ports.collectorOtlpHttp}`,
    OTEL_METRIC_EXPORT_INTERVAL: String(INTERVALS.metricExportMs),
    OTEL_BSP_SCHEDULE_DELAY: String(INTERVALS.spanExportDelayMs),
    EXAMPLE_TWENTY_GENERATION: options.generation,
    REDIS_URL: `redis://127.0.0.1:${ports.redis}`,
    MESSAGE_QUEUE_TYPE: 'redis',
    PORT: String(ports.app),
    EXAMPLE_GROUND_TRUTH_FILE: path.join(stack.workDir, 'ground-truth.jsonl'),
  };
  const server = stack.start('twenty-server', process.execPath, ['--require', DIST.register, DIST.server], {
    ...appEnv,
    OTEL_SERVICE_NAME: SERVICES.server,
    EXAMPLE_SEED_DEMO: 'true',
  });
  const worker = stack.start('twenty-worker', process.execPath, ['--require', DIST.register, DIST.worker], {
    ...appEnv,
    OTEL_SERVICE_NAME: SERVICES.worker,
  });
  let seeded: Seeded | undefined;
  await Promise.all([
    waitUntil(worker, 'it consumed its queue', async () => /consuming workflow-queue/.test(worker.logs())),
    waitUntil(server, 'it answered GraphQL and printed the seeded workspace', async () => {
      const line = /^\{"demo":.*\}$/m.exec(server.logs());
      if (!line) return false;
      const { demo } = JSON.parse(line[0]) as {
        demo: { workspaceId: string; companyId: string; user: { token: string } };
      };
      seeded = { workspaceId: demo.workspaceId, companyId: demo.companyId, token: demo.user.token };
      return httpOk(`http://127.0.0.1:${ports.app}/metadata`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ query: '{ twentyGeneration }' }),
      });
    }),
  ]);
  return seeded!;
}

function printUrls(stack: LocalStack, options: Options, ports: StackPorts, seeded: Seeded): void {
  const app = `http://127.0.0.1:${ports.app}`;
  const jaeger = `http://127.0.0.1:${ports.jaegerQueryHttp}`;
  const prometheus = `http://127.0.0.1:${ports.prometheus}`;
  const rows: [string, string, string][] = [
    ['Example app (API server)', app, 'REST /rest/companies, POST /workflows/run'],
    ['SSE endpoint (GraphQL)', `${app}/metadata`, 'subscription onEventSubscription over graphql-sse'],
    ['Queue worker', `redis://127.0.0.1:${ports.redis}`, 'consumes workflow-queue from this Redis'],
    [
      'Collector OTLP/HTTP',
      `http://127.0.0.1:${ports.collectorOtlpHttp}`,
      'OTEL_EXPORTER_OTLP_ENDPOINT of both processes',
    ],
    ['Collector OTLP/gRPC', `127.0.0.1:${ports.collectorOtlpGrpc}`, ''],
    [
      'Collector metrics',
      `http://127.0.0.1:${ports.collectorProm}/metrics`,
      'twenty_sse_* and traces_span_metrics_*, scraped by Prometheus',
    ],
    ['Jaeger API', `${jaeger}/api/traces?service=${SERVICES.worker}`, `also /api/services, /api/traces/<trace id>`],
    [
      'Jaeger UI',
      `${jaeger}/`,
      'the module-built Jaeger serves a placeholder page: use the API or the doctor --html report',
    ],
    ['Prometheus', prometheus, 'the shipped rules are loaded: /alerts, /rules'],
  ];
  const width = Math.max(...rows.map(([label]) => label.length)) + 2;
  const urlWidth = Math.max(...rows.map(([, url]) => url.length)) + 2;
  out(
    `Twenty SSE local stack is up: the example app (Twenty ${options.generation}) with TWENTY_SSE_OTEL_ENABLED=true.`,
  );
  out();
  for (const [label, url, note] of rows) out(`  ${label.padEnd(width)}${note ? url.padEnd(urlWidth) + note : url}`);
  out();
  out(
    `Export: metrics every ${INTERVALS.metricExportMs / 1000} s (OTEL_METRIC_EXPORT_INTERVAL=${INTERVALS.metricExportMs}, default 60000), spans every ${INTERVALS.spanExportDelayMs / 1000} s; Prometheus scrapes every ${INTERVALS.prometheusScrape}: new events show there within about 5 s.`,
  );
  out(
    `Traces: the collector keeps ${tracesSamplePercent()}% of healthy traces and every trace with a drop or failure (OTELCOL_TRACES_SAMPLE_PERCENT), and sends them to Jaeger ${INTERVALS.tailDecisionWait} after their first span.`,
  );
  out(`Seeded workspace ${seeded.workspaceId}, company ${seeded.companyId}; a user's token: ${seeded.token}`);
  out(
    `  UI edit:      curl -s -X PATCH ${app}/rest/companies/${seeded.companyId} -H 'authorization: Bearer ${seeded.token}' -H 'content-type: application/json' -d '{"name":"Acme (edited)"}'`,
  );
  out(
    `  workflow run: curl -s -X POST ${app}/workflows/run -H 'authorization: Bearer ${seeded.token}' -H 'content-type: application/json' -d '{"wait":true,"steps":[{"id":"step-1","type":"UPDATE_RECORD","settings":{"input":{"objectName":"company","objectRecordId":"${seeded.companyId}","objectRecord":{"employees":42},"fieldsToUpdate":["employees"]}}}]}'`,
  );
  out('  an SSE stream, and more: example/README.md "Try it with curl"');
  out(
    `  doctor:       npx twenty-sse-otel doctor --prometheus ${prometheus} --jaeger ${jaeger} --since 15m --html report.html`,
  );
  out(
    `Processes: ${stack.components.map((component) => `${component.name} ${component.pid}`).join(', ')}; logs in ${path.join(stack.workDir, 'logs')}`,
  );
}

/** Waits until Prometheus counts every event the app emitted, and two scrapes in a row agree. */
async function waitForPrometheus(prometheus: string, emitted: number): Promise<boolean> {
  const query = `sum by (${PROM.LABEL_STAGE}, ${PROM.LABEL_ORIGIN}, ${PROM.LABEL_OUTCOME}, ${PROM.LABEL_DROP_REASON}) (${PROM.STAGE_EVENTS})`;
  const deadline = Date.now() + 60_000;
  let previous = '';
  while (Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 2500));
    const response = await fetch(`${prometheus}/api/v1/query?${new URLSearchParams({ query })}`).catch(() => undefined);
    if (!response?.ok) continue;
    const body = (await response.json()) as {
      data: { result: { metric: Record<string, string>; value: [number, string] }[] };
    };
    const samples = body.data.result.map(({ metric, value }) => `${JSON.stringify(metric)}=${value[1]}`).sort();
    const emitTotal = body.data.result
      .filter(({ metric }) => metric[PROM.LABEL_STAGE] === 'emit')
      .reduce((sum, { value }) => sum + Number(value[1]), 0);
    const snapshot = samples.join('\n');
    if (emitTotal >= emitted && snapshot === previous) return true;
    previous = snapshot;
  }
  return false;
}

async function runScenario(options: Options, ports: StackPorts, stack: LocalStack): Promise<void> {
  const scenario = findScenario(options.scenario!)!;
  out();
  out(`Scenario "${scenario.name}": ${scenario.summary} (${options.events} UI and ${options.events} workflow updates)`);
  const { startTwentyLikeApp } = await import('../example/harness');
  const client = await startTwentyLikeApp({
    generation: options.generation,
    mode: 'client',
    url: `http://127.0.0.1:${ports.app}`,
    redisUrl: `redis://127.0.0.1:${ports.redis}`,
    groundTruthFile: path.join(stack.workDir, 'ground-truth.jsonl'),
  });
  let emitted: number;
  try {
    const run = await scenario.run(client, options.events);
    await waitForDeliveries(client, run);
    const { streamsOpen, ui, workflow } = countReceived(run, options.events);
    out(
      streamsOpen === 0
        ? 'No event stream was open.'
        : `The open event stream received ${ui.received} of ${ui.sent} UI updates and ${workflow.received} of ${workflow.sent} workflow updates.`,
    );
    emitted = client
      .readGroundTruth()
      .filter((record) => record.kind === 'emitted')
      .reduce((sum, record) => sum + record.count, 0);
  } finally {
    await client.close();
  }
  const prometheus = `http://127.0.0.1:${ports.prometheus}`;
  const jaeger = `http://127.0.0.1:${ports.jaegerQueryHttp}`;
  progress('waiting until Prometheus has scraped the counts');
  if (!(await waitForPrometheus(prometheus, emitted)))
    progress('Prometheus did not settle within 60 s; the report below may be incomplete');
  const doctor = await runDoctor(
    [
      '--prometheus',
      prometheus,
      '--jaeger',
      jaeger,
      '--since',
      '15m',
      ...(options.html ? ['--html', options.html] : []),
    ],
    progress,
  );
  out();
  out(`doctor (npx twenty-sse-otel doctor --prometheus ${prometheus} --jaeger ${jaeger} --since 15m):`);
  out(doctor.output);
}

async function main(argv: string[]): Promise<number> {
  let options: Options;
  try {
    const parsed = parseOptions(argv);
    if (parsed === 'help') {
      out(HELP);
      return 0;
    }
    options = parsed;
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`stack: ${error.message}\n`);
      return 2;
    }
    throw error;
  }

  let ports: StackPorts;
  try {
    ports = await allocatePorts(options);
  } catch (error) {
    if (error instanceof StackError) {
      process.stderr.write(`stack: ${error.message}\n`);
      return 2;
    }
    throw error;
  }

  let finish!: (code: number) => void;
  const finished = new Promise<number>((resolve) => (finish = resolve));
  const stack = new LocalStack(fs.mkdtempSync(path.join(os.tmpdir(), 'twenty-sse-local-stack-')), (component) => {
    process.stderr.write(
      `stack: ${component.name} exited unexpectedly (${component.exitSignal ?? `code ${component.exitCode}`}); stopping everything\n${component.tail()}\n`,
    );
    void stack.stop().then(() => finish(1));
  });
  let interrupted = 0;
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      interrupted++;
      if (interrupted > 1) {
        stack.killAll();
        process.exit(130);
      }
      progress(`${signal}: stopping everything (again to kill at once)`);
      void stack.stop().then(() => finish(0));
    });
  }
  // Whatever happens to this process, its children do not outlive it.
  process.once('exit', () => stack.killAll());

  const work = (async () => {
    const seeded = await startEverything(stack, options, ports);
    stack.up = true;
    printUrls(stack, options, ports, seeded);
    if (!options.scenario) {
      out();
      out('Ctrl-C stops everything.');
      return;
    }
    await runScenario(options, ports, stack);
    if (options.stay) {
      out();
      out('Staying up (--stay); Ctrl-C stops everything.');
      return;
    }
    await stack.stop();
    finish(0);
  })();
  work.catch((error: unknown) => {
    // Ctrl-C during startup makes the waits fail: that is the stop the user asked for, not an error.
    if (stack.stopping) return;
    // Stop first, so the error is the last line the user sees.
    void stack.stop().then(() => {
      process.stderr.write(
        `stack: ${error instanceof StackError ? error.message : error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
      );
      finish(error instanceof StackError ? 2 : 1);
    });
  });
  const code = await finished;
  if (code === 0) progress(`stopped ${stack.components.length} processes`);
  return code;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`stack: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
