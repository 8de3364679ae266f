/**
 * The shipped collector, Jaeger and Prometheus configs, checked by the real
 * programs: the built collector's `validate` on every collector config, and
 * every one of them really starting (its listening addresses moved to free
 * loopback ports), since only a start rejects an unknown tail-sampling policy
 * type; the components the build holds; the tail-sampling and span-metrics
 * blocks kept the same across the configs that repeat them; Jaeger
 * v2 really starting with collector/jaeger-config.yaml (and with the compose
 * config moved to loopback ports) and answering its health check; every env
 * var of the local configs documented and moved by test/helpers/stack.ts; and
 * the Prometheus config that helper generates from the shipped one accepted by
 * promtool with the shipped rules.
 *
 * Not repeated here (test/dashboards/dashboards.test.ts runs them):
 * `promtool check rules --lint-fatal`, `promtool check config` on
 * prometheus.yml and prometheus.compose.yml, `promtool test rules`.
 */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import {
  COLLECTOR_DIR,
  ManagedProcess,
  ROOT,
  SHIPPED_PROMETHEUS_CONFIG,
  SHIPPED_RULES_FILE,
  allocateStackPorts,
  cleanEnv,
  balancerEnv,
  collectorEnv,
  freePorts,
  generatePrometheusConfig,
  getJson,
  httpStatus,
  jaegerEnv,
  otelBinaries,
  parseYaml,
  promtoolBinary,
  readYamlFile,
  samplerEnv,
  startJaeger,
  stringifyYaml,
  waitFor,
} from '../helpers/stack';

const execFileAsync = promisify(execFile);

interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

async function run(command: string, args: string[], env: NodeJS.ProcessEnv = cleanEnv()): Promise<RunResult> {
  try {
    const { stdout, stderr } = await execFileAsync(command, args, { cwd: ROOT, env, timeout: 60_000 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code?: number; stdout?: string; stderr?: string };
    return {
      code: typeof failed.code === 'number' ? failed.code : -1,
      stdout: failed.stdout ?? '',
      stderr: failed.stderr ?? '',
    };
  }
}

const LOCAL_COLLECTOR = path.join(COLLECTOR_DIR, 'otelcol-config.local.yaml');
/** Every shipped collector config: single collector, two-tier balancer and sampler; local and compose. */
const COLLECTOR_CONFIGS = fs
  .readdirSync(COLLECTOR_DIR)
  .filter((name) => /^otelcol-config\..*\.yaml$/.test(name))
  .sort();
const LOCAL_COLLECTOR_CONFIGS = COLLECTOR_CONFIGS.filter((name) => name.endsWith('.local.yaml'));
const LOCAL_JAEGER = path.join(COLLECTOR_DIR, 'jaeger-config.yaml');
const COMPOSE_JAEGER = path.join(COLLECTOR_DIR, 'jaeger-config.compose.yaml');

let workDir: string;
beforeAll(() => {
  workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'twenty-sse-configs-'));
});
afterAll(() => {
  if (workDir) fs.rmSync(workDir, { recursive: true, force: true });
});

