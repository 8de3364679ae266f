/**
 * collector/docker-compose.yml, checked statically (no Docker engine runs on
 * the dev and CI machines): every mounted host file or directory exists, each
 * command points at a mounted config, the published ports are ports the
 * container's own config listens on (on 0.0.0.0), and every host:port one
 * service uses to reach another (collector -> Jaeger, Prometheus -> collector,
 * Jaeger -> Prometheus, Grafana -> Prometheus and Jaeger) names a compose
 * service and a port that service listens on.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { COLLECTOR_DIR, ROOT, parseYaml, readYamlFile } from '../helpers/stack';

const COMPOSE_FILE = path.join(COLLECTOR_DIR, 'docker-compose.yml');

interface ComposeService {
  image: string;
  command?: string[] | string;
  volumes?: string[];
  ports?: string[];
  environment?: Record<string, string> | string[];
  depends_on?: string[] | Record<string, unknown>;
}

const compose = readYamlFile<{ name?: string; services: Record<string, ComposeService> }>(COMPOSE_FILE);
const services = compose.services;
const serviceNames = Object.keys(services);

interface Mount {
  service: string;
  host: string;
  hostPath: string;
  container: string;
  readOnly: boolean;
}

/** Short volume syntax `host:container[:mode]`; host paths relative to the compose file. */
function mountsOf(service: string): Mount[] {
  return (services[service].volumes ?? []).map((spec) => {
    const [host, container, mode] = spec.split(':');
    return {
      service,
      host,
      hostPath: path.resolve(COLLECTOR_DIR, host),
      container,
      readOnly: mode === 'ro',
    };
  });
}

/** The host file mounted at `containerPath` (a file mount, or a file under a directory mount). */
function hostFileFor(service: string, containerPath: string): string {
  for (const mount of mountsOf(service)) {
    const target = mount.container.replace(/\/$/, '');
    if (containerPath === target) return mount.hostPath;
    if (containerPath.startsWith(`${target}/`))
      return path.join(mount.hostPath, containerPath.slice(target.length + 1));
  }
  throw new Error(`${service}: nothing is mounted at ${containerPath}`);
}

interface PublishedPort {
  host: number;
  container: number;
}

function publishedPorts(service: string): PublishedPort[] {
  return (services[service].ports ?? []).map((spec) => {
    const match = /^(?:(?:\d+\.){3}\d+:)?(\d+):(\d+)(?:\/tcp)?$/.exec(String(spec));
    if (!match) throw new Error(`${service}: port spec ${spec} is not host:container`);
    return { host: Number(match[1]), container: Number(match[2]) };
  });
}

function commandArgs(service: string): string[] {
  const command = services[service].command ?? [];
  return Array.isArray(command) ? command.map(String) : command.split(/\s+/);
}

/** `--flag=value` or `--flag value`. */
function flagValue(args: string[], flag: string): string | undefined {
  for (let i = 0; i < args.length; i++) {
    if (args[i] === flag) return args[i + 1];
    if (args[i].startsWith(`${flag}=`)) return args[i].slice(flag.length + 1);
  }
  return undefined;
}

