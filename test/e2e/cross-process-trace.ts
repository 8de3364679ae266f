/**
 * The cross-process trace tests, shared by cross-process.test.ts (v5 and
 * publisher: the bare-array and the object payload, the two shapes the carrier rides on) and
 * cross-process-v1-v8.test.ts. For one generation:
 * - an automatic workflow run in the worker gives ONE trace: workflow_step,
 *   emit, listen, publish, fanout, stream, pubsub spans from twenty-worker and
 *   the deliver span from twenty-server, deliver's parent = the pubsub span;
 * - a UI mutation (REST, handled by the server) gives one trace, all spans
 *   from twenty-server, same parentage;
 * - `twenty.sse.stage.events` arrives from both services, and both processes
 *   print the startup report line: 0 missing targets in the worker, only the
 *   workflow ones in the server (whose Nest never registers them);
 * - both processes still end on SIGTERM.
 */

import { type TwentyLikeApp } from '../../example/harness';
import { presentId } from '../../src/engine/ids';
import { ATTR, METRIC, STAGES } from '../../src/semconv';
import { useInstrumentedDeployment } from '../helpers/instrumented-deployment';
import { type ReceivedSpan } from '../helpers/otlp-receiver';
import { type AppBuild, type Deployment, type Generation, pollUntil } from '../helpers/processes';

// OTLP span kinds
const SPAN_KIND_PRODUCER = 4;
const SPAN_KIND_CONSUMER = 5;

const stageOf = (span: ReceivedSpan) => span.attributes[ATTR.STAGE] as string | undefined;

/** The ancestors of a span within its trace, nearest first. */
function ancestors(span: ReceivedSpan, trace: ReceivedSpan[]): ReceivedSpan[] {
  const byId = new Map(trace.map((s) => [s.spanId, s]));
  const chain: ReceivedSpan[] = [];
  let current = span.parentSpanId ? byId.get(span.parentSpanId) : undefined;
  while (current && chain.length < 100) {
    chain.push(current);
    current = current.parentSpanId ? byId.get(current.parentSpanId) : undefined;
  }
  return chain;
}

/** Is `wanted` a subsequence of `stages`? */
function isSubsequence(wanted: string[], stages: string[]): boolean {
  let index = 0;
  for (const stage of stages) if (stage === wanted[index]) index++;
  return index === wanted.length;
}

/**
 * Registers, per generation, the cross-process trace tests: a deployment of the
 * two instrumented processes on that generation's own Redis database, and a
 * client that seeds, mutates and subscribes.
 */