describe('collector: the built otelcol-twenty-sse validates and starts the shipped configs', () => {
  test('the shipped configs are the single collector, the two-tier balancer and sampler, each for a host and for compose', () => {
    expect(COLLECTOR_CONFIGS).toEqual([
      'otelcol-config.balancer.compose.yaml',
      'otelcol-config.balancer.local.yaml',
      'otelcol-config.compose.yaml',
      'otelcol-config.local.yaml',
      'otelcol-config.sampler.compose.yaml',
      'otelcol-config.sampler.local.yaml',
    ]);
  });

  test.each(COLLECTOR_CONFIGS)('validate --config=collector/%s exits 0', async (name) => {
    const { otelcol } = otelBinaries();
    const result = await run(otelcol, ['validate', `--config=${path.join(COLLECTOR_DIR, name)}`]);
    expect({ code: result.code, stderr: result.stderr }).toEqual({ code: 0, stderr: '' });
  });

  test.each(COLLECTOR_CONFIGS)(
    'collector/%s starts (listening addresses moved to loopback ports) and reports healthy, no error logged',
    async (name) => {
      const started = await startOnLoopback(readYamlFile(path.join(COLLECTOR_DIR, name)), name);
      try {
        expect(started.proc.logs()).toContain('Everything is ready');
        expect(started.proc.logs()).not.toMatch(/\terror\t/);
        expect(started.proc.logs()).not.toMatch(/alias is deprecated/);
      } finally {
        await started.proc.stop();
      }
    },
  );

  test('starting is what catches a bad tail-sampling policy: validate accepts an unknown policy type, the start fails naming it', async () => {
    const config = readYamlFile<CollectorConfig>(LOCAL_COLLECTOR);
    const policies = (config.processors.tail_sampling as { policies: { name: string; type: string }[] }).policies;
    policies.find((policy) => policy.name === 'baseline')!.type = 'probabilistik';
    const file = path.join(workDir, 'otelcol-bad-policy.yaml');
    fs.writeFileSync(file, stringifyYaml(config));
    const { otelcol } = otelBinaries();
    expect((await run(otelcol, ['validate', `--config=${file}`])).code).toBe(0);
    await expect(startOnLoopback(config, 'bad-policy')).rejects.toThrow(/unknown sampling policy type probabilistik/);
  });

  test('`components` lists tail_sampling and load_balancing at the pinned release; the deprecated `loadbalancing` alias still loads, with a warning', async () => {
    const { otelcol } = otelBinaries();
    const result = await run(otelcol, ['components']);
    expect(result.code).toBe(0);
    const listed = parseYaml(result.stdout) as Record<string, { name: string; module: string }[]>;
    const names = (kind: string) => listed[kind].map((component) => component.name).sort();
    expect(names('processors')).toEqual(['batch', 'memory_limiter', 'tail_sampling']);
    expect(names('exporters')).toEqual(['debug', 'load_balancing', 'otlp_grpc', 'prometheus']);
    expect(names('connectors')).toEqual(['span_metrics']);
    expect(listed.processors.find((component) => component.name === 'tail_sampling')?.module).toBe(
      'github.com/open-telemetry/opentelemetry-collector-contrib/processor/tailsamplingprocessor v0.161.0',
    );
    expect(listed.exporters.find((component) => component.name === 'load_balancing')?.module).toBe(
      'github.com/open-telemetry/opentelemetry-collector-contrib/exporter/loadbalancingexporter v0.161.0',
    );
    // every component at one release: core v0.161.0, contrib v0.161.0
    const modules = Object.values(listed).flatMap((entries) =>
      Array.isArray(entries) ? entries.map((entry) => entry.module) : [],
    );
    expect(modules.filter((module) => module && !/ v0\.161\.0$/.test(module))).toEqual([]);

    const aliased = readYamlFile<CollectorConfig>(path.join(COLLECTOR_DIR, 'otelcol-config.balancer.local.yaml'));
    aliased.exporters.loadbalancing = aliased.exporters.load_balancing;
    delete aliased.exporters.load_balancing;
    aliased.service.pipelines.traces.exporters = aliased.service.pipelines.traces.exporters.map((name) =>
      name === 'load_balancing' ? 'loadbalancing' : name,
    );
    const started = await startOnLoopback(aliased, 'alias');
    try {
      expect(started.proc.logs()).toContain('"loadbalancing" alias is deprecated; use "load_balancing" instead');
    } finally {
      await started.proc.stop();
    }
  });

  test('the tail_sampling block is the same in every config that samples, and span_metrics the same wherever it runs (flush interval aside)', () => {
    const configs = Object.fromEntries(
      COLLECTOR_CONFIGS.map((name) => [name, readYamlFile<CollectorConfig>(path.join(COLLECTOR_DIR, name))]),
    );
    const sampling = COLLECTOR_CONFIGS.filter((name) => configs[name].processors.tail_sampling);
    expect(sampling).toEqual([
      'otelcol-config.compose.yaml',
      'otelcol-config.local.yaml',
      'otelcol-config.sampler.compose.yaml',
      'otelcol-config.sampler.local.yaml',
    ]);
    for (const name of sampling)
      expect({ name, block: configs[name].processors.tail_sampling }).toEqual({
        name,
        block: configs[sampling[0]].processors.tail_sampling,
      });
    const withSpanMetrics = COLLECTOR_CONFIGS.filter((name) => configs[name].connectors?.span_metrics);
    expect(withSpanMetrics).toEqual([
      'otelcol-config.balancer.compose.yaml',
      'otelcol-config.balancer.local.yaml',
      'otelcol-config.compose.yaml',
      'otelcol-config.local.yaml',
    ]);
    const spanMetrics = (name: string) => ({
      ...(configs[name].connectors?.span_metrics as Record<string, unknown>),
      metrics_flush_interval: undefined,
    });
    for (const name of withSpanMetrics)
      expect({ name, block: spanMetrics(name) }).toEqual({ name, block: spanMetrics(withSpanMetrics[0]) });
  });

  test('span metrics are fed unsampled spans: where a config samples, span_metrics is fed by a pipeline without tail_sampling', () => {
    for (const name of COLLECTOR_CONFIGS) {
      const pipelines = readYamlFile<CollectorConfig>(path.join(COLLECTOR_DIR, name)).service.pipelines;
      for (const [id, pipeline] of Object.entries(pipelines)) {
        if (pipeline.exporters.includes('span_metrics'))
          expect({ name, id, processors: pipeline.processors }).toEqual({
            name,
            id,
            processors: expect.not.arrayContaining(['tail_sampling']),
          });
      }
    }
  });

  test('validate is not a rubber stamp: a pipeline naming an unconfigured connector fails', async () => {
    const { otelcol } = otelBinaries();
    const broken = path.join(workDir, 'otelcol-broken.yaml');
    const text = fs.readFileSync(LOCAL_COLLECTOR, 'utf8');
    expect(text).toContain('receivers: [otlp, span_metrics]');
    fs.writeFileSync(broken, text.replace('receivers: [otlp, span_metrics]', 'receivers: [otlp, span_metricz]'));
    const result = await run(otelcol, ['validate', `--config=${broken}`]);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/span_metricz/);
  });
});

