/**
 * collector/docker-compose.scale-out.yml merged over docker-compose.yml, checked
 * statically like test/e2e/compose.test.ts (no Docker engine on the dev and CI
 * machines). The merge follows Compose's rules for the keys these files use: a
 * service's scalars are replaced, `environment` entries and `depends_on` add
 * up, and a volume mounted at the same container path replaces the base one.
 *
 * Checked: tier 1 (`otel-collector`) runs the balancer config and routes to
 * exactly the tier-2 services, on ports their config listens on; each tier-2
 * collector exports to Jaeger; Prometheus reads the scale-out config, which
 * scrapes tier 1's metrics with honor_labels and every collector's telemetry,
 * and passes promtool; the example replicas send to tier 1, share one Redis,
 * and nothing pins their service.instance.id.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { COLLECTOR_DIR, ROOT, parseYaml, promtoolBinary, readYamlFile } from '../helpers/stack';

interface ComposeService {
  image?: string;
  command?: string[];
  volumes?: string[];
  ports?: string[];
  environment?: Record<string, string>;
  depends_on?: string[];
  profiles?: string[];
  deploy?: { replicas?: number };
  working_dir?: string;
}
type Services = Record<string, ComposeService>;

const base = readYamlFile<{ services: Services }>(path.join(COLLECTOR_DIR, 'docker-compose.yml')).services;
const overlay = readYamlFile<{ name?: string; services: Services }>(
  path.join(COLLECTOR_DIR, 'docker-compose.scale-out.yml'),
);

const target = (volume: string) => volume.split(':')[1];

function merge(baseServices: Services, overlayServices: Services): Services {
  const merged: Services = structuredClone(baseServices);
  for (const [name, service] of Object.entries(overlayServices)) {
    const into = merged[name] ?? {};
    const { volumes, environment, depends_on: dependsOn, ...scalars } = service;
    Object.assign(into, scalars);
    if (volumes)
      into.volumes = [
        ...(into.volumes ?? []).filter((volume) => !volumes.some((v) => target(v) === target(volume))),
        ...volumes,
      ];
    if (environment) into.environment = { ...into.environment, ...environment };
    if (dependsOn) into.depends_on = [...new Set([...(into.depends_on ?? []), ...dependsOn])];
    merged[name] = into;
  }
  return merged;
}

const services = merge(base, overlay.services);
const names = Object.keys(services);

/** The host file mounted at `containerPath` (a file mount, or a file under a directory mount). */
function hostFileFor(service: string, containerPath: string): string {
  for (const volume of services[service].volumes ?? []) {
    const [host, container] = volume.split(':');
    const mount = container.replace(/\/$/, '');
    if (containerPath === mount) return path.resolve(COLLECTOR_DIR, host);
    if (containerPath.startsWith(`${mount}/`))
      return path.join(path.resolve(COLLECTOR_DIR, host), containerPath.slice(mount.length + 1));
  }
  throw new Error(`${service}: nothing is mounted at ${containerPath}`);
}

const flag = (args: string[], name: string) => {
  for (let i = 0; i < args.length; i++) {
    if (args[i] === name) return args[i + 1];
    if (args[i].startsWith(`${name}=`)) return args[i].slice(name.length + 1);
  }
  return undefined;
};

