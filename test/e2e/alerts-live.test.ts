/**
 * The alert rules, live: the collector, Jaeger and Prometheus of the bundled
 * stack, Prometheus evaluating the generated rules with every duration
 * divided by TIME_FACTOR (compressedTiming: a 10m window becomes 10s), and
 * the example's two processes (API server and queue worker, generation
 * `publisher`, a private Redis) under the traffic model's routine traffic
 * (example/traffic/live-traffic.ts): tabs on several tables and filters, UI
 * and workflow writers, tabs turning over and vanishing. First routine
 * traffic alone: no alert may fire or even be pending, and the doctor exits 0
 * naming the routine filtering. Then each loss kind in turn: its alert must
 * fire within the stated delay (compressed), and the doctor exits 1 naming
 * the stage, the reason and the running generation's method; the loss is
 * switched off and the alerts must clear before the next one.
 *
 * It runs on Node 20 only: it measures the rules and the example's behaviour,
 * not a Node-specific code path (the instrumentation on Node 24 runs the same
 * stack in stack.test.ts), and CI's time is better spent once. Set
 * TEST_ALERTS_LIVE=1 to run it on another Node.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import IORedis from 'ioredis';
import { toYaml } from '../../dashboards/generator/generate';
import { STATED_DELAY_MINUTES } from '../../dashboards/generator/rule-tests';
import { buildRuleGroups, compressedTiming, durationSeconds } from '../../dashboards/generator/rules';
import { startTwentyLikeApp, type TwentyLikeApp } from '../../example/harness';
import { LIVE_ROUTINE_PLAN, LiveTraffic, type LiveLossKind } from '../../example/traffic/live-traffic';
import { PROM } from '../../src/semconv';
import {
  promAlerts,
  promQuery,
  runCli,
  sleep,
  startExampleProcesses,
  startRedis,
  startStack,
  waitFor,
  waitForRuleEvaluation,
  type ExampleProcesses,
  type ManagedProcess,
  type PromAlert,
  type Stack,
} from '../helpers/stack';

const TIME_FACTOR = 60;
/** Units per origin and stage in a (compressed) window before a share is judged; the live traffic makes hundreds. */
const LIVE_MIN_UNITS = 10;
const TIMING = compressedTiming(TIME_FACTOR, LIVE_MIN_UNITS);
/** Routine traffic before any loss: one compressed hour. */
const ROUTINE_SECONDS = 60;
/** What the collector's export (1s), the scrape (1s) and the evaluation (1s) add to a rule's own delay. */
const PIPELINE_SLACK_SECONDS = 6;
const NODE_MAJOR = Number(process.versions.node.split('.')[0]);
const LIVE = NODE_MAJOR === 20 || process.env.TEST_ALERTS_LIVE === '1';

const PUBLISHER = 'ObjectRecordEventPublisher';

interface LossExpectation {
  kind: LiveLossKind;
  /** The alert that must fire, and labels it must carry. */
  alert: string;
  labels: Record<string, string>;
  /** What the doctor must name. */
  doctor: { stage: string; reason: string; method: string };
}

const STAGE = PROM.LABEL_STAGE;
const REASON = PROM.LABEL_DROP_REASON;

