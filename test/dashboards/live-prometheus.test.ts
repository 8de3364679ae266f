/**
 * Runs every dashboard query and the rules on a real Prometheus (the Debian
 * 2.42 binary) that scrapes a synthetic exporter shaped like the collector's:
 * no query may error, the panels must have data, and the failure alert must
 * fire within seconds, naming the failing instance. Skipped when the
 * prometheus binary is missing.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { PROM, type DropReason, type Origin, type Outcome, type Stage } from '../../src/semconv';
import { runAllDashboardQueries } from '../../dashboards/generator/promql-check';

const ROOT = path.resolve(__dirname, '../..');
const PROMETHEUS_BIN = ['/usr/bin/prometheus', '/usr/local/bin/prometheus'].find((candidate) =>
  fs.existsSync(candidate),
);

type Labels = Record<string, string>;
const line = (metric: string, labels: Labels, value: number) =>
  `${metric}{${Object.entries(labels)
    .map(([name, labelValue]) => `${name}="${labelValue}"`)
    .join(',')}} ${value}`;

const PASSING_STAGES: Stage[] = ['emit', 'listen', 'publish', 'fanout', 'pubsub', 'deliver'];

/** Exposition text after `n` scrapes: steady traffic for workflow and ui, a few drops, and one drop counter born at its final value. */
function syntheticMetrics(n: number): string {
  const lines: string[] = [];
  const events = (job: string, stage: Stage, origin: Origin, outcome: Outcome, value: number, reason?: DropReason) =>
    lines.push(
      line(
        PROM.STAGE_EVENTS,
        {
          job,
          [PROM.LABEL_STAGE]: stage,
          [PROM.LABEL_ORIGIN]: origin,
          [PROM.LABEL_OUTCOME]: outcome,
          ...(reason === undefined ? {} : { [PROM.LABEL_DROP_REASON]: reason }),
        },
        value,
      ),
    );
  for (const origin of ['workflow', 'ui'] as const) {
    const job = origin === 'workflow' ? 'twenty-worker' : 'twenty-server';
    if (origin === 'workflow') events(job, 'workflow_step', origin, 'forwarded', 10 * n);
    for (const stage of PASSING_STAGES)
      events(stage === 'deliver' ? 'twenty-server' : job, stage, origin, 'forwarded', 10 * n);
    events(job, 'stream', origin, 'forwarded', 8 * n);
    events(
      job,
      'stream',
      origin,
      'dropped',
      2 * n,
      origin === 'workflow' ? 'subscriber_without_role' : 'no_matching_query',
    );
    for (const [le, count] of [
      ['0.1', n],
      ['1', 2 * n],
      ['+Inf', 2 * n],
    ] as const) {
      lines.push(line(PROM.DELIVERY_LATENCY_BUCKET, { job: 'twenty-server', [PROM.LABEL_ORIGIN]: origin, le }, count));
      lines.push(
        line(
          PROM.STAGE_DURATION_BUCKET,
          { job, [PROM.LABEL_STAGE]: 'stream', [PROM.LABEL_ORIGIN]: origin, [PROM.LABEL_OUTCOME]: 'forwarded', le },
          count,
        ),
      );
    }
    lines.push(
      line(
        'traces_span_metrics_calls_total',
        {
          job,
          service_name: job,
          span_name: 'twenty.sse stream',
          [PROM.LABEL_STAGE]: 'stream',
          [PROM.LABEL_ORIGIN]: origin,
          [PROM.LABEL_OUTCOME]: 'dropped',
          [PROM.LABEL_DROP_REASON]: 'no_matching_query',
        },
        n,
      ),
    );
  }
  events('twenty-worker', 'stream', 'workflow', 'dropped', 1, 'stream_expired');
  // The last mile: publishes into a closed tab's stream, and the API server's SSE connections.
  events('twenty-worker', 'pubsub', 'workflow', 'dropped', n, 'no_live_connection');
  events('twenty-server', 'pubsub', 'ui', 'dropped', n, 'no_live_connection');
  const server = { job: 'twenty-server' };
  lines.push(line(PROM.CONNECTIONS_ACTIVE, server, 3));
  lines.push(line(PROM.CONNECTIONS_OPENED, server, 2 * n));
  lines.push(line(PROM.CONNECTIONS_CLOSED, { ...server, [PROM.LABEL_CLOSE_REASON]: 'client_gone' }, 2 * n - 3));
  lines.push(line(PROM.STREAM_RESUBSCRIPTIONS, { ...server, [PROM.LABEL_RESUBSCRIBE_PREVIOUS]: 'closed_here' }, n));
  lines.push(line(PROM.CONNECTION_LATE_EVENTS, { ...server, [PROM.LABEL_ORIGIN]: 'ui' }, n));
  // a proxy cutting at 60 s: every closed connection lived between 59 and 61 s
  for (const [le, count] of [
    ['55', 0],
    ['59', 0],
    ['61', 2 * n - 3],
    ['+Inf', 2 * n - 3],
  ] as const) {
    lines.push(
      line(PROM.CONNECTION_LIFETIME_BUCKET, { ...server, [PROM.LABEL_CLOSE_REASON]: 'client_gone', le }, count),
    );
  }
  // One worker instance cannot publish to Redis.
  for (const stage of ['listen', 'publish', 'legacy_pubsub'] as const) {
    lines.push(
      line(
        PROM.STAGE_EVENTS,
        {
          job: 'twenty-worker',
          instance: 'worker-2',
          [PROM.LABEL_STAGE]: stage,
          [PROM.LABEL_ORIGIN]: 'workflow',
          [PROM.LABEL_OUTCOME]: 'failed',
        },
        n,
      ),
    );
  }
  for (const [targetClass, method, status] of [
    ['WorkspaceEventEmitterService', 'publish', 'found'],
    ['WorkspaceEventEmitterService', 'processStreamEvents', 'found'],
    ['ObjectRecordEventPublisher', 'publish', 'missing'],
  ]) {
    lines.push(
      line(
        PROM.INSTRUMENTATION_TARGETS,
        {
          job: 'twenty-worker',
          [PROM.LABEL_TARGET_CLASS]: targetClass,
          [PROM.LABEL_TARGET_METHOD]: method,
          [PROM.LABEL_TARGET_STATUS]: status,
        },
        1,
      ),
    );
  }
  lines.push(line(PROM.INSTRUMENTATION_ERRORS, { job: 'twenty-server', [PROM.LABEL_COMPONENT]: 'deliver' }, n));
  const collector = { job: 'otel-collector-internal', receiver: 'otlp', transport: 'http' };
  lines.push(line('otelcol_receiver_accepted_spans', collector, 100 * n));
  lines.push(line('otelcol_receiver_refused_spans', collector, n));
  lines.push(
    line('otelcol_exporter_send_failed_spans', { job: 'otel-collector-internal', exporter: 'otlp/jaeger' }, n),
  );
  return `${lines.join('\n')}\n`;
}

