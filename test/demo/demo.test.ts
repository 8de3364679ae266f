import { spawn } from 'child_process';
import { existsSync } from 'fs';
import path from 'path';

import Ajv from 'ajv';

import schema from './report.schema.json';

/**
 * The demo as a user runs it: `node dist/demo/demo.js ...` (and once
 * `npm run demo`), on the Node binary under test. The expectations below are
 * the tests' own: which stage, drop reason and Twenty method each scenario must
 * name, per generation.
 */

const ROOT = path.resolve(__dirname, '../..');
const DEMO = path.join(ROOT, 'dist/demo/demo.js');
const NODE = process.env.TEST_NODE_BIN ?? process.execPath;
const EVENTS = 4;
const CONCURRENCY = 4;

type Generation = 'v1' | 'v5' | 'v8' | 'publisher' | 'record_share' | 'record_access';
type Origin = 'workflow' | 'ui';
type Cell = {
  entered: number;
  forwarded: number;
  failed: number;
  dropped: number;
  dropsByReason: Record<string, number>;
};
type DemoJson = {
  scenario: string;
  generation: Generation;
  events: number;
  conditionInGeneration: boolean;
  instrumentation: {
    startupReport: string;
    missingTargets: string[];
    faults: number;
    subscriberCountNote: string | null;
  };
  connections: {
    opened: number;
    active: number;
    closed: Record<string, number>;
    resubscriptions: Record<string, number>;
    lateEvents: Record<string, number>;
    lifetimes: { count: number; maxSeconds: number };
  };
  report: {
    generation?: Generation;
    stages: { stage: string; byOrigin: Record<string, Cell> }[];
    firstDivergence?: { stage: string; workflowLossRatio: number; uiLossRatio: number; topReason?: string };
    diagnosis: {
      stage: string;
      origin: string;
      reason: string;
      count: number;
      code: string;
      file: string;
      method: string;
      condition: string;
    }[];
    healthy: boolean;
  };
  browser: {
    streamsOpen: number;
    ui: { sent: number; received: number };
    workflow: { sent: number; received: number };
  };
  traces: {
    lostWorkflowTraceIds: string[];
    workflowFailures: { stage: string; method: string; errorType: string; events: number; propagatedTo: string[] }[];
  };
  metrics: { stageEventsCounterTotal: number; tallyTotal: number };
  groundTruth: {
    emitted: Record<string, number>;
    rows: { stage: string; origin: string; outcome: string; reason?: string; count: number }[];
  };
};

type Run = { code: number | null; stdout: string; stderr: string };

// The demo must not depend on the caller's environment; CI sets REDIS_URL for other suites.
const cleanEnv = (extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extra };

  for (const key of Object.keys(env)) {
    if (key.startsWith('TWENTY_SSE_OTEL_') || key.startsWith('EXAMPLE_')) delete env[key];
  }
  if (!('REDIS_URL' in extra)) delete env.REDIS_URL;
  delete env.NODE_OPTIONS;

  return env;
};

const spawnCollect = (
  command: string,
  args: string[],
  options: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<Run> =>
  new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: ROOT,
      env: options.env ?? cleanEnv(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000);

    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });

const runDemo = (args: string[], env?: NodeJS.ProcessEnv) => spawnCollect(NODE, [DEMO, ...args], { env });

const pool = async <T, R>(items: T[], limit: number, work: (item: T) => Promise<R>): Promise<R[]> => {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;

      results[index] = await work(items[index]);
    }
  };

  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));

  return results;
};

// --- expectations --------------------------------------------------------------------------------

type ExpectedDrop = { origin: Origin; stage: string; reason: string; code: string; method: string; count?: number };
type Expectation = {
  scenario: string;
  generation: Generation;
  /** object: the first divergence to name; null: none (workflow and UI lost alike, or nothing lost); undefined: not checked. */
  divergence?: { stage: string; reason?: string } | null;
  drops: ExpectedDrop[];
  failure?: { stage: string; method: string };
  received: { ui: number; workflow: number } | 'no stream';
};

