/**
 * Counters are exact at volume, across processes. The example app's two real
 * processes, both instrumented (register entry via NODE_OPTIONS), real Redis,
 * three real SSE subscribers with different permissions:
 *   all        admin, every company event;
 *   restricted a role that cannot read `annualRecurringRevenue` (updates of
 *              only that field are dropped for it, D7);
 *   half       admin with the filter stage = LEAD, which half the records match.
 * 1,000 record events, half UI mutations over REST (handled by the server),
 * half workflow steps (run by the worker), in parallel batches. Then, from the
 * server's OTLP metrics (latest cumulative values):
 *   twenty.sse.stage.events{stage=deliver, outcome=forwarded} by origin
 *     == what the SSE clients received by origin (UI events carry the author's
 *        userId; the test triggered the workflow ones, which carry none);
 *   twenty.sse.delivery.latency count by origin == the same numbers
 *     (one observation per delivered event).
 * Spans are sampled at 10%: counters must not depend on sampling.
 */

import { ExampleMutationsService } from '../../example/app/rest/example-mutations.service';
import { type SseStream, type TwentyLikeApp } from '../../example/harness';
import { ATTR, METRIC, ORIGINS } from '../../src/semconv';
import { useInstrumentedDeployment } from '../helpers/instrumented-deployment';
import { type Generation, pollUntil } from '../helpers/processes';

jest.setTimeout(60_000);

const RECORDS = 40; // even index: stage LEAD, odd: WON
const UI_EVENTS = 500;
const WORKFLOW_RUNS = 50;
const STEPS_PER_RUN = 10; // 500 workflow events
const TOTAL_EVENTS = UI_EVENTS + WORKFLOW_RUNS * STEPS_PER_RUN;

const GENERATIONS: { generation: Generation; db: number }[] = [
  { generation: 'v5', db: 9 },
  { generation: 'publisher', db: 10 },
];

type ByOrigin = Record<'ui' | 'workflow', number>;

