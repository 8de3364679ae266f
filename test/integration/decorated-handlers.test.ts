import { wrapMethod, Invocation } from '../../src/engine/wrap';
import { instrumentNestInProcess, useTwentyLikeApp } from '../helpers/in-process';

/**
 * The wrapper keeps Reflect metadata, so decorated handlers keep firing: we
 * wrap (on top of the instrumentation) every @OnEvent handler of
 * EntityEventsToDbListener, the @Subscription/@Mutation resolver methods and
 * RunWorkflowJob's @Process handler before Nest scans them, then check that
 * Nest still routes events, jobs and the SSE subscription through them.
 */
const DECORATED: Record<string, string[]> = {
  EntityEventsToDbListener: ['handleCreate', 'handleUpdate', 'handleDelete', 'handleRestore', 'handleDestroy'],
  EventStreamResolver: ['onEventSubscription', 'addQueryToEventStream'],
  WorkspaceEventEmitterResolver: ['onEventSubscription', 'addQueryToEventStream'],
  RunWorkflowJob: ['handle'],
};

const calls = new Map<string, number>();
const instrumented = instrumentNestInProcess();

const scanner = require('@nestjs/core/scanner');
const originalInsertProvider = scanner.DependenciesScanner.prototype.insertProvider;
scanner.DependenciesScanner.prototype.insertProvider = function (provider: unknown, token: string) {
  const cls = typeof provider === 'function' ? (provider as Function) : (provider as { useClass?: Function })?.useClass;
  for (const method of (cls && DECORATED[cls.name]) ?? []) {
    wrapMethod(
      cls!.prototype,
      method,
      `${cls!.name}.${method}`,
      (): Invocation => ({
        run: (call) => {
          calls.set(`${cls!.name}.${method}`, (calls.get(`${cls!.name}.${method}`) ?? 0) + 1);
          return call();
        },
        onReturn: () => undefined,
        onThrow: () => undefined,
      }),
      () => undefined,
    );
  }
  return originalInsertProvider.call(this, provider, token);
};

describe.each(['v5', 'publisher'] as const)('decorated handlers after wrapping, generation %s', (generation) => {
  beforeAll(() => calls.clear());
  const currentApp = useTwentyLikeApp(generation);

  it('@OnEvent listeners, the @Process job handler and the @Subscription resolver still fire', async () => {
    const { workspaceId } = await currentApp().seed.workspace();
    const admin = await currentApp().seed.user({ workspaceId });
    const stream = await currentApp().streams.open({ token: admin.token, workspaceId });
    await stream.addQuery({
      queryId: 'table',
      operationSignature: { objectNameSingular: 'company', variables: { filter: {} } },
    });
    const created = await currentApp().ui.createRecord({
      token: admin.token,
      objectNameSingular: 'company',
      data: { name: 'Fresh' },
    });
    await currentApp().workflows.runAutomatic({
      workspaceId,
      steps: [currentApp().workflows.steps.updateRecord('company', created!.id as string, { name: 'By workflow' })],
    });
    await stream.waitForEvents((events) => events.length >= 2);
    stream.close();
    await currentApp().settle();

    const resolver = generation === 'publisher' ? 'EventStreamResolver' : 'WorkspaceEventEmitterResolver';
    expect(calls.get(`${resolver}.onEventSubscription`)).toBeGreaterThanOrEqual(1);
    expect(calls.get(`${resolver}.addQueryToEventStream`)).toBeGreaterThanOrEqual(1);
    expect(calls.get('EntityEventsToDbListener.handleCreate')).toBeGreaterThanOrEqual(1);
    expect(calls.get('EntityEventsToDbListener.handleUpdate')).toBeGreaterThanOrEqual(1);
    expect(calls.get('RunWorkflowJob.handle')).toBeGreaterThanOrEqual(1);
    expect(stream.events().map((e) => e.event.action)).toEqual(['created', 'updated']);
    // and the instrumentation saw the listener and the job through the same wrappers
    const rows = instrumented.telemetry.tallyRows();
    expect(rows.some((r) => r.stage === 'listen' && r.origin === 'ui')).toBe(true);
    expect(rows.some((r) => r.stage === 'workflow_step' && r.outcome === 'forwarded')).toBe(true);
  });

  it('the decorated methods really are wrappers (so the test above can fail)', () => {
    expect([...calls.keys()].sort()).toEqual(
      expect.arrayContaining(['EntityEventsToDbListener.handleCreate', 'RunWorkflowJob.handle']),
    );
  });
});