const SERVICE = 'WorkspaceEventEmitterService';
const PUBLISHER = 'ObjectRecordEventPublisher';
const STREAM_METHOD: Record<Generation, string> = {
  v1: `${SERVICE}.processStreamEvents`,
  v5: `${SERVICE}.processStreamEvents`,
  v8: `${SERVICE}.processObjectRecordStreamEvents`,
  publisher: `${PUBLISHER}.processObjectRecordStreamEvents`,
  record_share: `${PUBLISHER}.processObjectRecordStreamEvents`,
  record_access: `${PUBLISHER}.processObjectRecordStreamEvents`,
};
const FANOUT_METHOD: Record<Generation, string> = {
  v1: `${SERVICE}.publishToEventStreams`,
  v5: `${SERVICE}.publishToEventStreams`,
  v8: `${SERVICE}.publishToEventStreams`,
  publisher: `${PUBLISHER}.publish`,
  record_share: `${PUBLISHER}.publish`,
  record_access: `${PUBLISHER}.publish`,
};

const both = (drop: Omit<ExpectedDrop, 'origin'>): ExpectedDrop[] => [
  { origin: 'workflow', ...drop },
  { origin: 'ui', ...drop },
];
const healthy = (scenario: string, generation: Generation): Expectation => ({
  scenario,
  generation,
  divergence: null,
  drops: [],
  received: { ui: EVENTS, workflow: EVENTS },
});