const listen = (server: http.Server) =>
  new Promise<number>((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)),
  );

async function freePort(): Promise<number> {
  const server = http.createServer();
  const port = await listen(server);
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

async function instantQuery(
  promUrl: string,
  query: string,
): Promise<Array<{ metric: Labels; value: [number, string] }>> {
  const response = await fetch(`${promUrl}/api/v1/query?${new URLSearchParams({ query })}`);
  const body = (await response.json()) as { data: { result: Array<{ metric: Labels; value: [number, string] }> } };
  return body.data.result;
}

const describeLive = PROMETHEUS_BIN === undefined ? describe.skip : describe;

describeLive(
  PROMETHEUS_BIN === undefined
    ? 'live Prometheus (SKIPPED: no prometheus binary; apt-get install prometheus)'
    : 'live Prometheus 2.x',
  () => {
    let exporter: http.Server;
    let prometheus: ChildProcess;
    let promUrl: string;
    let workDir: string;

    beforeAll(async () => {
      let scrapes = 0;
      exporter = http.createServer((_, response) => {
        scrapes += 1;
        response.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
        response.end(syntheticMetrics(scrapes));
      });
      const exporterPort = await listen(exporter);
      const promPort = await freePort();
      promUrl = `http://127.0.0.1:${promPort}`;

      workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'twenty-sse-prom-'));
      const config = fs
        .readFileSync(path.join(ROOT, 'dashboards/prometheus/prometheus.yml'), 'utf8')
        .replace(/scrape_interval: 15s/, 'scrape_interval: 1s')
        .replace(/evaluation_interval: 15s/, 'evaluation_interval: 1s')
        .replace('rules/*.yml', path.join(ROOT, 'dashboards/prometheus/rules/*.yml'))
        .replace('127.0.0.1:8889', `127.0.0.1:${exporterPort}`);
      fs.writeFileSync(path.join(workDir, 'prometheus.yml'), config);
      prometheus = spawn(
        PROMETHEUS_BIN as string,
        [
          `--config.file=${path.join(workDir, 'prometheus.yml')}`,
          `--storage.tsdb.path=${path.join(workDir, 'data')}`,
          `--web.listen-address=127.0.0.1:${promPort}`,
        ],
        { stdio: 'ignore' },
      );
      await waitFor('Prometheus ready', async () => ((await fetch(`${promUrl}/-/ready`)).ok ? true : undefined));
      await waitFor('four scrapes of the synthetic exporter', async () => {
        const [sample] = await instantQuery(promUrl, `count_over_time(${PROM.INSTRUMENTATION_ERRORS}[1m])`);
        return sample !== undefined && Number(sample.value[1]) >= 4 ? true : undefined;
      });
    }, 60000);

    afterAll(async () => {
      prometheus?.kill('SIGTERM');
      await new Promise((resolve) => exporter?.close(resolve));
      if (workDir !== undefined) fs.rmSync(workDir, { recursive: true, force: true });
    });

    test('every dashboard query runs without error and returns data', async () => {
      const results = await runAllDashboardQueries(promUrl);
      expect(results.filter((result) => result.status === 'error')).toEqual([]);
      expect(
        results.filter((result) => result.status === 'empty').map((result) => `${result.panel} ${result.refId}`),
      ).toEqual([]);
    });

    test('a drop counter exported once at its final value still shows in the drops table', async () => {
      const results = await runAllDashboardQueries(promUrl);
      const drops = results.find((result) => result.panel === 'Drops by reason, stage and origin');
      // subscriber_without_role, no_matching_query, no_live_connection twice (worker, server; steady) and stream_expired (constant 1 since birth).
      expect(drops?.series).toBe(5);
    });

    test('TwentySseEventsFailing fires within seconds, at the innermost failing stage of the failing instance', async () => {
      const firing = await waitFor('the failure alert', async () => {
        const result = await instantQuery(promUrl, 'ALERTS{alertname="TwentySseEventsFailing", alertstate="firing"}');
        return result.length >= 1 ? result : undefined;
      });
      expect(firing.map((alert) => [alert.metric.job, alert.metric.instance, alert.metric[PROM.LABEL_STAGE]])).toEqual([
        ['twenty-worker', 'worker-2', 'legacy_pubsub'],
      ]);
    });
  },
);
