// Compiled exports are getter-only (as in Twenty's SWC output), so faults are injected through module mocks.
let mockFault: string | undefined;
function mockFaulty<T extends (...args: never[]) => unknown>(name: string, actual: T): T {
  return ((...args: never[]) => {
    if (mockFault === name) throw new Error(`${name} bug`);
    return actual(...args);
  }) as T;
}
jest.mock('../../src/twenty/rules', () => {
  const actual = jest.requireActual('../../src/twenty/rules');
  return { ...actual, classifyFilterMatchStream: mockFaulty('classifier', actual.classifyFilterMatchStream) };
});
jest.mock('../../src/engine/ids', () => {
  const actual = jest.requireActual('../../src/engine/ids');
  return { ...actual, presentId: mockFaulty('extractor', actual.presentId) };
});
jest.mock('../../src/engine/carrier', () => {
  const actual = jest.requireActual('../../src/engine/carrier');
  return { ...actual, buildCarrier: mockFaulty('carrier', actual.buildCarrier) };
});
import type { TwentyLikeApp } from '../../example/harness';
import { Instrumenter } from '../../src/twenty/instrumenter';
import { originalOf } from '../../src/engine/wrap';
import { instrumentNestInProcess } from '../helpers/in-process';
import { makeTestTelemetry } from '../helpers/telemetry';

/**
 * Faults inside the instrumentation (a classifier or an attribute extractor
 * that throws, a carrier builder that throws) and shapes from a future Twenty:
 * what Twenty returns, throws and publishes stays identical; each fault is
 * counted in twenty.sse.instrumentation.errors.
 */
const instrumented = instrumentNestInProcess();
let app: TwentyLikeApp;

beforeAll(async () => {
  const { startTwentyLikeApp } = await import('../../example/harness');
  app = await startTwentyLikeApp({ generation: 'v5', mode: 'single', redisUrl: process.env.REDIS_URL });
});
afterAll(async () => {
  await app?.close();
});
afterEach(() => {
  mockFault = undefined;
});

async function scenario() {
  const { workspaceId } = await app.seed.workspace();
  const admin = await app.seed.user({ workspaceId });
  const company = await app.seed.record({
    workspaceId,
    objectNameSingular: 'company',
    data: { name: 'Acme', stage: 'LEAD' },
  });
  const stream = await app.streams.createStreamState({
    workspaceId,
    authContext: { userId: admin.userId, userWorkspaceId: admin.userWorkspaceId },
    queries: { table: { objectNameSingular: 'company', variables: { filter: {} } } },
    listen: true,
  });
  // a second tab watching another object: its events are dropped, so the drop rules are asked
  // (a stream whose every event was published is counted without them)
  await app.streams.createStreamState({
    workspaceId,
    authContext: { userId: admin.userId, userWorkspaceId: admin.userWorkspaceId },
    queries: { table: { objectNameSingular: 'person', variables: { filter: {} } } },
    listen: true,
  });
  const before = app.readGroundTruth().length;
  const updated = await app.ui.updateRecord({
    token: admin.token,
    objectNameSingular: 'company',
    id: company.id,
    data: { name: 'Renamed' },
  });
  const run = await app.workflows.runAutomatic({
    workspaceId,
    steps: [app.workflows.steps.updateRecord('company', company.id, { name: 'By workflow' })],
  });
  await app.settle();
  const published = stream.published.map((payload) =>
    JSON.parse(JSON.stringify(payload, (key, value) => (key === '__twentySseOtel' ? undefined : value))),
  );
  const truth = app
    .readGroundTruth()
    .slice(before)
    .map(({ kind, origin, count }) => ({ kind, origin, count }))
    // the two streams are visited in the order Redis lists them, which differs from run to run
    .sort((a, b) => `${a.origin} ${a.kind} ${a.count}`.localeCompare(`${b.origin} ${b.kind} ${b.count}`));
  return {
    updated: { name: updated?.name },
    status: run.status,
    published: published.map((p: { event: { action: string; properties: { updatedFields: string[] } } }[]) =>
      p.map((item) => ({ action: item.event.action, updatedFields: item.event.properties.updatedFields })),
    ),
    truth,
  };
}