const EXPECTATIONS: Expectation[] = [
  ...(['v5', 'v8'] as const).map((generation): Expectation => ({
    scenario: 'workflow-leaves-filter',
    generation,
    divergence: { stage: 'stream', reason: 'no_matching_query' },
    drops: [
      {
        origin: 'workflow',
        stage: 'stream',
        reason: 'no_matching_query',
        code: 'D8',
        method: STREAM_METHOD[generation],
      },
    ],
    received: { ui: EVENTS, workflow: 0 },
  })),
  healthy('workflow-leaves-filter', 'v1'),
  healthy('workflow-leaves-filter', 'publisher'),
  healthy('healthy', 'v5'),
  healthy('healthy', 'publisher'),
  {
    scenario: 'subscriber-without-user-workspace',
    generation: 'v5',
    divergence: null,
    drops: both({ stage: 'stream', reason: 'subscriber_without_user_workspace', code: 'D4', method: STREAM_METHOD.v5 }),
    received: { ui: 0, workflow: 0 },
  },
  {
    scenario: 'subscriber-without-role',
    generation: 'v5',
    divergence: null,
    drops: both({ stage: 'stream', reason: 'subscriber_without_role', code: 'D5', method: STREAM_METHOD.v5 }),
    received: { ui: 0, workflow: 0 },
  },
  {
    scenario: 'subscriber-without-role',
    generation: 'publisher',
    divergence: null,
    drops: both({ stage: 'stream', reason: 'subscriber_without_role', code: 'D5', method: STREAM_METHOD.publisher }),
    received: { ui: 0, workflow: 0 },
  },
  ...(['v5', 'publisher'] as const).map((generation): Expectation => ({
    scenario: 'no-active-streams',
    generation,
    divergence: null,
    drops: both({ stage: 'fanout', reason: 'no_active_streams', code: 'D1', method: FANOUT_METHOD[generation] }),
    received: 'no stream',
  })),
  {
    scenario: 'stream-without-queries',
    generation: 'v5',
    divergence: null,
    drops: both({ stage: 'stream', reason: 'stream_without_queries', code: 'D3', method: FANOUT_METHOD.v5 }),
    received: { ui: 0, workflow: 0 },
  },
  {
    // The first event (a UI one) meets D2 and Twenty removes the stream id; every later event meets D1.
    scenario: 'stream-expired',
    generation: 'v5',
    drops: [
      { origin: 'ui', stage: 'stream', reason: 'stream_expired', code: 'D2', method: FANOUT_METHOD.v5, count: 1 },
      {
        origin: 'ui',
        stage: 'fanout',
        reason: 'no_active_streams',
        code: 'D1',
        method: FANOUT_METHOD.v5,
        count: EVENTS - 1,
      },
      { origin: 'workflow', stage: 'fanout', reason: 'no_active_streams', code: 'D1', method: FANOUT_METHOD.v5 },
    ],
    received: { ui: 0, workflow: 0 },
  },
  {
    scenario: 'workspace-mismatch',
    generation: 'v5',
    divergence: { stage: 'fanout', reason: 'no_active_streams' },
    drops: [{ origin: 'workflow', stage: 'fanout', reason: 'no_active_streams', code: 'D1', method: FANOUT_METHOD.v5 }],
    received: { ui: EVENTS, workflow: 0 },
  },
  ...(['rls-mismatch', 'query-mismatch'] as const).map((scenario): Expectation => ({
    scenario,
    generation: 'v5',
    divergence: { stage: 'stream', reason: 'no_matching_query' },
    drops: [{ origin: 'workflow', stage: 'stream', reason: 'no_matching_query', code: 'D8', method: STREAM_METHOD.v5 }],
    received: { ui: EVENTS, workflow: 0 },
  })),
  {
    scenario: 'object-not-readable',
    generation: 'v5',
    divergence: null,
    drops: both({ stage: 'stream', reason: 'object_not_readable', code: 'D6', method: STREAM_METHOD.v5 }),
    received: { ui: 0, workflow: 0 },
  },
  {
    scenario: 'restricted-fields-only',
    generation: 'v5',
    divergence: { stage: 'stream', reason: 'restricted_fields_only' },
    drops: [
      { origin: 'workflow', stage: 'stream', reason: 'restricted_fields_only', code: 'D7', method: STREAM_METHOD.v5 },
    ],
    received: { ui: EVENTS, workflow: 0 },
  },
  {
    scenario: 'record-share-denied',
    generation: 'publisher',
    divergence: null,
    drops: both({ stage: 'stream', reason: 'record_share_denied', code: 'D7b', method: STREAM_METHOD.publisher }),
    received: { ui: 0, workflow: 0 },
  },
  healthy('record-share-denied', 'v5'),
  {
    scenario: 'record-access-denied',
    generation: 'record_share',
    divergence: null,
    drops: both({
      stage: 'stream',
      reason: 'record_access_denied',
      code: 'N4',
      method: 'RecordAccessPolicyService.buildEventRecordShareGate',
    }),
    received: { ui: 0, workflow: 0 },
  },
  {
    scenario: 'record-access-denied',
    generation: 'record_access',
    divergence: null,
    drops: both({
      stage: 'stream',
      reason: 'record_access_denied',
      code: 'N2/N4',
      method: 'RecordAccessPolicyService.buildEventRecordAccessGate',
    }),
    received: { ui: 0, workflow: 0 },
  },
  healthy('record-access-denied', 'publisher'),
  {
    // the September 2026 early return before the gate (N1): same reason as D8, Twenty's newer code named
    scenario: 'query-mismatch',
    generation: 'record_access',
    drops: [
      {
        origin: 'workflow',
        stage: 'stream',
        reason: 'no_matching_query',
        code: "N1/D8'",
        method: STREAM_METHOD.record_access,
      },
    ],
    received: { ui: EVENTS, workflow: 0 },
  },
  {
    scenario: 'subscriber-application-inactive',
    generation: 'publisher',
    divergence: null,
    drops: both({
      stage: 'stream',
      reason: 'subscriber_application_inactive',
      code: "D4'",
      method: STREAM_METHOD.publisher,
    }),
    received: { ui: 0, workflow: 0 },
  },
  {
    scenario: 'not-emitted',
    generation: 'v5',
    divergence: { stage: 'workflow_step', reason: 'not_emitted' },
    drops: [
      {
        origin: 'workflow',
        stage: 'workflow_step',
        reason: 'not_emitted',
        code: '-',
        method: 'RecordWorkflowAction.execute',
      },
    ],
    received: { ui: EVENTS, workflow: 0 },
  },
  {
    // A failure, not a drop: the exception in V8's enrichment fails the stream and propagates up.
    scenario: 'enrichment-failure',
    generation: 'v8',
    drops: [],
    failure: { stage: 'stream', method: STREAM_METHOD.v8 },
    received: { ui: EVENTS, workflow: 0 },
  },
  healthy('enrichment-failure', 'publisher'),
  // The in-memory pub/sub gives no subscriber count: the left-behind stream's publishes count as forwarded (and the demo says why).
  healthy('no-live-connection', 'v5'),
  healthy('no-live-connection', 'publisher'),
];

const PUBLISH_TO_EVENT_STREAM = 'SubscriptionService.publishToEventStream';