const hostPort = (value: string) => {
  const url = new URL(/^[a-z]+:\/\//.test(value) ? value : `tcp://${value}`);
  return { host: url.hostname, port: Number(url.port) };
};

type CollectorConfig = {
  extensions: { health_check: { endpoint: string } };
  receivers: { otlp: { protocols: Record<string, { endpoint: string }> } };
  exporters: Record<string, { endpoint?: string; resolver?: { static?: { hostnames: string } } }>;
  service: {
    pipelines: Record<string, { processors: string[]; exporters: string[] }>;
    telemetry: { metrics: { readers: { pull: { exporter: { prometheus: { host: string; port: number } } } }[] } };
  };
};
const collectorConfig = (service: string) =>
  readYamlFile<CollectorConfig>(hostFileFor(service, flag(services[service].command ?? [], '--config') as string));

/** Ports a collector service listens on, on all interfaces. */
function collectorPorts(service: string): number[] {
  const config = collectorConfig(service);
  const telemetry = config.service.telemetry.metrics.readers[0].pull.exporter.prometheus;
  const listening = [
    ...Object.values(config.receivers.otlp.protocols).map(({ endpoint }) => endpoint),
    config.extensions.health_check.endpoint,
    ...(config.exporters.prometheus?.endpoint ? [config.exporters.prometheus.endpoint] : []),
    `${telemetry.host}:${telemetry.port}`,
  ];
  return listening.filter((address) => address.startsWith('0.0.0.0:')).map((address) => Number(address.split(':')[1]));
}

/** Jaeger's OTLP receivers and its own telemetry, from its mounted config. */
function jaegerPorts(): number[] {
  const config = readYamlFile<{
    receivers: { otlp: { protocols: Record<string, { endpoint: string }> } };
    service: { telemetry: { metrics: { readers: { pull: { exporter: { prometheus: { port: number } } } }[] } } };
  }>(hostFileFor('jaeger', services.jaeger.command?.[1] as string));
  return [
    ...Object.values(config.receivers.otlp.protocols).map(({ endpoint }) => Number(endpoint.split(':')[1])),
    Number(config.service.telemetry.metrics.readers[0].pull.exporter.prometheus.port),
  ];
}

/** What a service listens on inside the network: collectors and Jaeger from their config, the others at their image's default. */
function listened(service: string): number[] {
  if (service === 'otel-collector' || service.startsWith('otel-sampler-')) return collectorPorts(service);
  if (service === 'jaeger') return jaegerPorts();
  if (service === 'twenty-server') return [Number(services[service].environment?.PORT)];
  const defaults: Record<string, number[]> = { prometheus: [9090], grafana: [3000], redis: [6379] };
  return defaults[service] ?? [];
}

function expectReachable(what: string, address: string) {
  const { host, port } = hostPort(address);
  expect({ what, host, port, service: names.includes(host), listened: listened(host).includes(port) }).toEqual({
    what,
    host,
    port,
    service: true,
    listened: true,
  });
}

type PrometheusConfig = {
  rule_files?: string[];
  scrape_configs: { job_name: string; honor_labels?: boolean; static_configs: { targets: string[] }[] }[];
};
const prometheusConfigFile = () =>
  hostFileFor('prometheus', flag(services.prometheus.command ?? [], '--config.file') as string);

describe('collector/docker-compose.scale-out.yml over docker-compose.yml', () => {
  test('adds the two tier-2 collectors and the example replicas (profile example) to the base services, every image pinned', () => {
    expect(overlay.name).toBe(readYamlFile<{ name: string }>(path.join(COLLECTOR_DIR, 'docker-compose.yml')).name);
    expect(names.filter((name) => !(name in base)).sort()).toEqual([
      'otel-sampler-1',
      'otel-sampler-2',
      'redis',
      'twenty-server',
      'twenty-worker',
    ]);
    for (const name of names)
      expect({ name, image: services[name].image }).toEqual({
        name,
        image: expect.stringMatching(/^[\w./-]+:v?\d+\.\d+\.\d+(-[\w.-]+)?$/),
      });
    // the collectors run the release the locally built otelcol-twenty-sse pins
    const collectorImages = names.filter((name) => name.startsWith('otel-')).map((name) => services[name].image);
    expect(new Set(collectorImages)).toEqual(new Set(['otel/opentelemetry-collector-contrib:0.161.0']));
    const readme = fs.readFileSync(path.join(COLLECTOR_DIR, 'README.md'), 'utf8');
    for (const name of names)
      expect({ name, inReadme: readme.includes(`\`${services[name].image}\``) }).toEqual({ name, inReadme: true });
  });

  test('every mounted host path exists and is read-only; every depends_on names a service', () => {
    for (const name of names) {
      for (const volume of services[name].volumes ?? []) {
        const [host, , mode] = volume.split(':');
        expect({ name, volume, exists: fs.existsSync(path.resolve(COLLECTOR_DIR, host)), mode }).toEqual({
          name,
          volume,
          exists: true,
          mode: 'ro',
        });
      }
      for (const dep of services[name].depends_on ?? [])
        expect({ name, dep, exists: names.includes(dep) }).toEqual({ name, dep, exists: true });
    }
  });

  test('otel-collector becomes tier 1: the balancer config replaces the single one at the same path, same published ports', () => {
    const mounts = (services['otel-collector'].volumes ?? []).filter(
      (volume) => target(volume) === '/etc/otelcol-contrib/config.yaml',
    );
    expect(mounts).toEqual(['./otelcol-config.balancer.compose.yaml:/etc/otelcol-contrib/config.yaml:ro']);
    const config = collectorConfig('otel-collector');
    expect(Object.keys(config.exporters).sort()).toEqual(['debug', 'load_balancing', 'prometheus']);
    const published = (services['otel-collector'].ports ?? []).map((spec) => Number(String(spec).split(':')[1]));
    expect(published.sort()).toEqual(
      base['otel-collector'].ports?.map((spec) => Number(String(spec).split(':')[1])).sort(),
    );
    for (const port of published) expect(collectorPorts('otel-collector')).toContain(port);
  });

  test('tier 1 routes by trace id to exactly the tier-2 services, on the port their config listens on (env and config default agree)', () => {
    const endpoints = parseYaml(
      services['otel-collector'].environment?.OTELCOL_SAMPLER_ENDPOINTS as string,
    ) as string[];
    const samplers = names.filter((name) => name.startsWith('otel-sampler-')).sort();
    expect(endpoints.map((endpoint) => hostPort(endpoint).host).sort()).toEqual(samplers);
    for (const endpoint of endpoints) expectReachable('tier 1 -> tier 2', endpoint);
    const exporter = collectorConfig('otel-collector').exporters.load_balancing as {
      routing_key: string;
      resolver: { static: { hostnames: string } };
    };
    expect(exporter.routing_key).toBe('traceID');
    const fallback = /^\$\{env:OTELCOL_SAMPLER_ENDPOINTS:-(.*)\}$/.exec(exporter.resolver.static.hostnames)?.[1];
    expect(parseYaml(fallback as string)).toEqual(endpoints);
  });

  test('each tier-2 collector tail-samples and exports to the Jaeger service; it publishes nothing and gets the sampling share from the environment', () => {
    for (const name of names.filter((candidate) => candidate.startsWith('otel-sampler-'))) {
      const config = collectorConfig(name);
      expect({ name, processors: config.service.pipelines.traces.processors }).toEqual({
        name,
        processors: ['memory_limiter', 'tail_sampling', 'batch'],
      });
      const [exporter] = config.service.pipelines.traces.exporters;
      expectReachable(`${name} -> jaeger`, config.exporters[exporter].endpoint as string);
      expect(hostPort(config.exporters[exporter].endpoint as string).host).toBe('jaeger');
      expect(services[name].ports ?? []).toEqual([]);
      expect(services[name].environment?.OTELCOL_TRACES_SAMPLE_PERCENT).toBe(
        services['otel-collector'].environment?.OTELCOL_TRACES_SAMPLE_PERCENT ??
          base['otel-collector'].environment?.OTELCOL_TRACES_SAMPLE_PERCENT,
      );
    }
  });

  test('Prometheus reads the scale-out config: tier 1 metrics with honor_labels, every collector telemetry; promtool accepts it with the shipped rules', () => {
    const file = prometheusConfigFile();
    expect(path.relative(ROOT, file)).toBe('dashboards/prometheus/prometheus.compose.scale-out.yml');
    const config = readYamlFile<PrometheusConfig>(file);
    const targets = config.scrape_configs.flatMap((scrape) =>
      scrape.static_configs.flatMap((s) =>
        s.targets.map((t) => ({ job: scrape.job_name, t, honor: scrape.honor_labels === true })),
      ),
    );
    for (const { job, t } of targets) expectReachable(`prometheus job ${job}`, t);
    expect(targets.filter(({ honor }) => honor).map(({ t }) => t)).toEqual(['otel-collector:8889']);
    const telemetryOf = (service: string) =>
      collectorConfig(service).service.telemetry.metrics.readers[0].pull.exporter.prometheus.port;
    const collectors = names.filter((name) => name.startsWith('otel-'));
    for (const name of collectors) expect(targets.map(({ t }) => t)).toContain(`${name}:${telemetryOf(name)}`);
    // the same jobs as the single-collector compose config
    const single = readYamlFile<PrometheusConfig>(path.join(ROOT, 'dashboards/prometheus/prometheus.compose.yml'));
    expect(config.scrape_configs.map((scrape) => [scrape.job_name, scrape.honor_labels ?? false])).toEqual(
      single.scrape_configs.map((scrape) => [scrape.job_name, scrape.honor_labels ?? false]),
    );
    expect(config.rule_files).toEqual(single.rule_files);
    const output = execFileSync(promtoolBinary(), ['check', 'config', file], { encoding: 'utf8' });
    expect(output).toMatch(/SUCCESS: \d+ rules found/);
  });

  test('the example replicas (profile example): 2+ servers and 2+ workers sending to tier 1, sharing the redis service, entry files present, instance ids left to the package', () => {
    for (const name of ['redis', 'twenty-server', 'twenty-worker'])
      expect({ name, profiles: services[name].profiles }).toEqual({ name, profiles: ['example'] });
    for (const name of ['twenty-server', 'twenty-worker']) {
      const service = services[name];
      expect(service.deploy?.replicas).toBeGreaterThanOrEqual(2);
      const env = service.environment ?? {};
      expect({ name, enabled: env.TWENTY_SSE_OTEL_ENABLED, service: env.OTEL_SERVICE_NAME }).toEqual({
        name,
        enabled: 'true',
        service: name,
      });
      expectReachable(`${name} -> otel-collector`, env.OTEL_EXPORTER_OTLP_ENDPOINT);
      expect(hostPort(env.OTEL_EXPORTER_OTLP_ENDPOINT).host).toBe('otel-collector');
      expectReachable(`${name} -> redis`, env.REDIS_URL);
      expect(env.OTEL_RESOURCE_ATTRIBUTES ?? '').not.toMatch(/service\.instance\.id/);
      // the repository is mounted at working_dir; the command's files are built from sources that exist
      expect(hostFileFor(name, service.working_dir as string)).toBe(ROOT);
      const command = service.command ?? [];
      expect(command.slice(0, 3)).toEqual(['node', '--require', './dist/src/register.js']);
      for (const built of [command[2], command[3]]) {
        const source = path.join(
          ROOT,
          built
            .replace(/^\.\//, '')
            .replace(/^dist\//, '')
            .replace(/\.js$/, '.ts'),
        );
        expect({ built, source: fs.existsSync(source) }).toEqual({ built, source: true });
      }
    }
    const server = services['twenty-server'];
    expect(server.environment?.EXAMPLE_HOST).toBe('0.0.0.0');
    const [range, container] = String(server.ports?.[0]).split(':');
    const [first, last] = range.split('-').map(Number);
    expect(Number(container)).toBe(Number(server.environment?.PORT));
    expect(last - first + 1).toBe(server.deploy?.replicas);
  });

  test('no two services publish the same host port (ranges expanded)', () => {
    const hostPorts = names.flatMap((name) =>
      (services[name].ports ?? []).flatMap((spec) => {
        const [from, to = from] = String(spec).split(':')[0].split('-').map(Number);
        return Array.from({ length: to - from + 1 }, (_, i) => from + i);
      }),
    );
    expect(new Set(hostPorts).size).toBe(hostPorts.length);
  });
});