export function describeCrossProcessTrace(generations: ({ generation: Generation; db: number } & AppBuild)[]): void {
  const label = (build: AppBuild) =>
    build.nest || build.moduleSystem
      ? ` (Nest ${build.nest ?? 11}, ${build.moduleSystem === 'esm' ? 'ESM' : 'CommonJS'} app)`
      : '';
  describe.each(generations.map((entry) => ({ ...entry, on: label(entry) })))(
    'cross-process trace context, generation $generation$on',
    ({ generation, db, nest, moduleSystem }) => {
      const env = useInstrumentedDeployment({
        generation,
        db,
        tmpPrefix: 'cross-process-',
        build: { nest, moduleSystem },
      });
      const { receiver } = env;
      let client: TwentyLikeApp | undefined;
      let deployment: Deployment | undefined;
      beforeAll(() => {
        ({ client, deployment } = env);
      });

      /** A workspace with one user, one company and that user's SSE stream watching companies. */
      async function seedCompanyWithStream(app: TwentyLikeApp) {
        const { workspaceId } = await app.seed.workspace();
        const user = await app.seed.user({ workspaceId });
        const company = await app.seed.record({
          workspaceId,
          objectNameSingular: 'company',
          data: { name: 'Acme', stage: 'LEAD' },
        });
        const stream = await app.streams.open({ token: user.token });
        expect(
          await stream.addQuery({ queryId: 'companies', operationSignature: { objectNameSingular: 'company' } }),
        ).toBe(true);
        return { workspaceId, user, company, stream };
      }

      /**
       * Every span of the trace that holds the emit span of this workspace's mutation, once it is complete: every
       * wanted stage is there and the tree is closed (one true root, every other span's parent received). Spans are
       * exported in batches as they end, and the root (e.g. RunWorkflowJob.handle) ends last.
       */
      async function traceOfWorkspace(workspaceId: string, wantedStages: string[]): Promise<ReceivedSpan[]> {
        const workspaceHash = presentId(workspaceId, 'hashed');
        const complete = (trace: ReceivedSpan[]) => {
          const ids = new Set(trace.map((s) => s.spanId));
          return (
            wantedStages.every((stage) => trace.some((s) => stageOf(s) === stage)) &&
            trace.filter((s) => !s.parentSpanId).length === 1 &&
            trace.every((s) => !s.parentSpanId || ids.has(s.parentSpanId))
          );
        };
        return pollUntil(
          () => {
            const emit = receiver.spans.find(
              (s) => stageOf(s) === 'emit' && s.attributes[ATTR.WORKSPACE_ID] === workspaceHash,
            );
            if (!emit) return [];
            return receiver.spans.filter((s) => s.traceId === emit.traceId);
          },
          complete,
          {
            timeoutMs: 20_000,
            what: `the complete trace of workspace ${workspaceId} (${wantedStages.join(', ')})`,
            describe: (trace) =>
              `${trace.map((s) => `${s.service}:${stageOf(s)}:${s.name}:${s.spanId}<-${s.parentSpanId ?? 'root'}`).join('\n')}\n${deployment?.output()}`,
          },
        );
      }

      function expectDeliverUnderPubsub(
        trace: ReceivedSpan[],
        producerService: string,
      ): { deliver: ReceivedSpan; pubsub: ReceivedSpan } {
        const delivers = trace.filter((s) => stageOf(s) === 'deliver');
        const pubsubs = trace.filter((s) => stageOf(s) === 'pubsub');
        // one stream open: one publish to it, one delivery from it
        expect(delivers).toHaveLength(1);
        expect(pubsubs).toHaveLength(1);
        const [deliver] = delivers;
        const [pubsub] = pubsubs;
        expect(pubsub.service).toBe(producerService);
        expect(pubsub.kind).toBe(SPAN_KIND_PRODUCER);
        expect(deliver.service).toBe('twenty-server');
        expect(deliver.kind).toBe(SPAN_KIND_CONSUMER);
        expect(deliver.traceId).toBe(pubsub.traceId);
        expect(deliver.parentSpanId).toBe(pubsub.spanId);
        expect(deliver.links).toEqual(expect.arrayContaining([{ traceId: pubsub.traceId, spanId: pubsub.spanId }]));
        expect(deliver.attributes[ATTR.MESSAGING_SYSTEM]).toBe('redis');
        expect(pubsub.attributes[ATTR.MESSAGING_SYSTEM]).toBe('redis');
        return { deliver, pubsub };
      }

      function expectWellFormedTrace(trace: ReceivedSpan[]): void {
        // every span carries a stage of the closed set, and there is exactly one root
        for (const span of trace) expect(STAGES as readonly string[]).toContain(stageOf(span));
        const ids = new Set(trace.map((s) => s.spanId));
        const roots = trace.filter((s) => !s.parentSpanId || !ids.has(s.parentSpanId));
        expect(roots.map((s) => `${s.service}:${stageOf(s)}:${s.name}`)).toHaveLength(1);
        expect(roots[0].parentSpanId).toBeUndefined();
      }

      it('an automatic workflow run in the worker is one trace from workflow_step to deliver in the server', async () => {
        const app = client!;
        const { workspaceId, company, stream } = await seedCompanyWithStream(app);

        const run = await app.workflows.runAutomatic({
          workspaceId,
          steps: [app.workflows.steps.updateRecord('company', company.id, { name: 'Acme WF' })],
        });
        expect(run.status).toBe('COMPLETED');
        const events = await stream.waitForEvents((received) => received.length >= 1, 10_000);
        expect(events).toHaveLength(1);
        expect(events[0].event.recordId).toBe(company.id);
        expect(events[0].event.userId ?? null).toBeNull();

        const wanted = ['workflow_step', 'emit', 'listen', 'publish', 'fanout', 'stream', 'pubsub'];
        const trace = await traceOfWorkspace(workspaceId, [...wanted, 'deliver']);
        expectWellFormedTrace(trace);

        for (const stage of wanted) {
          const spans = trace.filter((s) => stageOf(s) === stage);
          expect({ stage, count: spans.length }).toEqual({ stage, count: expect.any(Number) });
          expect(spans.length).toBeGreaterThan(0);
          for (const span of spans) {
            expect({ stage, service: span.service }).toEqual({ stage, service: 'twenty-worker' });
            expect({ stage, origin: span.attributes[ATTR.ORIGIN] }).toEqual({ stage, origin: 'workflow' });
          }
        }
        // everything but deliver ran in the worker
        expect(trace.filter((s) => s.service !== 'twenty-worker').map(stageOf)).toEqual(['deliver']);

        const { deliver, pubsub } = expectDeliverUnderPubsub(trace, 'twenty-worker');
        expect(deliver.attributes[ATTR.ORIGIN]).toBe('workflow');
        expect(deliver.attributes[ATTR.OUTCOME]).toBe('forwarded');
        expect(deliver.attributes[ATTR.EVENTS_FORWARDED]).toBe(1);
        expect(pubsub.attributes[ATTR.WORKFLOW_RUN_ID]).toBe(run.workflowRunId);
        expect(
          trace.some((s) => s.attributes[ATTR.WORKFLOW_RUN_ID] === run.workflowRunId && stageOf(s) === 'workflow_step'),
        ).toBe(true);

        // the causal chain, read from deliver up to the root
        const chain = [deliver, ...ancestors(deliver, trace)].map((s) => stageOf(s) as string);
        expect(
          isSubsequence(['deliver', 'pubsub', 'stream', 'fanout', 'publish', 'listen', 'emit', 'workflow_step'], chain),
        ).toBe(true);
        expect(chain[chain.length - 1]).toBe('workflow_step');
      });

      it('a UI mutation handled by the server is one trace, all spans from twenty-server', async () => {
        const app = client!;
        const { workspaceId, user, company, stream } = await seedCompanyWithStream(app);

        await app.ui.updateRecord({
          token: user.token,
          objectNameSingular: 'companies',
          id: company.id,
          data: { name: 'Acme UI' },
        });
        const events = await stream.waitForEvents((received) => received.length >= 1, 10_000);
        expect(events).toHaveLength(1);
        expect(events[0].event.userId).toBe(user.userId);

        const wanted = ['emit', 'listen', 'publish', 'fanout', 'stream', 'pubsub', 'deliver'];
        const trace = await traceOfWorkspace(workspaceId, wanted);
        expectWellFormedTrace(trace);
        for (const stage of wanted) {
          expect({ stage, present: trace.some((s) => stageOf(s) === stage) }).toEqual({ stage, present: true });
        }
        expect(new Set(trace.map((s) => s.service))).toEqual(new Set(['twenty-server']));
        expect(trace.filter((s) => stageOf(s) === 'workflow_step')).toEqual([]);
        for (const span of trace)
          expect({ stage: stageOf(span), origin: span.attributes[ATTR.ORIGIN] }).toEqual({
            stage: stageOf(span),
            origin: 'ui',
          });

        const { deliver } = expectDeliverUnderPubsub(trace, 'twenty-server');
        const chain = [deliver, ...ancestors(deliver, trace)].map((s) => stageOf(s) as string);
        expect(isSubsequence(['deliver', 'pubsub', 'stream', 'fanout', 'publish', 'listen', 'emit'], chain)).toBe(true);
        expect(chain[chain.length - 1]).toBe('emit');
      });

      it('both processes export twenty.sse.stage.events over OTLP and print the startup report', async () => {
        // after the two tests above: the worker published workflow events, the server delivered both origins
        const worker = () =>
          receiver.latestSum(
            METRIC.STAGE_EVENTS,
            { [ATTR.STAGE]: 'pubsub', [ATTR.ORIGIN]: 'workflow', [ATTR.OUTCOME]: 'forwarded' },
            'twenty-worker',
          );
        const serverWorkflow = () =>
          receiver.latestSum(
            METRIC.STAGE_EVENTS,
            { [ATTR.STAGE]: 'deliver', [ATTR.ORIGIN]: 'workflow', [ATTR.OUTCOME]: 'forwarded' },
            'twenty-server',
          );
        const serverUi = () =>
          receiver.latestSum(
            METRIC.STAGE_EVENTS,
            { [ATTR.STAGE]: 'pubsub', [ATTR.ORIGIN]: 'ui', [ATTR.OUTCOME]: 'forwarded' },
            'twenty-server',
          );
        const deliveredUi = () =>
          receiver.latestSum(
            METRIC.STAGE_EVENTS,
            { [ATTR.STAGE]: 'deliver', [ATTR.ORIGIN]: 'ui', [ATTR.OUTCOME]: 'forwarded' },
            'twenty-server',
          );
        const read = () => ({
          worker: worker(),
          serverWorkflow: serverWorkflow(),
          serverUi: serverUi(),
          deliveredUi: deliveredUi(),
        });
        const values = await pollUntil(
          read,
          (v) => v.worker >= 1 && v.serverWorkflow >= 1 && v.serverUi >= 1 && v.deliveredUi >= 1,
          {
            what: 'twenty.sse.stage.events from both services',
            describe: (v) => JSON.stringify(v),
          },
        );
        expect(values).toEqual({ worker: 1, serverWorkflow: 1, serverUi: 1, deliveredUi: 1 });
        // the worker never delivers, the server never runs workflow steps
        expect(receiver.latestSum(METRIC.STAGE_EVENTS, { [ATTR.STAGE]: 'deliver' }, 'twenty-worker')).toBe(0);
        expect(receiver.latestSum(METRIC.STAGE_EVENTS, { [ATTR.STAGE]: 'workflow_step' }, 'twenty-server')).toBe(0);
        expect(receiver.latestSum(METRIC.STAGE_EVENTS, { [ATTR.DROP_REASON]: 'unattributed' })).toBe(0);
        expect(receiver.latestSum(METRIC.INSTRUMENTATION_ERRORS)).toBe(0);

        const nestHooked = `; Nest ${nest ?? 11}\\.\\d+\\.\\d+ hooked`;
        const found = `\\[twenty-sse-otel\\] generation ${generation} \\(detected\\); [1-9]\\d* targets found`;
        // the server's Nest never registers the workflow classes: those, and only those, are missing there
        const workflowOnly =
          ' \\(RunWorkflowJob\\.handle, WorkflowExecutorWorkspaceService\\.executeStep, \\*WorkflowAction\\.execute; workflow targets exist only in the queue worker\\)';
        expect(deployment!.server.stderr()).toMatch(new RegExp(`${found}, 3 missing${workflowOnly}${nestHooked}`));
        expect(deployment!.worker.stderr()).toMatch(new RegExp(`${found}, 0 missing${nestHooked}`));
      });

      it('with the register entry, both processes still end on SIGTERM (no SIGKILL needed)', async () => {
        await client?.close();
        client = undefined;
        const [server, worker] = await Promise.all([deployment!.server.stop(), deployment!.worker.stop()]);
        for (const exit of [server, worker])
          expect([
            { code: null, signal: 'SIGTERM' },
            { code: 0, signal: null },
          ]).toContainEqual(exit);
      });
    },
  );
}