// --- comparisons ---------------------------------------------------------------------------------

/**
 * stage|origin|outcome|reason -> count for what the example app keeps ground truth of: fanout, stream and
 * workflow_step, and pubsub when the run was on Redis (the ground truth then knows which publishes were received).
 */
const reportKeys = (report: DemoJson['report'], withPubsub = false): Record<string, number> => {
  const keys: Record<string, number> = {};

  for (const { stage, byOrigin } of report.stages) {
    const counted = stage === 'stream' || (withPubsub && stage === 'pubsub');
    if (stage !== 'fanout' && !counted && stage !== 'workflow_step') continue;
    for (const [origin, cell] of Object.entries(byOrigin)) {
      if (counted && cell.forwarded > 0) keys[`${stage}|${origin}|forwarded|`] = cell.forwarded;
      if (counted && cell.failed > 0) keys[`${stage}|${origin}|failed|`] = cell.failed;
      for (const [reason, count] of Object.entries(cell.dropsByReason))
        keys[`${stage}|${origin}|dropped|${reason}`] = count;
    }
  }

  return keys;
};

const groundTruthKeys = (groundTruth: DemoJson['groundTruth']): Record<string, number> => {
  const keys: Record<string, number> = {};

  for (const row of groundTruth.rows) {
    const key = `${row.stage}|${row.origin}|${row.outcome}|${row.reason ?? ''}`;

    keys[key] = (keys[key] ?? 0) + row.count;
  }

  return keys;
};

const cellOf = (result: DemoJson, stage: string, origin: string): Cell | undefined =>
  result.report.stages.find((entry) => entry.stage === stage)?.byOrigin[origin];

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

const ajv = new Ajv({ allErrors: true });
const validateJson = ajv.compile(schema);

const parseJson = (run: Run): DemoJson => {
  expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: '' });
  const result = JSON.parse(run.stdout) as DemoJson;
  const valid = validateJson(result);

  expect(valid ? [] : validateJson.errors).toEqual([]);

  return result;
};

/** What every --json run must satisfy, whatever the scenario. */
const expectConsistent = (result: DemoJson) => {
  expect(result.instrumentation.missingTargets).toEqual([]);
  expect(result.instrumentation.startupReport).toMatch(
    new RegExp(
      `^generation ${result.generation} \\(detected\\); \\d+ targets found, 0 missing; Nest \\d+\\.\\d+\\.\\d+ hooked$`,
    ),
  );
  expect(result.instrumentation.faults).toBe(0);
  expect(result.report.generation).toBe(result.generation);
  // The instrumentation's numbers equal what the example app recorded itself.
  const onRedis = result.instrumentation.subscriberCountNote === null;
  expect(reportKeys(result.report, onRedis)).toEqual(groundTruthKeys(result.groundTruth));
  expect(result.groundTruth.rows.some((row) => row.stage === 'pubsub')).toBe(
    onRedis && result.groundTruth.rows.some((row) => row.stage === 'stream' && row.outcome === 'forwarded'),
  );
  if (!onRedis)
    expect(result.instrumentation.subscriberCountNote).toMatch(
      /^the pub\/sub client \(InMemoryPubSub\) reports no subscriber count/,
    );
  // Every stream the scenario opened is one connection, still open when the report is taken.
  expect(result.connections).toMatchObject({
    opened: result.browser.streamsOpen,
    active: result.browser.streamsOpen,
    lateEvents: {},
  });
  // The OTel counter and the exact tally agree.
  expect(result.metrics.stageEventsCounterTotal).toBe(result.metrics.tallyTotal);
  // What the SSE client received is what the deliver stage counted.
  expect(cellOf(result, 'deliver', 'ui')?.forwarded ?? 0).toBe(result.browser.ui.received);
  expect(cellOf(result, 'deliver', 'workflow')?.forwarded ?? 0).toBe(result.browser.workflow.received);
  for (const { byOrigin } of result.report.stages) {
    for (const cell of Object.values(byOrigin)) {
      expect(cell.entered).toBe(cell.forwarded + cell.dropped + cell.failed);
      expect(cell.dropsByReason.unattributed).toBeUndefined();
    }
  }
  // One workflow run per event, one trace per run: one trace per lost workflow event.
  const workflowLost = Object.entries(groundTruthKeys(result.groundTruth))
    .filter(([key]) => key.split('|')[1] === 'workflow' && key.split('|')[2] !== 'forwarded')
    .reduce((sum, [, count]) => sum + count, 0);

  expect(result.traces.lostWorkflowTraceIds).toHaveLength(workflowLost);
};

