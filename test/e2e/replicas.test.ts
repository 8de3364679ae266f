/**
 * Several Twenty replicas on one collector that tail-samples at a 1% baseline
 * (collector/otelcol-config.local.yaml, OTELCOL_TRACES_SAMPLE_PERCENT=1): two
 * API servers and two queue workers of the example app, real Redis, real SSE
 * clients on both servers, UI creates through both, workflow runs shared by
 * both workers (scenario: ./replicas-scenario.ts).
 *
 * Checked: each process exports under its own service.instance.id; per
 * instance and summed over instances, the Prometheus counters equal the
 * example's ground truth; deliveries are counted on the server that holds the
 * connection; both workers ran workflows; a drop-run trace goes from the
 * worker that ran it, through Redis, to the two servers holding its streams;
 * every drop-run trace is in Jaeger while the plain runs are sampled; the
 * span metrics, computed before sampling, count every run.
 */
import { ATTR } from '../../src/semconv';
import {
  DROP_RUNS,
  PLAIN_RUNS,
  SERVER_JOB,
  WORKER_JOB,
  deliverSpansOf,
  groundTruthCounts,
  instanceOf,
  instrumentationCounts,
  jobSpanCalls,
  jobSpanOf,
  keptPlainRuns,
  pollCounts,
  prometheusFunnel,
  receivedByServer,
  sorted,
  tagsOf,
  useReplicaRun,
  waitForDropTraces,
  waitForInstances,
  type JaegerTrace,
} from './replicas-scenario';
import { waitFor } from '../helpers/stack';

jest.setTimeout(90_000);

