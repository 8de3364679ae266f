import { STAGES } from '../../src/semconv';
import { instrumentNestInProcess, useTwentyLikeApp } from '../helpers/in-process';

/**
 * The situation this package was built for: one table open in a browser (a real SSE stream
 * over HTTP), UI updates and workflow updates on that table, and a second
 * subscriber (an API-key stream: no userWorkspaceId) that hits a
 * subscriber-side drop. Every stage's counters, by origin, must equal what we
 * compute by hand from the pipeline's shape.
 */
const UI_UPDATES = 4;
const WORKFLOW_UPDATES = 3;

type Expected = Record<string, number>;

function handComputed(generation: 'v5' | 'publisher'): Expected {
  const expected: Expected = {};
  const put = (stage: string, origin: string, outcome: string, count: number, reason = '') => {
    expected[`${stage}|${origin}|${outcome}|${reason}`] = count;
  };
  // one record-mutating step per workflow update, each emitting one event
  put('workflow_step', 'workflow', 'forwarded', WORKFLOW_UPDATES);
  for (const [origin, n] of [
    ['ui', UI_UPDATES],
    ['workflow', WORKFLOW_UPDATES],
  ] as const) {
    for (const stage of ['emit', 'listen', 'publish', 'fanout']) put(stage, origin, 'forwarded', n);
    // two active streams: the browser's (forwarded) and the API key's (subscriber-side drop)
    put('stream', origin, 'forwarded', n);
    put('stream', origin, 'dropped', n, 'subscriber_without_user_workspace');
    put('pubsub', origin, 'forwarded', n);
    if (generation === 'v5') put('legacy_pubsub', origin, 'forwarded', n);
    // the browser's SSE connection receives one payload per event, origin read from the carrier
    put('deliver', origin, 'forwarded', n);
  }
  return expected;
}

// One instrumentation per jest worker: shared classes are patched once, by it.
const instrumented = instrumentNestInProcess();

describe.each(['v5', 'publisher'] as const)('the seed situation, generation %s', (generation) => {
  const currentApp = useTwentyLikeApp(generation);

  it('per-stage counters by origin equal the hand-computed expectation exactly', async () => {
    const workspace = await currentApp().seed.workspace();
    const { workspaceId } = workspace;
    const admin = await currentApp().seed.user({ workspaceId });
    const company = await currentApp().seed.record({
      workspaceId,
      objectNameSingular: 'company',
      data: { name: 'Acme', stage: 'LEAD' },
    });
    const browser = await currentApp().streams.open({ token: admin.token, workspaceId });
    await browser.addQuery({
      queryId: 'record-table-virtualized-company',
      operationSignature: { objectNameSingular: 'company', variables: { filter: {} } },
    });
    const { apiKeyId } = await currentApp().seed.apiKey({ workspaceId });
    await currentApp().streams.createStreamState({
      workspaceId,
      authContext: { apiKeyId },
      queries: { 'record-table-virtualized-company': { objectNameSingular: 'company', variables: { filter: {} } } },
    });
    await currentApp().settle();
    instrumented.telemetry.resetTally();

    for (let i = 0; i < UI_UPDATES; i++) {
      await currentApp().ui.updateRecord({
        token: admin.token,
        objectNameSingular: 'company',
        id: company.id,
        data: { name: `UI ${i}` },
      });
    }
    for (let i = 0; i < WORKFLOW_UPDATES; i++) {
      await currentApp().workflows.runAutomatic({
        workspaceId,
        steps: [currentApp().workflows.steps.updateRecord('company', company.id, { name: `Workflow ${i}` })],
      });
    }
    await browser.waitForEvents((events) => events.length >= UI_UPDATES + WORKFLOW_UPDATES);
    await currentApp().settle();
    browser.close();

    const observed: Expected = {};
    for (const row of instrumented.telemetry.tallyRows()) {
      observed[`${row.stage}|${row.origin}|${row.outcome}|${row.reason ?? ''}`] = row.count;
    }
    expect(observed).toEqual(handComputed(generation));
    expect(browser.events()).toHaveLength(UI_UPDATES + WORKFLOW_UPDATES);
    expect(Object.keys(observed).every((key) => STAGES.includes(key.split('|')[0] as never))).toBe(true);
  });
});