const expectJsonMatches = (result: DemoJson, expected: Expectation) => {
  expect({ scenario: result.scenario, generation: result.generation, events: result.events }).toEqual({
    scenario: expected.scenario,
    generation: expected.generation,
    events: EVENTS,
  });
  expectConsistent(result);

  const named = result.report.diagnosis.map(({ origin, stage, reason, code, count }) => ({
    origin,
    stage,
    reason,
    code,
    count,
  }));

  expect(named).toEqual(
    expect.arrayContaining(
      expected.drops.map(({ origin, stage, reason, code, count }) => ({
        origin,
        stage,
        reason,
        code,
        count: count ?? EVENTS,
      })),
    ),
  );
  expect(result.report.diagnosis).toHaveLength(expected.drops.length);
  for (const drop of expected.drops) {
    const diagnosis = result.report.diagnosis.find(
      (d) => d.origin === drop.origin && d.stage === drop.stage && d.reason === drop.reason,
    )!;

    expect(diagnosis.method).toContain(drop.method);
    expect(diagnosis.file).toMatch(/^packages\/twenty-server\/src\//);
  }

  if (expected.divergence === null) expect(result.report.firstDivergence).toBeUndefined();
  else if (expected.divergence) {
    expect(result.report.firstDivergence).toMatchObject({
      stage: expected.divergence.stage,
      workflowLossRatio: 1,
      uiLossRatio: 0,
    });
    if (expected.divergence.reason) expect(result.report.firstDivergence?.topReason).toBe(expected.divergence.reason);
  }

  const isHealthy = expected.drops.length === 0 && !expected.failure;

  expect(result.report.healthy).toBe(isHealthy);
  if (isHealthy) expect(result.traces.lostWorkflowTraceIds).toEqual([]);

  if (expected.failure) {
    expect(result.traces.workflowFailures).toEqual([
      expect.objectContaining({ stage: expected.failure.stage, method: expected.failure.method, events: EVENTS }),
    ]);
  } else {
    expect(result.traces.workflowFailures).toEqual([]);
  }

  if (expected.received === 'no stream') expect(result.browser.streamsOpen).toBe(0);
  else {
    expect(result.browser).toEqual({
      streamsOpen: 1,
      ui: { sent: EVENTS, received: expected.received.ui },
      workflow: { sent: EVENTS, received: expected.received.workflow },
    });
  }
};

const expectTextMatches = (run: Run, expected: Expectation) => {
  expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: '' });
  const text = run.stdout;
  const flat = text.replace(/\s+/g, ' ');

  expect(text).toContain(
    `scenario "${expected.scenario}", Twenty ${expected.generation}, ${EVENTS} UI and ${EVENTS} workflow updates`,
  );
  expect(text).toMatch(/targets found, 0 missing/);
  expect(text).toMatch(/^stage +\| workflow +\| ui/m);

  for (const drop of expected.drops) {
    const line = new RegExp(
      `^- ${drop.count ?? EVENTS} ${drop.origin} (events|event x stream pairs) dropped at ${drop.stage}: ${drop.reason} \\(${escapeRegExp(drop.code)}\\)\\n  where: .*${escapeRegExp(drop.method)}.* in packages/twenty-server/src/`,
      'm',
    );

    expect(text).toMatch(line);
  }
  if (expected.drops.length === 0 && !expected.failure) expect(text).not.toContain('Diagnosis:');
  if (expected.failure)
    expect(text).toMatch(
      new RegExp(
        `failed at ${expected.failure.stage}: an exception[^\\n]*\\n  where: .*${escapeRegExp(expected.failure.method)}`,
      ),
    );

  if (expected.divergence === null) expect(text).not.toContain('First divergence');
  else if (expected.divergence) {
    expect(text).toContain(
      `First divergence: workflow events are lost at stage "${expected.divergence.stage}" (100.0% vs 0.0% for UI)` +
        (expected.divergence.reason ? `, mostly ${expected.divergence.reason}.` : ''),
    );
  }

  if (expected.drops.length === 0 && !expected.failure) {
    expect(text).toContain('Healthy: no event was dropped or failed at any stage.');
    expect(text).toContain('Traces of lost workflow events: none');
  } else if (expected.drops.some((drop) => drop.origin === 'workflow') || expected.failure) {
    expect(text).toMatch(/^Traces of lost workflow events: \d+ in the in-memory exporter, e\.g\. [0-9a-f]{32}/m);
  }

  if (expected.failure) {
    expect(flat).toMatch(
      new RegExp(
        `Failed, not dropped: ${EVENTS} workflow events threw \\w+ at ${expected.failure.stage} in ${escapeRegExp(expected.failure.method)}`,
      ),
    );
  }

  if (expected.received === 'no stream') expect(text).toContain('No event stream was open');
  else {
    expect(flat).toContain(
      `received ${expected.received.ui} of the ${EVENTS} UI updates and ${expected.received.workflow} of the ${EVENTS} workflow updates`,
    );
  }
};