type CollectorConfig = {
  extensions: Record<string, { endpoint?: string }>;
  receivers: { otlp: { protocols: Record<string, { endpoint: string }> } };
  processors: Record<string, unknown>;
  connectors?: Record<string, unknown>;
  exporters: Record<string, { endpoint?: string; [key: string]: unknown }>;
  service: {
    pipelines: Record<string, { receivers: string[]; processors: string[]; exporters: string[] }>;
    telemetry: {
      metrics: { readers: { pull: { exporter: { prometheus: { host: string; port: number | string } } } }[] };
    };
  };
};

/**
 * Starts the built collector with `config` after moving every address it listens on (OTLP receivers, health_check,
 * the prometheus exporter, its own telemetry) to a free loopback port; resolves once health_check answers 200 and the
 * collector logged that it is ready, rejects with its log if it exits first. Exporter destinations stay as they are
 * (an unreachable one only logs warnings).
 */
async function startOnLoopback(config: CollectorConfig, label: string): Promise<{ proc: ManagedProcess }> {
  const { otelcol } = otelBinaries();
  const protocols = Object.values(config.receivers.otlp.protocols);
  const [health, telemetry, prometheus, ...receiverPorts] = await freePorts(3 + protocols.length);
  config.extensions.health_check.endpoint = `127.0.0.1:${health}`;
  protocols.forEach((protocol, i) => (protocol.endpoint = `127.0.0.1:${receiverPorts[i]}`));
  if (config.exporters.prometheus) config.exporters.prometheus.endpoint = `127.0.0.1:${prometheus}`;
  config.service.telemetry.metrics.readers[0].pull.exporter.prometheus = { host: '127.0.0.1', port: telemetry };
  const file = path.join(workDir, `started-${label}.yaml`);
  fs.writeFileSync(file, stringifyYaml(config));
  // the configs' own ${env:...} defaults apply; nothing of this process's OTELCOL_* leaks in
  const proc = new ManagedProcess(`otelcol ${label}`, otelcol, [`--config=${file}`], { env: cleanEnv(), cwd: workDir });
  try {
    const state = await waitFor(
      `collector ${label} to report healthy`,
      async () => {
        if (!proc.running) return 'exited';
        return /Everything is ready/.test(proc.logs()) && (await httpStatus(`http://127.0.0.1:${health}/`)) === 200
          ? 'ready'
          : undefined;
      },
      { context: () => proc.tail() },
    );
    if (state === 'exited') throw new Error(`collector ${label} exited with code ${proc.exitCode}`);
  } catch (error) {
    await proc.stop();
    throw new Error(`${(error as Error).message}\n${proc.tail(20)}`, { cause: error });
  }
  return { proc };
}