/** In the order they run; each is switched off, and its alerts clear, before the next. */
const LOSSES: LossExpectation[] = [
  {
    kind: 'step_emits_nothing',
    alert: 'TwentySseDropsAboveRoutineLevel',
    labels: { [STAGE]: 'workflow_step', [REASON]: 'not_emitted' },
    doctor: { stage: 'workflow_step', reason: 'not_emitted', method: 'WorkflowExecutorWorkspaceService.executeStep' },
  },
  {
    kind: 'streams_expiring',
    alert: 'TwentySseDropsAboveRoutineLevel',
    labels: { [STAGE]: 'stream', [REASON]: 'stream_expired' },
    doctor: { stage: 'stream', reason: 'stream_expired', method: `${PUBLISHER}.publish` },
  },
  {
    kind: 'seed_hypothesis',
    alert: 'TwentySseWorkflowLossAboveUi',
    labels: { [STAGE]: 'stream' },
    doctor: {
      stage: 'stream',
      reason: 'subscriber_without_user_workspace',
      method: `${PUBLISHER}.processObjectRecordStreamEvents`,
    },
  },
  {
    kind: 'workflow_access_denied',
    alert: 'TwentySseWorkflowLossAboveUi',
    labels: { [STAGE]: 'stream' },
    doctor: { stage: 'stream', reason: 'record_share_denied', method: `${PUBLISHER}.processObjectRecordStreamEvents` },
  },
  {
    kind: 'unknown_drop_path',
    alert: 'TwentySseUnattributedDrops',
    labels: { [STAGE]: 'stream', job: 'twenty-worker' },
    doctor: { stage: 'stream', reason: 'unattributed', method: `${PUBLISHER}.processObjectRecordStreamEvents` },
  },
  {
    kind: 'redis_publish_failing',
    alert: 'TwentySseEventsFailing',
    labels: { [STAGE]: 'pubsub', job: 'twenty-worker' },
    doctor: { stage: 'pubsub', reason: 'failed', method: 'SubscriptionService.publishToEventStream' },
  },
];

interface FiredAlert {
  key: string;
  alertname: string;
  labels: Record<string, string>;
  /** Seconds from the loss's start to the first poll that saw it firing. */
  afterSeconds: number;
}

interface PhaseResult {
  kind: LiveLossKind;
  fired: FiredAlert[];
  doctor: { code: number | null; stdout: string; stderr: string };
  /** Seconds until no pipeline alert fired any more, after the loss was switched off. */
  clearedAfterSeconds?: number;
}

const alertKey = (alert: PromAlert) =>
  [
    alert.labels.alertname,
    ...Object.entries(alert.labels)
      .filter(([name]) => !['alertname', 'severity'].includes(name))
      .sort()
      .map(([name, value]) => `${name}=${value}`),
  ].join(' ');

/** The stated delay of an alert, compressed, plus what the telemetry path adds. */
const allowedSeconds = (alert: string) => (STATED_DELAY_MINUTES[alert] * 60) / TIME_FACTOR + PIPELINE_SLACK_SECONDS;

const describeLive = LIVE ? describe : describe.skip;