// --- tests ---------------------------------------------------------------------------------------

beforeAll(() => {
  if (!existsSync(DEMO)) throw new Error(`${DEMO} is missing: build first (npx tsc -p tsconfig.build.json)`);
});

describe('demo scenarios (text and --json)', () => {
  const runs = new Map<string, { json: Run; text: Run }>();
  const key = (expected: Expectation) => `${expected.scenario} ${expected.generation}`;

  beforeAll(async () => {
    const results = await pool(EXPECTATIONS, CONCURRENCY, async (expected) => {
      const args = ['--scenario', expected.scenario, '--generation', expected.generation, '--events', String(EVENTS)];

      return { json: await runDemo([...args, '--json']), text: await runDemo(args) };
    });

    EXPECTATIONS.forEach((expected, index) => runs.set(key(expected), results[index]));
  }, 300_000);

  it('every scenario the demo lists has expectations here', async () => {
    const list = await runDemo(['--list', '--json']);

    expect(list.code).toBe(0);
    const names = (JSON.parse(list.stdout) as { name: string }[]).map((scenario) => scenario.name).sort();

    expect(names).toEqual([...new Set(EXPECTATIONS.map((expected) => expected.scenario))].sort());
  });

  it.each(EXPECTATIONS.map((expected) => [key(expected), expected] as const))(
    '%s: --json names the stage, reason and method',
    (name, expected) => {
      expectJsonMatches(parseJson(runs.get(name)!.json), expected);
    },
  );

  it.each(EXPECTATIONS.map((expected) => [key(expected), expected] as const))(
    '%s: the text names the stage, reason and method',
    (name, expected) => {
      expectTextMatches(runs.get(name)!.text, expected);
    },
  );
});