describe('Jaeger v2 (module build) with the shipped configs', () => {
  test.each([
    ['jaeger-config.yaml', LOCAL_JAEGER],
    ['jaeger-config.compose.yaml', COMPOSE_JAEGER],
  ])('jaeger validate --config=collector/%s exits 0', async (_name, file) => {
    const { jaeger } = otelBinaries();
    const result = await run(jaeger, ['validate', `--config=${file}`]);
    expect(result.code).toBe(0);
  });

  test('starts with collector/jaeger-config.yaml on moved ports and answers its health check and query API', async () => {
    const ports = await allocateStackPorts();
    const jaeger = await startJaeger(ports, workDir);
    try {
      const health = await getJson<{ healthy: boolean; status: string }>(
        `http://127.0.0.1:${ports.jaegerHealth}/status`,
      );
      expect(health).toMatchObject({ healthy: true, status: 'StatusOK' });
      const services = await getJson<{ data: unknown; errors: unknown }>(
        `http://127.0.0.1:${ports.jaegerQueryHttp}/api/services`,
      );
      expect(services).toHaveProperty('data');
      expect(services.errors).toBeNull();
      // Jaeger's own internal telemetry moved off the collector's 8888.
      expect(await httpStatus(`http://127.0.0.1:${ports.jaegerMetrics}/metrics`)).toBe(200);
    } finally {
      await jaeger.stop();
    }
  });

  test('the compose config starts too once its 0.0.0.0 endpoints are moved to loopback ports, and loads jaeger-ui-config.json', async () => {
    const { jaeger } = otelBinaries();
    const [queryHttp, queryGrpc, healthHttp, otlpGrpc, otlpHttp, metrics] = await freePorts(6);
    type JaegerComposeConfig = {
      extensions: {
        jaeger_query: { http: { endpoint: string }; grpc?: { endpoint: string }; ui: { config_file: string } };
        healthcheckv2: { http: { endpoint: string }; grpc?: { endpoint: string } };
      };
      receivers: { otlp: { protocols: { grpc: { endpoint: string }; http: { endpoint: string } } } };
      service: {
        telemetry: { metrics: { readers: { pull: { exporter: { prometheus: { host: string; port: number } } } }[] } };
      };
    };
    const config = readYamlFile<JaegerComposeConfig>(COMPOSE_JAEGER);
    // What docker-compose.yml relies on, before moving it.
    expect(config.extensions.jaeger_query.http.endpoint).toBe('0.0.0.0:16686');
    expect(config.receivers.otlp.protocols.grpc.endpoint).toBe('0.0.0.0:4317');
    expect(config.extensions.jaeger_query.ui.config_file).toBe('/etc/jaeger/ui-config.json');
    config.extensions.jaeger_query.http.endpoint = `127.0.0.1:${queryHttp}`;
    config.extensions.jaeger_query.grpc = { endpoint: `127.0.0.1:${queryGrpc}` };
    config.extensions.jaeger_query.ui.config_file = path.join(COLLECTOR_DIR, 'jaeger-ui-config.json');
    config.extensions.healthcheckv2.http.endpoint = `127.0.0.1:${healthHttp}`;
    const [healthGrpc] = await freePorts(1);
    config.extensions.healthcheckv2.grpc = { endpoint: `127.0.0.1:${healthGrpc}` };
    config.receivers.otlp.protocols.grpc.endpoint = `127.0.0.1:${otlpGrpc}`;
    config.receivers.otlp.protocols.http.endpoint = `127.0.0.1:${otlpHttp}`;
    expect(config.service.telemetry.metrics.readers).toHaveLength(1);
    config.service.telemetry.metrics.readers[0].pull.exporter.prometheus = { host: '127.0.0.1', port: metrics };
    const file = path.join(workDir, 'jaeger-compose-on-loopback.yaml');
    fs.writeFileSync(file, stringifyYaml(config));

    const proc = new ManagedProcess('jaeger-compose', jaeger, [`--config=${file}`], { env: cleanEnv(), cwd: workDir });
    try {
      await waitFor(
        'the compose Jaeger config to report healthy',
        async () => {
          proc.assertRunning();
          return (await httpStatus(`http://127.0.0.1:${healthHttp}/status`)) === 200 ? true : undefined;
        },
        { context: () => proc.tail() },
      );
      expect(await httpStatus(`http://127.0.0.1:${queryHttp}/api/services`)).toBe(200);
      expect(proc.logs()).toContain('jaeger-ui-config.json');
      expect(proc.logs()).not.toMatch(/\terror\t/);
    } finally {
      await proc.stop();
    }
  });
});