describe.each(GENERATIONS)(
  'delivered counters equal SSE deliveries at volume, generation $generation',
  ({ generation, db }) => {
    const env = useInstrumentedDeployment({
      generation,
      db,
      tmpPrefix: 'cross-process-volume-',
      otelEnv: { OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.1' },
    });
    const { receiver } = env;
    let client: TwentyLikeApp | undefined;
    beforeAll(() => {
      client = env.client;
    });

    it(`${TOTAL_EVENTS} mixed UI and workflow events: deliver{forwarded} and delivery.latency count equal the SSE deliveries, by origin`, async () => {
      const app = client!;
      const { workspaceId } = await app.seed.workspace();
      const admin = await app.seed.user({ workspaceId });
      const { roleId } = await app.seed.role({
        workspaceId,
        objects: { company: { restrictedFields: ['annualRecurringRevenue'] } },
      });
      const restrictedUser = await app.seed.user({ workspaceId, roleId });
      const filterUser = await app.seed.user({ workspaceId });
      const records: { id: string }[] = [];
      for (let i = 0; i < RECORDS; i++) {
        records.push(
          await app.seed.record({
            workspaceId,
            objectNameSingular: 'company',
            data: { name: `company-${i}`, stage: i % 2 === 0 ? 'LEAD' : 'WON', annualRecurringRevenue: 0 },
          }),
        );
      }

      const streams: Record<'all' | 'restricted' | 'half', SseStream> = {
        all: await app.streams.open({ token: admin.token }),
        restricted: await app.streams.open({ token: restrictedUser.token }),
        half: await app.streams.open({ token: filterUser.token }),
      };
      expect(
        await streams.all.addQuery({ queryId: 'companies', operationSignature: { objectNameSingular: 'company' } }),
      ).toBe(true);
      expect(
        await streams.restricted.addQuery({
          queryId: 'companies',
          operationSignature: { objectNameSingular: 'company' },
        }),
      ).toBe(true);
      expect(
        await streams.half.addQuery({
          queryId: 'lead-companies',
          operationSignature: { objectNameSingular: 'company', variables: { filter: { stage: { eq: 'LEAD' } } } },
        }),
      ).toBe(true);

      // UI: batches of one update per record (no two concurrent writes to one record), every write changes a value;
      // one in five touches only the field the restricted subscriber cannot read.
      const ui = async () => {
        for (let start = 0; start < UI_EVENTS; start += RECORDS) {
          const batch = [];
          for (let k = start; k < Math.min(start + RECORDS, UI_EVENTS); k++) {
            const record = records[k % RECORDS];
            const data = k % 5 === 4 ? { annualRecurringRevenue: k + 1 } : { name: `ui-${k}` };
            batch.push(
              app.ui.updateRecord({ token: admin.token, objectNameSingular: 'companies', id: record.id, data }),
            );
          }
          await Promise.all(batch);
        }
      };
      // Workflow: runs enqueued together, the worker consumes them one by one; each step updates another record.
      const workflows = async () => {
        const runs = [];
        for (let r = 0; r < WORKFLOW_RUNS; r++) {
          const steps = [];
          for (let s = 0; s < STEPS_PER_RUN; s++) {
            const n = r * STEPS_PER_RUN + s;
            const record = records[n % RECORDS];
            steps.push(
              app.workflows.steps.updateRecord(
                'company',
                record.id,
                n % 7 === 6 ? { annualRecurringRevenue: 10_000 + n } : { name: `wf-${n}` },
              ),
            );
          }
          runs.push(app.workflows.runAutomatic({ workspaceId, steps, wait: false }));
        }
        const started = await Promise.all(runs);
        const mutations = app.app.get(ExampleMutationsService);
        const finished = await Promise.all(
          started.map(({ workflowRunId }) =>
            mutations.waitForWorkflowRun({ workspaceId, workflowRunId, timeoutMs: 45_000 }),
          ),
        );
        return finished.map((run) => run.status);
      };
      const [, statuses] = await Promise.all([ui(), workflows()]);
      expect(statuses.filter((status) => status !== 'COMPLETED')).toEqual([]);

      // Everything the pipeline forwarded (per the ground truth both processes write) has reached its subscriber.
      await app.settle({ quietMs: 300, timeoutMs: 30_000 });
      const forwarded = app.readGroundTruth().filter((r) => r.workspaceId === workspaceId && r.kind === 'forwarded');
      for (const [name, stream] of Object.entries(streams)) {
        const expected = forwarded
          .filter((r) => 'streamChannelId' in r && r.streamChannelId === stream.channelId)
          .reduce((sum, r) => sum + r.count, 0);
        await pollUntil(
          () => stream.events().length,
          (n) => n >= expected,
          {
            timeoutMs: 20_000,
            what: `${name} to receive the ${expected} forwarded events`,
            describe: (n) => `${n} received`,
          },
        );
        expect({ name, received: stream.events().length }).toEqual({ name, received: expected });
        expect(stream.errors).toEqual([]);
      }

      const received: ByOrigin = { ui: 0, workflow: 0 };
      for (const stream of Object.values(streams)) {
        for (const { event } of stream.events()) {
          if (event.userId === admin.userId) received.ui++;
          else if (event.userId == null) received.workflow++;
          else throw new Error(`unexpected author ${event.userId}`);
        }
      }
      // the subscribers saw what their permissions allow
      expect(streams.all.events()).toHaveLength(TOTAL_EVENTS);
      expect(streams.half.events()).toHaveLength(TOTAL_EVENTS / 2);
      expect(streams.restricted.events().length).toBeLessThan(TOTAL_EVENTS);
      expect(streams.restricted.events().length).toBeGreaterThan(TOTAL_EVENTS / 2);
      expect(received.ui + received.workflow).toBe(
        streams.all.events().length + streams.half.events().length + streams.restricted.events().length,
      );

      const read = () => {
        const counter = (origin: string) =>
          receiver.latestSum(
            METRIC.STAGE_EVENTS,
            { [ATTR.STAGE]: 'deliver', [ATTR.OUTCOME]: 'forwarded', [ATTR.ORIGIN]: origin },
            'twenty-server',
          );
        const latency = (origin: string) =>
          receiver.latestSum(METRIC.DELIVERY_LATENCY, { [ATTR.ORIGIN]: origin }, 'twenty-server');
        const otherOrigins = ORIGINS.filter((o) => o !== 'ui' && o !== 'workflow');
        return {
          delivered: { ui: counter('ui'), workflow: counter('workflow') },
          latencyObservations: { ui: latency('ui'), workflow: latency('workflow') },
          deliveredOtherOrigins: otherOrigins.reduce((sum, o) => sum + counter(o), 0),
          latencyOtherOrigins: otherOrigins.reduce((sum, o) => sum + latency(o), 0),
          deliverNotForwarded:
            receiver.latestSum(METRIC.STAGE_EVENTS, { [ATTR.STAGE]: 'deliver' }, 'twenty-server') -
            counter('ui') -
            counter('workflow'),
          // what the publishing side put on the wire: UI events from the server, workflow events from the worker
          published: {
            ui: receiver.latestSum(
              METRIC.STAGE_EVENTS,
              { [ATTR.STAGE]: 'pubsub', [ATTR.ORIGIN]: 'ui', [ATTR.OUTCOME]: 'forwarded' },
              'twenty-server',
            ),
            workflow: receiver.latestSum(
              METRIC.STAGE_EVENTS,
              { [ATTR.STAGE]: 'pubsub', [ATTR.ORIGIN]: 'workflow', [ATTR.OUTCOME]: 'forwarded' },
              'twenty-worker',
            ),
          },
        };
      };
      const expected = {
        delivered: received,
        latencyObservations: received,
        deliveredOtherOrigins: 0,
        latencyOtherOrigins: 0,
        deliverNotForwarded: 0,
        published: received,
      };
      const matches = (value: ReturnType<typeof read>) => JSON.stringify(value) === JSON.stringify(expected);
      await pollUntil(read, matches, {
        timeoutMs: 15_000,
        what: 'the server metrics to equal the SSE deliveries',
        describe: (value) => `got ${JSON.stringify(value)}, want ${JSON.stringify(expected)}`,
      });
      // and they stay there: three more export intervals, no late over-count
      await new Promise((resolve) => setTimeout(resolve, 1_600));
      expect(read()).toEqual(expected);

      // the pipeline's own accounting held on both sides
      expect(receiver.latestSum(METRIC.STAGE_EVENTS, { [ATTR.DROP_REASON]: 'unattributed' })).toBe(0);
      expect(receiver.latestSum(METRIC.INSTRUMENTATION_ERRORS)).toBe(0);
    });
  },
);
