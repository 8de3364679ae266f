/**
 * The two-tier deployment of collector/README.md on real components: tier 1
 * (collector/otelcol-config.balancer.local.yaml) computes span metrics,
 * exports every metric to Prometheus and routes traces by trace id to two
 * tail-sampling collectors (collector/otelcol-config.sampler.local.yaml, 1%
 * baseline), which export to Jaeger. The same 2-server / 2-worker run as
 * test/e2e/replicas.test.ts (./replicas-scenario.ts) sends to tier 1.
 *
 * Checked: counters summed over instances equal the ground truth (metrics do
 * not cross the load balancer, so nothing is counted twice); deliveries per
 * server; both tier-2 collectors received traces; every drop-run trace
 * arrives whole, its worker part and both servers' deliveries together. At a
 * 1% baseline that is only possible if every span of a trace reached the same
 * tier-2 collector: the part that went elsewhere, holding no drop, would be
 * sampled away (with `routing_key: service` instead of traceID, the servers'
 * deliveries land on another collector than the worker's spans and this test
 * fails). Span metrics count every run.
 */
import {
  DROP_RUNS,
  PLAIN_RUNS,
  SERVER_JOB,
  WORKER_JOB,
  groundTruthCounts,
  instrumentationCounts,
  jobSpanCalls,
  keptPlainRuns,
  pollCounts,
  prometheusFunnel,
  receivedByServer,
  sorted,
  useReplicaRun,
  waitForDropTraces,
  waitForInstances,
} from './replicas-scenario';
import { promQuery, waitFor } from '../helpers/stack';

jest.setTimeout(90_000);

describe('two tiers: load_balancing by trace id to 2 tail-sampling collectors (1% baseline), 2 API servers + 2 workers', () => {
  const run = useReplicaRun({ samplers: 2, samplerEnv: { OTELCOL_TRACES_SAMPLE_PERCENT: '1' } });

  test('counters summed over instances equal the ground truth, and per instance too (each series exported once, by tier 1)', async () => {
    const instances = await waitForInstances(run);
    const records = run.groundTruth();
    const jobOf: Record<string, string> = { server: SERVER_JOB, worker: WORKER_JOB };
    const expectedByJob = groundTruthCounts(records, (record) => jobOf[record.process]);
    const byJob = await pollCounts(
      async () => instrumentationCounts(await prometheusFunnel(run.stack.promUrl, ['job']), (row) => row.labels.job),
      expectedByJob,
    );
    expect(sorted(byJob)).toEqual(sorted(expectedByJob));
    const expectedByInstance = groundTruthCounts(
      records,
      (record) => instances.get(record.pid)?.instance ?? `pid ${record.pid}`,
    );
    const byInstance = instrumentationCounts(
      await prometheusFunnel(run.stack.promUrl, ['instance']),
      (row) => row.labels.instance,
    );
    expect(sorted(byInstance)).toEqual(sorted(expectedByInstance));
    expect(expectedByJob[`${WORKER_JOB}|emit|workflow|in|`]).toBe(PLAIN_RUNS + DROP_RUNS);
  });

  test('deliver is counted on the server holding the connection', async () => {
    const instances = await waitForInstances(run);
    const serverIndexOf = new Map(run.pids.servers.map((pid, index) => [instances.get(pid)?.instance, String(index)]));
    const received = receivedByServer(run);
    const delivered = await pollCounts(async () => {
      const counts: Record<string, number> = {};
      for (const row of await prometheusFunnel(run.stack.promUrl, ['instance'])) {
        if (row.stage !== 'deliver' || row.outcome !== 'forwarded' || row.count === 0) continue;
        const key = `${serverIndexOf.get(row.labels.instance) ?? row.labels.instance}|${row.origin}`;
        counts[key] = (counts[key] ?? 0) + row.count;
      }
      return counts;
    }, received);
    expect(sorted(delivered)).toEqual(sorted(received));
  });

  test("every drop-run trace arrives whole in Jaeger (worker, D5 drop, both servers' deliveries); the plain runs are sampled", async () => {
    const traces = await waitForDropTraces(run);
    expect([...traces.keys()].sort()).toEqual([...run.dropRuns].sort());
    expect((await keptPlainRuns(run)).length).toBeLessThanOrEqual(5);
  });

  test('both tier-2 collectors received spans and made sampling decisions; tier 1 sampled nothing', async () => {
    const perSampler = await waitFor('both tier-2 collectors to report accepted spans', async () => {
      const samples = await promQuery(run.stack.promUrl, 'sum by (instance) (otelcol_receiver_accepted_spans)');
      const byTarget = Object.fromEntries(samples.map(({ metric, value }) => [metric.instance, Number(value[1])]));
      const counts = run.stack.samplers.map(({ ports }) => byTarget[`127.0.0.1:${ports.telemetry}`] ?? 0);
      return counts.every((count) => count > 0) ? counts : undefined;
    });
    expect(perSampler).toHaveLength(2);
    const decided = await promQuery(
      run.stack.promUrl,
      'sum by (instance) (otelcol_processor_tail_sampling_global_count_traces_sampled)',
    );
    expect(decided.map(({ metric }) => metric.instance).sort()).toEqual(
      run.stack.samplers.map(({ ports }) => `127.0.0.1:${ports.telemetry}`).sort(),
    );
  });

  test('span metrics are computed in tier 1 before sampling: the workflow job span is counted once per run', async () => {
    const calls = await waitFor('span_metrics to count every run', async () => {
      const value = await jobSpanCalls(run.stack.promUrl);
      return value >= PLAIN_RUNS + DROP_RUNS ? value : undefined;
    }).catch(() => jobSpanCalls(run.stack.promUrl));
    expect(calls).toBe(PLAIN_RUNS + DROP_RUNS);
  });
});