describe('the env-overridable ports of the local configs', () => {
  const ENV_REF = /\$\{env:([A-Z0-9_]+)(?::-([^}]*))?\}/g;
  const readme = fs.readFileSync(path.join(COLLECTOR_DIR, 'README.md'), 'utf8');

  const LOCAL_CONFIGS = [...LOCAL_COLLECTOR_CONFIGS, 'jaeger-config.yaml'];

  test.each(LOCAL_CONFIGS)(
    'every ${env:...} of collector/%s is documented in collector/README.md, and every port or endpoint one is moved by the stack helper',
    async (name) => {
      const refs = [...fs.readFileSync(path.join(COLLECTOR_DIR, name), 'utf8').matchAll(ENV_REF)].map(
        ([, variable, fallback]) => ({ name: variable, fallback: fallback ?? '' }),
      );
      expect(refs.length).toBeGreaterThan(3);
      const undocumented = refs
        .filter(({ name: variable }) => !readme.includes(`\`${variable}\``))
        .map(({ name: variable }) => variable);
      expect(undocumented).toEqual([]);
      const ports = await allocateStackPorts();
      const sampler = { otlpGrpc: 1, health: 2, telemetry: 3 };
      const moved = name.includes('.balancer.')
        ? balancerEnv(ports, [sampler])
        : name.includes('.sampler.')
          ? samplerEnv(sampler, ports)
          : name.startsWith('jaeger')
            ? jaegerEnv(ports)
            : collectorEnv(ports);
      const portLike = refs.filter(({ name: variable }) => /_(PORT|ENDPOINTS?)$/.test(variable));
      expect(portLike.length).toBeGreaterThanOrEqual(3);
      expect(
        portLike.filter(({ name: variable }) => moved[variable] === undefined).map(({ name: variable }) => variable),
      ).toEqual([]);
    },
  );

  test.each(LOCAL_CONFIGS)('collector/%s binds only to 127.0.0.1', (name) => {
    const text = fs.readFileSync(path.join(COLLECTOR_DIR, name), 'utf8');
    const endpoints = [...text.matchAll(/^\s*(?:endpoint|host):\s*(\S+)/gm)].map(([, value]) => value);
    // Where to send (the collector's Jaeger exporter, Jaeger's Prometheus backend) is not a listening address.
    const listening = endpoints.filter((value) => !/^\$\{env:\w+_ENDPOINT\b/.test(value));
    expect(listening.length).toBeGreaterThanOrEqual(3);
    expect(listening.filter((value) => !value.startsWith('127.0.0.1'))).toEqual([]);
  });
});

describe('the Prometheus config test/helpers/stack.ts generates from the shipped one', () => {
  interface PromConfig {
    global: Record<string, string>;
    rule_files: string[];
    scrape_configs: { job_name: string; honor_labels?: boolean; static_configs: { targets: string[] }[] }[];
  }

  test('keeps the shipped scrape jobs, moves their targets, sets 1s intervals and loads the SHIPPED rules file; promtool accepts it', async () => {
    const ports = { collectorProm: 41001, collectorTelemetry: 41002, jaegerMetrics: 41003 };
    const text = generatePrometheusConfig(ports);
    const generated = parseYaml(text) as PromConfig;
    const shipped = readYamlFile<PromConfig>(SHIPPED_PROMETHEUS_CONFIG);

    expect(generated.global).toMatchObject({ scrape_interval: '1s', evaluation_interval: '1s' });
    expect(generated.scrape_configs.map(({ job_name, honor_labels }) => ({ job_name, honor_labels }))).toEqual(
      shipped.scrape_configs.map(({ job_name, honor_labels }) => ({ job_name, honor_labels })),
    );
    const targets = generated.scrape_configs.flatMap((scrape) => scrape.static_configs.flatMap((s) => s.targets));
    expect(targets).toEqual(expect.arrayContaining(['127.0.0.1:41001', '127.0.0.1:41002']));
    expect(
      targets.filter((target) => !['127.0.0.1:41001', '127.0.0.1:41002', '127.0.0.1:41003'].includes(target)),
    ).toEqual([]);
    expect(generated.rule_files.every((entry) => path.isAbsolute(entry))).toBe(true);

    const file = path.join(workDir, 'prometheus.generated.yml');
    fs.writeFileSync(file, text);
    const result = await run(promtoolBinary(), ['check', 'config', file]);
    expect(result.code).toBe(0);
    const rulesInFile = (readYamlFile<{ groups: { rules: unknown[] }[] }>(SHIPPED_RULES_FILE).groups ?? []).reduce(
      (sum, group) => sum + group.rules.length,
      0,
    );
    const output = `${result.stdout}${result.stderr}`;
    expect(output).toContain(`Checking ${SHIPPED_RULES_FILE}`);
    expect(output).toContain(`SUCCESS: ${rulesInFile} rules found`);
  });

  test('a target the helper does not know is refused with the job named', () => {
    const shipped = path.join(workDir, 'prometheus.unknown-target.yml');
    fs.writeFileSync(
      shipped,
      fs.readFileSync(SHIPPED_PROMETHEUS_CONFIG, 'utf8').replace("'127.0.0.1:8888'", "'127.0.0.1:9999'"),
    );
    expect(() => generatePrometheusConfig({ collectorProm: 1, collectorTelemetry: 2 }, shipped)).toThrow(
      /otel-collector-internal scrapes 127\.0\.0\.1:9999/,
    );
  });
});