const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('2 API servers + 2 queue workers on one collector, tail sampling at 1%', () => {
  const run = useReplicaRun({ collectorEnv: { OTELCOL_TRACES_SAMPLE_PERCENT: '1' } });
  let instances: Map<number, { job: string; instance: string }>;
  let dropTraces: Map<string, JaegerTrace>;
  beforeAll(async () => {
    instances = await waitForInstances(run);
  });
  const instanceOfPid = (pid: number) => instances.get(pid)?.instance ?? `pid ${pid} has no instance`;

  test('each process exports under its own service.instance.id (a UUID), with its service name as job', () => {
    const pids = [...run.pids.servers, ...run.pids.workers];
    const seen = pids.map((pid) => instances.get(pid));
    expect(seen.map((entry) => entry?.job)).toEqual([SERVER_JOB, SERVER_JOB, WORKER_JOB, WORKER_JOB]);
    for (const entry of seen) expect(entry?.instance).toMatch(UUID_V4);
    expect(new Set(seen.map((entry) => entry?.instance)).size).toBe(4);
  });

  test('the example really ran on every replica: UI events emitted by both servers, workflow runs by both workers', () => {
    const emittedBy = (pids: number[]) =>
      pids.map((pid) =>
        run
          .groundTruth()
          .filter((record) => record.kind === 'emitted' && record.pid === pid)
          .reduce((sum, record) => sum + record.count, 0),
      );
    expect(emittedBy(run.pids.servers)).toEqual([2, 2]);
    const byWorker = emittedBy(run.pids.workers);
    expect(byWorker[0] + byWorker[1]).toBe(PLAIN_RUNS + DROP_RUNS);
    expect(Math.min(...byWorker)).toBeGreaterThan(0);
  });

  test('per instance, and summed over instances per job, the Prometheus counters equal the ground truth', async () => {
    const records = run.groundTruth();
    const expectedByInstance = groundTruthCounts(records, (record) => instanceOfPid(record.pid));
    const byInstance = await pollCounts(
      async () =>
        instrumentationCounts(await prometheusFunnel(run.stack.promUrl, ['instance']), (row) => row.labels.instance),
      expectedByInstance,
    );
    expect(sorted(byInstance)).toEqual(sorted(expectedByInstance));

    const jobOf: Record<string, string> = { server: SERVER_JOB, worker: WORKER_JOB };
    const expectedByJob = groundTruthCounts(records, (record) => jobOf[record.process]);
    const byJob = instrumentationCounts(await prometheusFunnel(run.stack.promUrl, ['job']), (row) => row.labels.job);
    expect(sorted(byJob)).toEqual(sorted(expectedByJob));
    // what the scenario is built for: A's events each dropped once (D5), nothing else dropped or failed
    expect(expectedByJob).toMatchObject({
      [`${WORKER_JOB}|emit|workflow|in|`]: PLAIN_RUNS + DROP_RUNS,
      [`${WORKER_JOB}|stream|workflow|dropped|subscriber_without_role`]: DROP_RUNS,
      [`${WORKER_JOB}|stream|workflow|forwarded|`]: 2 * (PLAIN_RUNS + DROP_RUNS),
      [`${SERVER_JOB}|emit|ui|in|`]: 4,
      [`${SERVER_JOB}|stream|ui|dropped|subscriber_without_role`]: 2,
      [`${SERVER_JOB}|stream|ui|forwarded|`]: 8,
    });
  });

  test('deliver is counted on the server holding the SSE connection, and equals what its clients received', async () => {
    const received = receivedByServer(run);
    expect(received).toEqual({
      '0|ui': 4,
      '0|workflow': PLAIN_RUNS + DROP_RUNS,
      '1|ui': 4,
      '1|workflow': PLAIN_RUNS + DROP_RUNS,
    });
    const serverIndexOf = new Map(run.pids.servers.map((pid, index) => [instanceOfPid(pid), String(index)]));
    const delivered = await pollCounts(async () => {
      const rows = await prometheusFunnel(run.stack.promUrl, ['instance']);
      const counts: Record<string, number> = {};
      for (const row of rows.filter(
        (candidate) => candidate.stage === 'deliver' && candidate.outcome === 'forwarded' && candidate.count > 0,
      )) {
        const key = `${serverIndexOf.get(row.labels.instance) ?? `not a server: ${row.labels.instance}`}|${row.origin}`;
        counts[key] = (counts[key] ?? 0) + row.count;
      }
      return counts;
    }, received);
    expect(sorted(delivered)).toEqual(sorted(received));
  });

  test('every drop-run trace is in Jaeger, whole: from the worker that ran it, through Redis, to the two servers holding its streams', async () => {
    dropTraces = await waitForDropTraces(run);
    const workerPidOfRun = new Map(
      run
        .groundTruth()
        .filter((record) => record.kind === 'emitted' && record.workflowRunId)
        .map((record) => [record.workflowRunId as string, record.pid]),
    );
    const serverInstances = run.pids.servers.map(instanceOfPid).sort();
    for (const runId of run.dropRuns) {
      const trace = dropTraces.get(runId) as JaegerTrace;
      const job = jobSpanOf(trace)!;
      expect({ runId, worker: instanceOf(trace, job) }).toEqual({
        runId,
        worker: instanceOfPid(workerPidOfRun.get(runId) as number),
      });
      const deliveries = deliverSpansOf(trace);
      expect({ runId, servers: deliveries.map((span) => instanceOf(trace, span)).sort() }).toEqual({
        runId,
        servers: serverInstances,
      });
      for (const span of deliveries)
        expect(tagsOf(span)).toMatchObject({ [ATTR.ORIGIN]: 'workflow', [ATTR.OUTCOME]: 'forwarded' });
    }
  });

  test('the plain runs are sampled at the 1% baseline: far fewer than all of them reach Jaeger', async () => {
    expect(dropTraces?.size).toBe(DROP_RUNS);
    const kept = await keptPlainRuns(run);
    // 30 runs at 1%: 0.3 expected; 6 or more has a probability below 1e-6
    expect(kept.length).toBeLessThanOrEqual(5);
  });

  test('span metrics are computed before sampling: the workflow job span is counted for every run', async () => {
    const calls = await waitFor('span_metrics to count every run', async () => {
      const value = await jobSpanCalls(run.stack.promUrl);
      return value >= PLAIN_RUNS + DROP_RUNS ? value : undefined;
    }).catch(() => jobSpanCalls(run.stack.promUrl));
    expect(calls).toBe(PLAIN_RUNS + DROP_RUNS);
  });
});