describeLive(
  LIVE
    ? 'alert rules live: routine traffic, then each loss kind'
    : `alert rules live (SKIPPED on Node ${NODE_MAJOR}: runs in the Node 20 pass; TEST_ALERTS_LIVE=1 forces it)`,
  () => {
    let stack: Stack;
    let example: ExampleProcesses;
    let client: TwentyLikeApp;
    let traffic: LiveTraffic;
    let redis: { url: string; proc: ManagedProcess };
    let admin: IORedis;
    let faultyWorker: ManagedProcess | undefined;
    let rulesDir: string;
    const routineAlerts: string[] = [];
    let routineDoctor: { code: number | null; stdout: string; stderr: string };
    const phases: PhaseResult[] = [];
    const diagnostics = () =>
      `${stack?.logs(15) ?? ''}\n${example?.logs(15) ?? ''}\ntraffic: ${JSON.stringify(traffic?.stats)}`;

    const doctor = (sinceSeconds: number) =>
      runCli(['doctor', '--prometheus', stack.promUrl, '--since', `${Math.ceil(sinceSeconds)}s`, '--by-instance'], {
        timeoutMs: 30_000,
      });

    /** Pipeline alerts (not the collector's) pending or firing now. */
    const activeAlerts = async () =>
      (await promAlerts(stack.promUrl)).filter((alert) => alert.labels.alertname.startsWith('TwentySse'));

    beforeAll(async () => {
      rulesDir = fs.mkdtempSync(path.join(os.tmpdir(), 'twenty-sse-live-rules-'));
      stack = await startStack({ ruleFiles: [writeRules(rulesDir)] });
      redis = await startRedis(stack.workDir);
      admin = new IORedis(redis.url, { maxRetriesPerRequest: 1 });
      // The worker has a Redis user of its own, so one process can lose PUBLISH while the others keep it.
      await admin.call('ACL', 'SETUSER', 'worker', 'on', '>worker-secret', '~*', '&*', '+@all');
      const workerUrl = new URL(redis.url);
      workerUrl.username = 'worker';
      workerUrl.password = 'worker-secret';
      example = await startExampleProcesses({
        otlpHttpUrl: stack.otlpHttpUrl,
        redisUrl: redis.url,
        workDir: stack.workDir,
        generation: 'publisher',
        workerEnv: { REDIS_URL: workerUrl.toString() },
      });
      client = await startTwentyLikeApp({
        generation: 'publisher',
        mode: 'client',
        url: example.url,
        redisUrl: redis.url,
      });
      traffic = await LiveTraffic.start(client, LIVE_ROUTINE_PLAN, {
        setRedisPublishFailing: async (failing) => {
          await admin.call('ACL', 'SETUSER', 'worker', failing ? '-publish' : '+publish');
        },
        setUnknownDropPath: async (active) => {
          if (active)
            faultyWorker = await example.addWorker('twenty-worker-changed', { EXAMPLE_FAULTS: 'stream_skips_events' });
          else await faultyWorker?.stop();
        },
      });

      await waitFor(
        'the first twenty_sse counters in Prometheus',
        async () => ((await promQuery(stack.promUrl, PROM.STAGE_EVENTS)).length > 0 ? true : undefined),
        {
          timeoutMs: 30_000,
          context: diagnostics,
        },
      );
      // TwentySseTelemetryAbsent was rightly pending while nothing had been scraped yet: start once the rules saw the data.
      await waitForRuleEvaluation(stack.promUrl, Date.now());
      // Routine traffic: every evaluation from now on must find nothing, not even pending.
      const routineStart = Date.now();
      while (Date.now() - routineStart < ROUTINE_SECONDS * 1000) {
        for (const alert of await activeAlerts()) routineAlerts.push(`${alert.state} ${alertKey(alert)}`);
        await sleep(1000);
      }
      routineDoctor = await doctor(ROUTINE_SECONDS - 5);

      for (const loss of LOSSES) {
        const before = new Set((await activeAlerts()).map(alertKey));
        await traffic.inject(loss.kind);
        // From when the loss is in place (a changed worker has booted, the ACL changed).
        const start = Date.now();
        const fired = new Map<string, FiredAlert>();
        // Watch for as long as the slowest alert may take, to see everything that fires, not only the expected one.
        const deadline = start + Math.max(...Object.keys(STATED_DELAY_MINUTES).map(allowedSeconds)) * 1000;
        while (Date.now() < deadline) {
          for (const alert of (await activeAlerts()).filter((candidate) => candidate.state === 'firing')) {
            const key = alertKey(alert);
            if (!before.has(key) && !fired.has(key))
              fired.set(key, {
                key,
                alertname: alert.labels.alertname,
                labels: alert.labels,
                afterSeconds: (Date.now() - start) / 1000,
              });
          }
          await sleep(500);
        }
        const result: PhaseResult = {
          kind: loss.kind,
          fired: [...fired.values()],
          doctor: await doctor((Date.now() - start) / 1000 + 1),
        };
        phases.push(result);
        await traffic.inject(undefined);
        const off = Date.now();
        await waitFor(
          'the alerts to clear',
          async () => ((await activeAlerts()).some((alert) => alert.state === 'firing') ? undefined : true),
          { timeoutMs: 60_000, intervalMs: 500 },
        ).then(
          () => (result.clearedAfterSeconds = (Date.now() - off) / 1000),
          () => undefined,
        );
      }
      process.stdout.write(`${measuredTable(routineAlerts, phases)}\n`);
    }, 900_000);

    afterAll(async () => {
      await traffic?.stop().catch(() => undefined);
      await client?.close().catch(() => undefined);
      await example?.stop();
      admin?.disconnect();
      await redis?.proc.stop();
      await stack?.stop();
      if (rulesDir !== undefined) fs.rmSync(rulesDir, { recursive: true, force: true });
    });

    test(`routine traffic for ${ROUTINE_SECONDS}s (${(ROUTINE_SECONDS * TIME_FACTOR) / 3600}h at production timing): no pipeline alert fires or is pending`, () => {
      expect(traffic.stats.uiWrites).toBeGreaterThan(100);
      expect(traffic.stats.workflowRuns).toBeGreaterThan(100);
      expect(routineAlerts).toEqual([]);
    });

    test('routine traffic: the doctor exits 0 and names the routine filtering', () => {
      expect({
        code: routineDoctor.code,
        stderr: routineDoctor.stderr.split('\n').filter((line) => line.startsWith('doctor:')),
      }).toEqual({ code: 0, stderr: [] });
      expect(routineDoctor.stdout).toContain(
        'Twenty generation: publisher (detected from the instrumentation targets the processes found)',
      );
      expect(routineDoctor.stdout).toContain('No loss: every drop in the window is routine.');
      expect(routineDoctor.stdout).toMatch(/^- no_matching_query \(D8\) at stream: .*filtering by design$/m);
      expect(routineDoctor.stdout).toMatch(/^- no_active_streams \(D1\) at fanout: .*filtering by design$/m);
    });

    test.each(LOSSES.map((loss): [string, LossExpectation] => [loss.kind, loss]))(
      '%s: its alert fires within the stated delay, and it clears once the loss stops',
      (kind, loss) => {
        const phase = phases.find((candidate) => candidate.kind === kind) as PhaseResult;
        const expected = phase.fired.find(
          (alert) =>
            alert.alertname === loss.alert &&
            Object.entries(loss.labels).every(([name, value]) => alert.labels[name] === value),
        );
        expect({ kind, fired: phase.fired.map((alert) => alert.key) }).toEqual({
          kind,
          fired: expect.arrayContaining([expect.stringContaining(loss.alert)]),
        });
        expect(expected?.afterSeconds).toBeLessThanOrEqual(allowedSeconds(loss.alert));
        expect(phase.clearedAfterSeconds).toBeDefined();
      },
    );

    test.each(LOSSES.map((loss): [string, LossExpectation] => [loss.kind, loss]))(
      "%s: the doctor exits 1 naming the stage, the reason and the generation's method",
      (kind, loss) => {
        const { doctor: result } = phases.find((candidate) => candidate.kind === kind) as PhaseResult;
        expect({ kind, code: result.code }).toEqual({ kind, code: 1 });
        const { stage, reason, method } = loss.doctor;
        // One entry of the Loss section ("- ..." and its where/why lines) names all three.
        const entries = (result.stdout.split('\nLoss:\n')[1] ?? '').split(/\n(?=- )/);
        const names = (entry: string) =>
          (reason === 'failed'
            ? entry.includes(`failed at ${stage}:`)
            : entry.includes(`${reason} (`) && entry.includes(`at ${stage}`)) && entry.includes(`where: ${method}`);
        expect({ kind, named: entries.some(names) }).toEqual({ kind, named: true });
      },
    );

    test('the traffic itself ran clean: no write, run or tab operation failed', () => {
      expect(traffic.stats.errors).toEqual([]);
    });
  },
);