describe('faults inside the instrumentation', () => {
  let baseline: Awaited<ReturnType<typeof scenario>>;
  beforeAll(async () => {
    baseline = await scenario();
    expect(baseline.published).toHaveLength(2);
  });

  it.each([
    ['the stream classifier', 'classifier'],
    ['the id attribute extractor', 'extractor'],
    ['the carrier builder', 'carrier'],
  ])('%s throws: Twenty behaves the same and the fault is counted', async (_name, fault) => {
    const faultsBefore = instrumented.telemetry.faultCount();
    const errorsBefore = (await instrumented.metricPoints('twenty.sse.instrumentation.errors')).reduce(
      (s, p) => s + (p.value as number),
      0,
    );
    mockFault = fault;
    const faulty = await scenario();
    mockFault = undefined;
    expect(faulty).toEqual(baseline);
    const faultsAfter = instrumented.telemetry.faultCount();
    expect(faultsAfter).toBeGreaterThan(faultsBefore);
    const errorsAfter = (await instrumented.metricPoints('twenty.sse.instrumentation.errors')).reduce(
      (s, p) => s + (p.value as number),
      0,
    );
    expect(errorsAfter - errorsBefore).toBe(faultsAfter - faultsBefore);
  });
});

describe('shapes from another Twenty version', () => {
  it('unexpected argument shapes pass straight through: same return, same throw', async () => {
    const { WorkspaceEventEmitterService } =
      await import('../../example/twenty/generations/v5/engine/workspace-event-emitter/workspace-event-emitter.service');
    const proto = WorkspaceEventEmitterService.prototype as unknown as Record<string, (...args: unknown[]) => unknown>;
    const self = { eventStreamService: { getActiveStreamIds: async () => [] } };
    for (const args of [
      [],
      [null],
      [{ future: true }],
      ['channel', undefined, 42],
      [{ streamChannelId: 'x', nope: 1 }],
    ]) {
      for (const method of ['publish', 'publishToEventStreams', 'processStreamEvents']) {
        const wrapped = proto[method];
        const original = originalOf(wrapped);
        const outcome = async (fn: (...a: unknown[]) => unknown) => {
          try {
            return { value: await fn.apply(self, args) };
          } catch (error) {
            return { error: `${(error as Error).constructor.name}: ${(error as Error).message}` };
          }
        };
        expect(await outcome(wrapped)).toEqual(await outcome(original));
      }
    }
  });

  it('a forced generation whose classes are absent: the startup report names what is missing', () => {
    const test = makeTestTelemetry({ generation: 'publisher' });
    const instrumenter = new Instrumenter(test.telemetry);
    class WorkspaceEventEmitterService {
      publish() {}
      publishToEventStreams() {}
      processStreamEvents() {}
    }
    instrumenter.instrumentClass(WorkspaceEventEmitterService);
    const report = instrumenter.report();
    expect(report.line).toMatch(
      /^generation publisher \(forced\); \d+ targets found, \d+ missing \(.*ObjectRecordEventPublisher\.publish/,
    );
    expect(report.lines.filter((l) => l.status === 'missing').map((l) => `${l.className}.${l.method}`)).toEqual(
      expect.arrayContaining([
        'ObjectRecordEventPublisher.publish',
        'ObjectRecordEventPublisher.processObjectRecordStreamEvents',
        'SubscriptionService.publishToEventStream',
      ]),
    );
  });

  it('a Twenty class that lost a method: reported missing, the rest still instrumented', async () => {
    const test = makeTestTelemetry();
    const instrumenter = new Instrumenter(test.telemetry);
    class WorkspaceEventEmitterService {
      publish() {}
      publishToEventStreams() {}
      processStreamEvents() {}
      fetchPermissionsContext() {}
      filterRestrictedFieldsFromEvent() {}
    }
    instrumenter.instrumentClass(WorkspaceEventEmitterService);
    const report = instrumenter.report();
    expect(report.generation).toBe('v5');
    const missing = report.lines.filter((l) => l.status === 'missing').map((l) => `${l.className}.${l.method}`);
    expect(missing).toContain('WorkspaceEventEmitterService.getMatchingObjectRecordQueryIds|getMatchingQueryIds');
    expect(report.lines.find((l) => l.method === 'processStreamEvents')?.status).toBe('found');
    const targets = await test.metricPoints('twenty.sse.instrumentation.targets');
    expect(targets.some((p) => p.attributes['twenty.sse.target.status'] === 'missing')).toBe(true);
  });
});