describe('the default run (no options): the seed situation on v5', () => {
  let text: Run;
  let json: DemoJson;

  beforeAll(async () => {
    const [textRun, jsonRun] = await Promise.all([runDemo([]), runDemo(['--json'])]);

    text = textRun;
    json = parseJson(jsonRun);
  }, 120_000);

  it('prints the workflow column diverging from UI at the stream stage, and why', () => {
    expect(text.code).toBe(0);
    expect(text.stderr).toBe('');
    expect(text.stdout).toContain('scenario "workflow-leaves-filter", Twenty v5, 10 UI and 10 workflow updates');
    expect(text.stdout).toMatch(/^stream +\| 10 in, 0 on, 10 dropped \(no_matching_query 10\) +\| 10 in, 10 on/m);
    expect(text.stdout).toContain(
      'First divergence: workflow events are lost at stage "stream" (100.0% vs 0.0% for UI), mostly no_matching_query.',
    );
    expect(text.stdout).toMatch(/^- 10 workflow event x stream pairs dropped at stream: no_matching_query \(D8\)$/m);
    expect(text.stdout).toContain(
      'where: WorkspaceEventEmitterService.processStreamEvents in packages/twenty-server/src/engine/workspace-event-emitter/workspace-event-emitter.service.ts',
    );
    expect(text.stdout).toContain(
      'The open event stream received 10 of the 10 UI updates and 0 of the 10 workflow updates.',
    );
    expect(text.stdout).toMatch(
      /^Traces of lost workflow events: 10 in the in-memory exporter, e\.g\. [0-9a-f]{32}, [0-9a-f]{32}, [0-9a-f]{32}, \.\.\.$/m,
    );
  });

  it("equals the example app's ground truth, number for number", () => {
    expect({ scenario: json.scenario, generation: json.generation, events: json.events }).toEqual({
      scenario: 'workflow-leaves-filter',
      generation: 'v5',
      events: 10,
    });
    expectConsistent(json);
    expect(groundTruthKeys(json.groundTruth)).toEqual({
      'stream|ui|forwarded|': 10,
      'stream|workflow|dropped|no_matching_query': 10,
    });
    expect(json.groundTruth.emitted).toEqual({ ui: 10, workflow: 10 });
    expect(cellOf(json, 'stream', 'workflow')).toEqual({
      entered: 10,
      forwarded: 0,
      failed: 0,
      dropped: 10,
      dropsByReason: { no_matching_query: 10 },
    });
    expect(cellOf(json, 'stream', 'ui')).toEqual({
      entered: 10,
      forwarded: 10,
      failed: 0,
      dropped: 0,
      dropsByReason: {},
    });
    for (const stage of ['emit', 'listen', 'publish', 'fanout']) {
      expect(cellOf(json, stage, 'workflow')?.forwarded).toBe(json.groundTruth.emitted.workflow);
      expect(cellOf(json, stage, 'ui')?.forwarded).toBe(json.groundTruth.emitted.ui);
    }
    expect(cellOf(json, 'deliver', 'workflow')).toBeUndefined();
    expect(cellOf(json, 'deliver', 'ui')?.forwarded).toBe(10);
  });

  (process.env.REDIS_URL ? it : it.skip)(
    'gives the same numbers with REDIS_URL set (pub/sub, caches and records on Redis)',
    async () => {
      const onRedis = parseJson(await runDemo(['--json'], cleanEnv({ REDIS_URL: process.env.REDIS_URL })));

      expectConsistent(onRedis);
      const withoutPubsub = (keys: Record<string, number>) =>
        Object.fromEntries(Object.entries(keys).filter(([key]) => !key.startsWith('pubsub|')));
      expect(withoutPubsub(groundTruthKeys(onRedis.groundTruth))).toEqual(groundTruthKeys(json.groundTruth));
      expect(onRedis.report.stages).toEqual(json.report.stages);
      expect(onRedis.instrumentation.subscriberCountNote).toBeNull();
    },
    60_000,
  );
});

describe('no-live-connection: a stream left registered with nobody subscribed', () => {
  it('without Redis: the in-memory pub/sub gives no count, the demo says so and the publishes count as forwarded', async () => {
    const run = await runDemo(['--scenario', 'no-live-connection', '--events', String(EVENTS)]);

    expect(run.stderr).toBe('');
    expect(run.stdout).toMatch(
      /^ {2}the pub\/sub client \(InMemoryPubSub\) reports no subscriber count for a publish/m,
    );
    expect(run.stdout).toMatch(
      new RegExp(`^pubsub +\\| ${2 * EVENTS} in, ${2 * EVENTS} on +\\| ${2 * EVENTS} in, ${2 * EVENTS} on$`, 'm'),
    );
    expect(run.stdout).toContain(
      'SSE connections: 1 opened, 1 still open, none closed; 0 re-subscriptions, 0 events handed to a closing connection.',
    );
  });

  (process.env.REDIS_URL ? it : it.skip).each(['v5', 'publisher'] as const)(
    'on Redis (%s): every event published into the left-behind stream is no_live_connection, and equals the ground truth',
    async (generation) => {
      const result = parseJson(
        await runDemo(
          ['--scenario', 'no-live-connection', '--generation', generation, '--events', String(EVENTS), '--json'],
          cleanEnv({ REDIS_URL: process.env.REDIS_URL }),
        ),
      );

      expectJsonMatches(result, {
        scenario: 'no-live-connection',
        generation,
        divergence: null,
        drops: both({ stage: 'pubsub', reason: 'no_live_connection', code: 'P0', method: PUBLISH_TO_EVENT_STREAM }),
        received: { ui: EVENTS, workflow: EVENTS },
      });
      expect(cellOf(result, 'pubsub', 'workflow')).toEqual({
        entered: 2 * EVENTS,
        forwarded: EVENTS,
        failed: 0,
        dropped: EVENTS,
        dropsByReason: { no_live_connection: EVENTS },
      });
      expect(groundTruthKeys(result.groundTruth)).toMatchObject({
        'pubsub|ui|forwarded|': EVENTS,
        'pubsub|ui|dropped|no_live_connection': EVENTS,
        'pubsub|workflow|forwarded|': EVENTS,
        'pubsub|workflow|dropped|no_live_connection': EVENTS,
      });
    },
    60_000,
  );
});