/** host:port -> { host, port }; accepts http(s) URLs too. */
function hostPort(value: string): { host: string; port: number } {
  const url = new URL(/^[a-z]+:\/\//.test(value) ? value : `tcp://${value}`);
  const port = url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80;
  return { host: url.hostname, port };
}

function listen(value: string): { host: string; port: number } {
  const match = /^(.*):(\d+)$/.exec(value);
  if (!match) throw new Error(`not host:port: ${value}`);
  return { host: match[1], port: Number(match[2]) };
}

// ---------------------------------------------------------------------------
// the container configs, read through the mounts

type CollectorConfig = {
  extensions: { health_check: { endpoint: string } };
  receivers: { otlp: { protocols: { grpc: { endpoint: string }; http: { endpoint: string } } } };
  exporters: Record<string, { endpoint?: string }>;
  service: {
    pipelines: Record<string, { exporters: string[] }>;
    telemetry: { metrics: { readers: { pull: { exporter: { prometheus: { host: string; port: number } } } }[] } };
  };
};

type JaegerConfig = {
  extensions: {
    jaeger_query: { http: { endpoint: string }; ui?: { config_file?: string } };
    healthcheckv2: { http: { endpoint: string } };
    jaeger_storage: { metric_backends?: Record<string, { prometheus?: { endpoint: string } }> };
  };
  receivers: { otlp: { protocols: { grpc: { endpoint: string }; http: { endpoint: string } } } };
  service: {
    telemetry: { metrics: { readers: { pull: { exporter: { prometheus: { host: string; port: number } } } }[] } };
  };
};

type PrometheusConfig = {
  global?: Record<string, string>;
  rule_files?: string[];
  scrape_configs: { job_name: string; honor_labels?: boolean; static_configs: { targets: string[] }[] }[];
};

const collectorConfigPath = () =>
  hostFileFor('otel-collector', flagValue(commandArgs('otel-collector'), '--config') as string);
const jaegerConfigPath = () => hostFileFor('jaeger', flagValue(commandArgs('jaeger'), '--config') as string);
const prometheusConfigPath = () =>
  hostFileFor('prometheus', flagValue(commandArgs('prometheus'), '--config.file') as string);

/** Every address a service's container config listens on, as { host, port }, with what it is. */
function collectorListens(config: CollectorConfig): Record<string, { host: string; port: number }> {
  const telemetry = config.service.telemetry.metrics.readers[0].pull.exporter.prometheus;
  return {
    'otlp grpc': listen(config.receivers.otlp.protocols.grpc.endpoint),
    'otlp http': listen(config.receivers.otlp.protocols.http.endpoint),
    'prometheus exporter': listen(config.exporters.prometheus.endpoint as string),
    'internal telemetry': { host: telemetry.host, port: Number(telemetry.port) },
    health_check: listen(config.extensions.health_check.endpoint),
  };
}

function jaegerListens(config: JaegerConfig): Record<string, { host: string; port: number }> {
  const telemetry = config.service.telemetry.metrics.readers[0].pull.exporter.prometheus;
  return {
    'query http': listen(config.extensions.jaeger_query.http.endpoint),
    'otlp grpc': listen(config.receivers.otlp.protocols.grpc.endpoint),
    'otlp http': listen(config.receivers.otlp.protocols.http.endpoint),
    healthcheckv2: listen(config.extensions.healthcheckv2.http.endpoint),
    'internal telemetry': { host: telemetry.host, port: Number(telemetry.port) },
  };
}

/** Ports each service listens on inside the network, all interfaces. */
function containerPorts(): Record<string, number[]> {
  const collector = readYamlFile<CollectorConfig>(collectorConfigPath());
  const jaeger = readYamlFile<JaegerConfig>(jaegerConfigPath());
  const onAllInterfaces = (listens: Record<string, { host: string; port: number }>) =>
    Object.values(listens)
      .filter(({ host }) => host === '0.0.0.0' || host === '')
      .map(({ port }) => port);
  const prometheusListen = flagValue(commandArgs('prometheus'), '--web.listen-address') ?? '0.0.0.0:9090';
  const grafanaEnv = services.grafana.environment as Record<string, string> | undefined;
  return {
    'otel-collector': onAllInterfaces(collectorListens(collector)),
    jaeger: onAllInterfaces(jaegerListens(jaeger)),
    prometheus: [listen(prometheusListen).port],
    grafana: [Number(grafanaEnv?.GF_SERVER_HTTP_PORT ?? 3000)],
  };
}

function expectReachable(what: string, address: string) {
  const { host, port } = hostPort(address);
  expect({ what, host, isService: serviceNames.includes(host) }).toEqual({ what, host, isService: true });
  expect({ what, address, listened: containerPorts()[host]?.includes(port) }).toEqual({
    what,
    address,
    listened: true,
  });
}

// ---------------------------------------------------------------------------

describe('collector/docker-compose.yml', () => {
  test('parses, and has the four services of the bundle with pinned image tags', () => {
    expect(serviceNames.sort()).toEqual(['grafana', 'jaeger', 'otel-collector', 'prometheus']);
    for (const name of serviceNames) expect(services[name].image).toMatch(/^[\w./-]+:v?\d+\.\d+\.\d+$/);
  });

  test('the images are the ones collector/README.md names', () => {
    const readme = fs.readFileSync(path.join(COLLECTOR_DIR, 'README.md'), 'utf8');
    for (const name of serviceNames)
      expect({
        name,
        image: services[name].image,
        inReadme: readme.includes(`\`${services[name].image}\``),
      }).toMatchObject({ inReadme: true });
  });

  test('every depends_on names a service', () => {
    for (const [name, service] of Object.entries(services)) {
      const deps = Array.isArray(service.depends_on) ? service.depends_on : Object.keys(service.depends_on ?? {});
      for (const dep of deps)
        expect({ name, dep, exists: serviceNames.includes(dep) }).toEqual({ name, dep, exists: true });
    }
  });

  test('every mounted host file or directory exists (directories where the mount says dir/), read-only', () => {
    const mounts = serviceNames.flatMap(mountsOf);
    expect(mounts.length).toBeGreaterThanOrEqual(7);
    for (const mount of mounts) {
      const exists = fs.existsSync(mount.hostPath);
      const kind = exists ? (fs.statSync(mount.hostPath).isDirectory() ? 'dir' : 'file') : 'missing';
      const expectedKind =
        mount.host.endsWith('/') || mount.container.endsWith('/') ? 'dir' : kind === 'dir' ? 'dir' : 'file';
      expect({ ...mount, hostPath: path.relative(ROOT, mount.hostPath), kind }).toEqual({
        ...mount,
        hostPath: path.relative(ROOT, mount.hostPath),
        kind: expectedKind,
        readOnly: true,
      });
    }
  });

  test('each command reads a config that is mounted', () => {
    expect(path.relative(COLLECTOR_DIR, collectorConfigPath())).toBe('otelcol-config.compose.yaml');
    expect(path.relative(COLLECTOR_DIR, jaegerConfigPath())).toBe('jaeger-config.compose.yaml');
    expect(path.relative(ROOT, prometheusConfigPath())).toBe('dashboards/prometheus/prometheus.compose.yml');
  });
});

describe('published ports agree with the container configs', () => {
  test('otel-collector: OTLP gRPC 4317, OTLP HTTP 4318, exporter 8889 and health 13133 published as themselves, each listened on 0.0.0.0', () => {
    const listens = collectorListens(readYamlFile<CollectorConfig>(collectorConfigPath()));
    expect(listens).toEqual({
      'otlp grpc': { host: '0.0.0.0', port: 4317 },
      'otlp http': { host: '0.0.0.0', port: 4318 },
      'prometheus exporter': { host: '0.0.0.0', port: 8889 },
      'internal telemetry': { host: '0.0.0.0', port: 8888 },
      health_check: { host: '0.0.0.0', port: 13133 },
    });
    const published = publishedPorts('otel-collector');
    for (const port of published) expect(port.host).toBe(port.container);
    expect(published.map((port) => port.container)).toEqual(expect.arrayContaining([4317, 4318, 8889, 13133]));
    // 8888 (internal telemetry) is only scraped inside the network (prometheus.compose.yml); anything published must be listened on.
    for (const { container } of published) expect(Object.values(listens).map(({ port }) => port)).toContain(container);
  });

  test('jaeger: the query UI/API 16686 is published and listened on 0.0.0.0; OTLP stays inside the network', () => {
    const listens = jaegerListens(readYamlFile<JaegerConfig>(jaegerConfigPath()));
    expect(listens['query http']).toEqual({ host: '0.0.0.0', port: 16686 });
    expect(publishedPorts('jaeger')).toEqual([{ host: 16686, container: 16686 }]);
  });

  test('prometheus 9090 and grafana 3000 are published as themselves', () => {
    expect(publishedPorts('prometheus')).toEqual([{ host: 9090, container: 9090 }]);
    expect(publishedPorts('grafana')).toEqual([{ host: 3000, container: 3000 }]);
    expect(containerPorts().prometheus).toEqual([9090]);
  });

  test('no two services publish the same host port', () => {
    const hostPorts = serviceNames.flatMap((name) => publishedPorts(name).map((port) => port.host));
    expect(new Set(hostPorts).size).toBe(hostPorts.length);
  });
});

describe('service-to-service addresses are compose service names and listened ports', () => {
  test('the collector exports traces to the Jaeger service OTLP gRPC receiver, in the traces pipeline', () => {
    const collector = readYamlFile<CollectorConfig>(collectorConfigPath());
    const tracesExporters = collector.service.pipelines.traces.exporters.filter((name) =>
      /^otlp(_grpc)?(\/|$)/.test(name),
    );
    expect(tracesExporters.length).toBe(1);
    const endpoint = collector.exporters[tracesExporters[0]].endpoint as string;
    expect(hostPort(endpoint).host).toBe('jaeger');
    const jaeger = jaegerListens(readYamlFile<JaegerConfig>(jaegerConfigPath()));
    expect(hostPort(endpoint).port).toBe(jaeger['otlp grpc'].port);
    expectReachable('collector -> jaeger', endpoint);
  });

  test("Jaeger's Monitor (SPM) backend is the Prometheus service, and its UI config file is mounted", () => {
    const jaeger = readYamlFile<JaegerConfig>(jaegerConfigPath());
    const backends = Object.values(jaeger.extensions.jaeger_storage.metric_backends ?? {});
    expect(backends.length).toBe(1);
    expectReachable('jaeger -> prometheus', backends[0].prometheus?.endpoint as string);
    const uiConfig = jaeger.extensions.jaeger_query.ui?.config_file as string;
    const host = hostFileFor('jaeger', uiConfig);
    expect(path.relative(COLLECTOR_DIR, host)).toBe('jaeger-ui-config.json');
    expect(JSON.parse(fs.readFileSync(host, 'utf8'))).toMatchObject({ monitor: { menuEnabled: true } });
  });

  test('Prometheus scrapes compose services on ports they listen on; otel-collector:8889 with honor_labels', () => {
    const config = readYamlFile<PrometheusConfig>(prometheusConfigPath());
    const targets = config.scrape_configs.flatMap((scrape) =>
      scrape.static_configs.flatMap((s) =>
        s.targets.map((target) => ({ job: scrape.job_name, target, honorLabels: scrape.honor_labels === true })),
      ),
    );
    expect(targets.length).toBeGreaterThanOrEqual(2);
    for (const { job, target } of targets) expectReachable(`prometheus job ${job}`, target);
    const collector = collectorListens(readYamlFile<CollectorConfig>(collectorConfigPath()));
    expect(targets).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          target: `otel-collector:${collector['prometheus exporter'].port}`,
          honorLabels: true,
        }),
        expect.objectContaining({ target: `otel-collector:${collector['internal telemetry'].port}` }),
      ]),
    );
  });

  test("Prometheus's rule_files resolve, through the rules mount, to the shipped rules", () => {
    const config = readYamlFile<PrometheusConfig>(prometheusConfigPath());
    const configInContainer = flagValue(commandArgs('prometheus'), '--config.file') as string;
    const files: string[] = [];
    for (const entry of config.rule_files ?? []) {
      const inContainer = path.posix.resolve(path.posix.dirname(configInContainer), entry);
      const dirInContainer = path.posix.dirname(inContainer);
      const pattern = new RegExp(`^${path.posix.basename(inContainer).replace(/\./g, '\\.').replace(/\*/g, '.*')}$`);
      const hostDir = hostFileFor('prometheus', dirInContainer);
      files.push(
        ...fs
          .readdirSync(hostDir)
          .filter((name) => pattern.test(name))
          .map((name) => path.relative(ROOT, path.join(hostDir, name))),
      );
    }
    expect(files).toContain('dashboards/prometheus/rules/twenty-sse.rules.yml');
  });

  test('prometheus.compose.yml is prometheus.yml with service names instead of 127.0.0.1 (same globals, rules, jobs and collector targets)', () => {
    const local = readYamlFile<PrometheusConfig>(path.join(ROOT, 'dashboards/prometheus/prometheus.yml'));
    const composed = readYamlFile<PrometheusConfig>(prometheusConfigPath());
    expect(composed.global).toEqual(local.global);
    expect(composed.rule_files).toEqual(local.rule_files);
    const shape = (config: PrometheusConfig) =>
      config.scrape_configs.map((scrape) => ({
        job: scrape.job_name,
        honorLabels: scrape.honor_labels ?? false,
        targets: scrape.static_configs.reduce((sum, s) => sum + s.targets.length, 0),
      }));
    expect(shape(composed)).toEqual(shape(local));
    // the collector's two endpoints keep their ports (Jaeger's telemetry port differs on purpose: 18888 locally, 8888 in compose)
    const collectorTargets = (config: PrometheusConfig) =>
      config.scrape_configs
        .flatMap((scrape) => scrape.static_configs.flatMap((s) => s.targets))
        .filter((target) => [8888, 8889].includes(hostPort(target).port) && !/jaeger/.test(target));
    expect(collectorTargets(composed).map((target) => target.replace(/^otel-collector:/, '127.0.0.1:'))).toEqual(
      collectorTargets(local),
    );
  });

  test('the scrape targets collector/README.md promises for compose are the ones prometheus.compose.yml has', () => {
    // README: "It should scrape `otel-collector:8889` (with `honor_labels: true`), `otel-collector:8888` and `jaeger:8888`."
    const readme = fs.readFileSync(path.join(COLLECTOR_DIR, 'README.md'), 'utf8');
    const sentence = /It should scrape ([^\n]*(?:\n[^\n]+)*)/.exec(readme)?.[1] ?? '';
    const promised = [...sentence.matchAll(/`([\w-]+:\d+)`/g)].map(([, target]) => target).sort();
    expect(promised.length).toBeGreaterThan(0);
    const config = readYamlFile<PrometheusConfig>(prometheusConfigPath());
    const actual = config.scrape_configs.flatMap((scrape) => scrape.static_configs.flatMap((s) => s.targets)).sort();
    expect(actual).toEqual(promised);
  });

  test('Grafana: datasource URLs are compose services on listened ports, and every datasource uid the dashboard uses is provisioned', () => {
    const provisioning = mountsOf('grafana').find((mount) => mount.container === '/etc/grafana/provisioning');
    expect(provisioning).toBeDefined();
    const datasourcesFile = path.join(provisioning!.hostPath, 'datasources/datasources.yaml');
    const datasources = readYamlFile<{ datasources: { uid: string; type: string; url: string }[] }>(
      datasourcesFile,
    ).datasources;
    expect(datasources.map((ds) => ds.type).sort()).toEqual(['jaeger', 'prometheus']);
    for (const ds of datasources) expectReachable(`grafana datasource ${ds.uid}`, ds.url);

    const providers = readYamlFile<{ providers: { options: { path: string } }[] }>(
      path.join(provisioning!.hostPath, 'dashboards/dashboards.yaml'),
    ).providers;
    expect(providers.length).toBe(1);
    const dashboardsDir = hostFileFor('grafana', providers[0].options.path);
    expect(path.relative(ROOT, dashboardsDir)).toBe('dashboards/grafana/dashboards');
    const dashboardFiles = fs.readdirSync(dashboardsDir).filter((name) => name.endsWith('.json'));
    expect(dashboardFiles).toContain('twenty-sse.json');

    const uids = new Set<string>();
    const walk = (node: unknown): void => {
      if (Array.isArray(node)) return node.forEach(walk);
      if (!node || typeof node !== 'object') return;
      const datasource = (node as { datasource?: unknown }).datasource;
      if (datasource && typeof datasource === 'object') {
        const { uid, type } = datasource as { uid?: string; type?: string };
        if (uid && type !== 'grafana' && type !== 'datasource') uids.add(uid);
      }
      Object.values(node).forEach(walk);
    };
    for (const file of dashboardFiles) walk(parseYaml(fs.readFileSync(path.join(dashboardsDir, file), 'utf8')));
    expect([...uids].sort()).toEqual(datasources.map((ds) => ds.uid).sort());
  });
});
