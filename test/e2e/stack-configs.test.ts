/**
 * The shipped collector, Jaeger and Prometheus configs, checked by the real
 * programs: the built collector's `validate` on both collector configs; Jaeger
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
    return { code: typeof failed.code === 'number' ? failed.code : -1, stdout: failed.stdout ?? '', stderr: failed.stderr ?? '' };
  }
}

const LOCAL_COLLECTOR = path.join(COLLECTOR_DIR, 'otelcol-config.local.yaml');
const COMPOSE_COLLECTOR = path.join(COLLECTOR_DIR, 'otelcol-config.compose.yaml');
const LOCAL_JAEGER = path.join(COLLECTOR_DIR, 'jaeger-config.yaml');
const COMPOSE_JAEGER = path.join(COLLECTOR_DIR, 'jaeger-config.compose.yaml');

let workDir: string;
beforeAll(() => {
  workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'twenty-sse-configs-'));
});
afterAll(() => {
  if (workDir) fs.rmSync(workDir, { recursive: true, force: true });
});

describe('collector: the built otelcol-twenty-sse validates the shipped configs', () => {
  test.each([
    ['otelcol-config.local.yaml', LOCAL_COLLECTOR],
    ['otelcol-config.compose.yaml', COMPOSE_COLLECTOR],
  ])('validate --config=collector/%s exits 0', async (_name, file) => {
    const { otelcol } = otelBinaries();
    const result = await run(otelcol, ['validate', `--config=${file}`]);
    expect({ code: result.code, stderr: result.stderr }).toEqual({ code: 0, stderr: '' });
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
      const health = await getJson<{ healthy: boolean; status: string }>(`http://127.0.0.1:${ports.jaegerHealth}/status`);
      expect(health).toMatchObject({ healthy: true, status: 'StatusOK' });
      const services = await getJson<{ data: unknown; errors: unknown }>(`http://127.0.0.1:${ports.jaegerQueryHttp}/api/services`);
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
      service: { telemetry: { metrics: { readers: { pull: { exporter: { prometheus: { host: string; port: number } } } }[] } } };
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

  test.each([
    ['otelcol-config.local.yaml', LOCAL_COLLECTOR],
    ['jaeger-config.yaml', LOCAL_JAEGER],
  ])('every ${env:...} of collector/%s is documented in collector/README.md, and every port or endpoint one is moved by the stack helper', async (_name, file) => {
    const refs = [...fs.readFileSync(file, 'utf8').matchAll(ENV_REF)].map(([, name, fallback]) => ({ name, fallback: fallback ?? '' }));
    expect(refs.length).toBeGreaterThan(3);
    const undocumented = refs.filter(({ name }) => !readme.includes(`\`${name}\``)).map(({ name }) => name);
    expect(undocumented).toEqual([]);
    const ports = await allocateStackPorts();
    const moved = { ...collectorEnv(ports), ...jaegerEnv(ports) };
    const portLike = refs.filter(({ name }) => /_(PORT|ENDPOINT)$/.test(name));
    expect(portLike.length).toBeGreaterThan(3);
    expect(portLike.filter(({ name }) => moved[name] === undefined).map(({ name }) => name)).toEqual([]);
  });

  test.each([
    ['otelcol-config.local.yaml', LOCAL_COLLECTOR],
    ['jaeger-config.yaml', LOCAL_JAEGER],
  ])('collector/%s binds only to 127.0.0.1', (_name, file) => {
    const text = fs.readFileSync(file, 'utf8');
    const endpoints = [...text.matchAll(/^\s*(?:endpoint|host):\s*(\S+)/gm)].map(([, value]) => value);
    // Where to send (the collector's Jaeger exporter, Jaeger's Prometheus backend) is not a listening address.
    const listening = endpoints.filter((value) => !/^\$\{env:\w+_ENDPOINT\b/.test(value));
    expect(listening.length).toBeGreaterThan(3);
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
    expect(targets.filter((target) => !['127.0.0.1:41001', '127.0.0.1:41002', '127.0.0.1:41003'].includes(target))).toEqual([]);
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