describe('command line', () => {
  it.each([
    [['--scenario', 'nope'], /^demo: unknown scenario "nope"; use one of: workflow-leaves-filter, /],
    [
      ['--generation', 'v9'],
      /^demo: unknown generation "v9"; use one of: v1, v5, v8, publisher, record_share, record_access$/,
    ],
    [['--events', '0'], /^demo: --events must be a whole number from 1 to 200, got "0"$/],
    [['--events', 'ten'], /^demo: --events must be a whole number from 1 to 200, got "ten"$/],
    [['--events=5000'], /^demo: --events must be a whole number from 1 to 200, got "5000"$/],
    [
      ['--bogus'],
      /^demo: unknown option "--bogus"; use --scenario, --generation, --events, --json, --html, --list or --help$/,
    ],
    [['--scenario'], /^demo: --scenario needs a value \(see --help\)$/],
    [['--scenario', '--json'], /^demo: --scenario needs a value \(see --help\)$/],
    [['--json=yes'], /^demo: --json takes no value \(see --help\)$/],
    [['healthy'], /^demo: unexpected argument "healthy"; options start with -- \(see --help\)$/],
    [['-j'], /^demo: unexpected argument "-j"; options start with -- \(see --help\)$/],
    [['--bogus=1'], /^demo: unknown option "--bogus=1"; use --scenario/],
  ])('%j: exit 2 with one clear line', async (args, message) => {
    const run = await runDemo(args);

    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(run.stderr.trimEnd()).toMatch(message);
  });

  it('--help describes every option and exits 0', async () => {
    const run = await runDemo(['--help']);

    expect(run.code).toBe(0);
    for (const option of ['--scenario', '--generation', '--events', '--json', '--html', '--list', '--help'])
      expect(run.stdout).toContain(option);
  });

  it('--list names every scenario and exits 0', async () => {
    const run = await runDemo(['--list']);

    expect(run.code).toBe(0);
    for (const { scenario } of EXPECTATIONS) expect(run.stdout).toMatch(new RegExp(`^  ${scenario} `, 'm'));
  });

  it('--scenario=NAME works like --scenario NAME', async () => {
    const result = parseJson(await runDemo(['--scenario=healthy', '--generation=v1', '--events=2', '--json']));

    expect({
      scenario: result.scenario,
      generation: result.generation,
      events: result.events,
      healthy: result.report.healthy,
    }).toEqual({
      scenario: 'healthy',
      generation: 'v1',
      events: 2,
      healthy: true,
    });
  });
});

describe('npm run demo, as the README writes it', () => {
  it('compiles only when the sources changed, then prints the default report', async () => {
    // The first run may compile (the suite's own build writes no stamp); the second finds the stamp and must not.
    const first = await spawnCollect('npm', ['run', 'demo'], { timeoutMs: 240_000 });
    const second = await spawnCollect('npm', ['run', 'demo'], { timeoutMs: 240_000 });

    expect({ code: first.code, stderr: first.stderr.replace(/^\[build\] compiling with tsc .*\n/, '') }).toEqual({
      code: 0,
      stderr: '',
    });
    expect({ code: second.code, stderr: second.stderr }).toEqual({ code: 0, stderr: '' });
    for (const run of [first, second]) {
      expect(run.stdout).toContain('scenario "workflow-leaves-filter", Twenty v5');
      expect(run.stdout).toContain('First divergence: workflow events are lost at stage "stream"');
      expect(run.stdout).toMatch(
        /dropped at stream: no_matching_query \(D8\)\n {2}where: WorkspaceEventEmitterService\.processStreamEvents/,
      );
    }
  }, 300_000);
});