function writeRules(dir: string): string {
  const file = path.join(dir, 'twenty-sse.compressed.rules.yml');
  fs.writeFileSync(
    file,
    toYaml({ groups: buildRuleGroups(undefined, TIMING) }, [`generated rules, durations divided by ${TIME_FACTOR}`]),
  );
  return file;
}

/** The measured table, as the README keeps it. */
function measuredTable(routineAlerts: string[], phases: PhaseResult[]): string {
  const scale = (seconds: number) =>
    `${seconds.toFixed(1)}s (${((seconds * TIME_FACTOR) / 60).toFixed(0)} min at production timing)`;
  const rows = [
    `| routine, ${ROUTINE_SECONDS}s | ${routineAlerts.length === 0 ? 'none' : routineAlerts.join(', ')} | - | ${durationSeconds(TIMING.window)}s window |`,
    ...phases.map(
      (phase) =>
        `| ${phase.kind} | ${phase.fired.map((alert) => `${alert.key} after ${scale(alert.afterSeconds)}`).join('; ') || 'NONE'} | doctor exit ${phase.doctor.code} | cleared ${
          phase.clearedAfterSeconds === undefined ? 'no' : `${phase.clearedAfterSeconds.toFixed(1)}s`
        } after the loss stopped |`,
    ),
  ];
  return ['| case | alerts fired (delay from the loss start) | doctor | |', '|---|---|---|---|', ...rows].join('\n');
}
