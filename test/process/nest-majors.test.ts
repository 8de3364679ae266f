import { existsSync } from 'fs';
import path from 'path';
import { spawn } from 'child_process';
import type { GroundTruthRecord } from '../../example/harness';
import { ATTR, METRIC } from '../../src/semconv';
import type { TallyRow } from '../../src/otel/telemetry';
import { groundTruthKeys, sorted, tallyKeys, unattributed } from '../integration/drop-conditions.shared';
import { OtlpReceiver, ReceivedSpan } from '../helpers/otlp-receiver';

/**
 * The drop-condition scenarios on the example app in a real process, per Nest
 * major (11 from the repository, 12 from test/fixtures/nest12, ES modules
 * only), per module system of the app (its CommonJS build, its ESM build) and
 * per way in (the register entry by --require or --import, or a NodeSDK with
 * TwentySseInstrumentation). Each run must equal the app's ground truth, and
 * a Nest 12 run must equal the Nest 11 run of the same kind exactly: every
 * stage's counts, every drop reason, every span.
 */
const root = path.resolve(__dirname, '../..');
const node = process.env.TEST_NODE_BIN ?? process.execPath;
const runner = path.join(root, 'test/fixtures/scenario-runner.js');
const DIST: Record<Nest, string> = { 11: path.join(root, 'dist'), 12: path.join(root, 'test/fixtures/nest12/dist') };

type Nest = 11 | 12;
type ModuleSystem = 'cjs' | 'esm';
type Way = '--require' | '--import' | 'nodesdk';

interface ScenarioResult {
  name: string;
  workspaceId: string;
  tally: TallyRow[];
  truth: GroundTruthRecord[];
}

interface Run {
  nest: string;
  faults: number;
  scenarios: ScenarioResult[];
  stderr: string;
  spans: ReceivedSpan[];
  counted: number;
}

const receiver = new OtlpReceiver();
let endpoint = '';
let runCount = 0;

beforeAll(async () => {
  if (!existsSync(path.join(DIST[12], 'src/register.js')))
    throw new Error(
      'test/fixtures/nest12 is not prepared: run bash .ci/setup.sh, then the jest global setup copies dist/ there',
    );
  endpoint = await receiver.start();
});
afterAll(() => receiver.stop());

async function run(nest: Nest, moduleSystem: ModuleSystem, way: Way, generation: string): Promise<Run> {
  const runNumber = runCount++;
  const service = `nest${nest}-${moduleSystem}-${way.replace(/^-+/, '')}-${generation}-${runNumber}`;
  const dist = DIST[nest];
  const args = [
    ...(way === 'nodesdk' ? [] : [way, path.join(dist, 'src/register.js')]),
    runner,
    dist,
    moduleSystem,
    generation,
    way === 'nodesdk' ? 'nodesdk' : 'register',
  ];
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    EXAMPLE_LOG_LEVELS: 'none',
    // the suite's Redis when there is one; workspace ids are fresh per scenario, runs are sequential
    RUNNER_REDIS_URL: process.env.REDIS_URL ?? '',
    TWENTY_SSE_OTEL_CAPTURE_IDS: 'raw', // spans carry the scenario's workspace id, so they can be told apart
    OTEL_SERVICE_NAME: service,
    OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
    OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
    OTEL_BSP_SCHEDULE_DELAY: '100',
    OTEL_METRIC_EXPORT_INTERVAL: '60000',
    ...(way === 'nodesdk' ? {} : { TWENTY_SSE_OTEL_ENABLED: 'true' }),
  };
  delete env.NODE_OPTIONS;
  delete env.REDIS_URL;
  const child = spawn(node, args, { cwd: root, env });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => (stdout += chunk));
  child.stderr.on('data', (chunk) => (stderr += chunk));
  // 'close', not 'exit': the output is complete only once the pipes closed.
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  if (code !== 0) throw new Error(`${service} failed (${code}):\n${stderr}`);
  const out = JSON.parse(stdout.trim().split('\n').pop()!) as Omit<Run, 'stderr' | 'spans' | 'counted'>;
  return {
    ...out,
    stderr,
    spans: receiver.spans.filter((span) => span.service === service),
    counted: receiver.latestSum(METRIC.STAGE_EVENTS, {}, service),
  };
}

/** A span without its ids and timings: what must be the same whichever Nest ran the app. */
function spanShape(span: ReceivedSpan, scenarioOf: Map<string, string>): string {
  const { attributes } = span;
  return JSON.stringify([
    scenarioOf.get(String(attributes[ATTR.WORKSPACE_ID])) ?? '-',
    span.name,
    span.kind,
    attributes[ATTR.STAGE],
    attributes[ATTR.ORIGIN],
    attributes[ATTR.OUTCOME],
    attributes[ATTR.DROP_REASON],
    attributes[ATTR.EVENTS_IN],
    attributes[ATTR.EVENTS_DROPPED],
    span.events.map((event) => [event.name, event.attributes[ATTR.DROP_REASON]]),
    Boolean(span.parentSpanId),
  ]);
}

function shapes(result: Run): string[] {
  const scenarioOf = new Map(result.scenarios.map((scenario) => [scenario.workspaceId, scenario.name]));
  return result.spans.map((span) => spanShape(span, scenarioOf)).sort();
}

function tallies(result: Run): [string, TallyRow[]][] {
  return result.scenarios.map((scenario) => [
    scenario.name,
    [...scenario.tally].sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b))),
  ]);
}

function expectMatchesGroundTruth(result: Run, nest: Nest): void {
  expect(result.nest.split('.')[0]).toBe(String(nest));
  expect(result.faults).toBe(0);
  expect(result.scenarios.length).toBeGreaterThan(5);
  let total = 0;
  for (const scenario of result.scenarios) {
    expect([scenario.name, sorted(tallyKeys(scenario.tally))]).toEqual([
      scenario.name,
      sorted(groundTruthKeys(scenario.truth)),
    ]);
    expect(unattributed(scenario.tally)).toBe(0);
    total += scenario.tally.reduce((sum, row) => sum + row.count, 0);
  }
  // every stage of the pipeline was seen, listen included (its class is never exported, only Nest registers it)
  const stages = new Set(result.scenarios.flatMap((scenario) => scenario.tally.map((row) => row.stage)));
  for (const stage of ['emit', 'listen', 'fanout', 'stream', 'workflow_step']) expect(stages).toContain(stage);
  // the exported counter equals the exact tally
  expect(result.counted).toBe(total);
  expect(result.spans.length).toBeGreaterThan(0);
  // messaging spans are named `<messaging.operation.name> <destination>`
  const messaging = result.spans.filter((span) => span.attributes[ATTR.MESSAGING_OPERATION_NAME] !== undefined);
  expect(messaging.length).toBeGreaterThan(0);
  for (const span of messaging) expect(span.name.split(' ')[0]).toBe(span.attributes[ATTR.MESSAGING_OPERATION_NAME]);
}

const GENERATIONS = ['v5', 'publisher'];

describe.each(GENERATIONS)('generation %s: the same scenarios on Nest 11 and Nest 12', (generation) => {
  describe.each([
    ['CommonJS app, --require', 'cjs', '--require'],
    ['ESM app, --import', 'esm', '--import'],
  ] as const)('%s', (_label, moduleSystem, way) => {
    const runs: Partial<Record<Nest, Run>> = {};

    it.each([11, 12] as const)(
      'Nest %s: counters and drop reasons equal the ground truth, startup line names the Nest version',
      async (nest) => {
        const result = await run(nest, moduleSystem, way, generation);
        runs[nest] = result;
        expectMatchesGroundTruth(result, nest);
        expect(result.stderr).toMatch(
          new RegExp(
            `generation ${generation} \\(detected\\); \\d+ targets found, 0 missing; Nest ${nest}\\.\\d+\\.\\d+ hooked`,
          ),
        );
        expect(result.stderr.split('\n').filter((line) => line.startsWith('[twenty-sse-otel]'))).toHaveLength(1);
      },
    );

    it('Nest 12 gives exactly the counters, drop reasons and spans of Nest 11', () => {
      const [nest11, nest12] = [runs[11], runs[12]];
      if (!nest11 || !nest12) throw new Error('both runs above must have succeeded');
      expect(tallies(nest12)).toEqual(tallies(nest11));
      expect(shapes(nest12)).toEqual(shapes(nest11));
    });
  });
});

describe('NodeSDK with TwentySseInstrumentation in its instrumentations (CommonJS app)', () => {
  const runs: Partial<Record<Nest, Run>> = {};

  it.each([11, 12] as const)('Nest %s: counters, drop reasons and spans through the SDK providers', async (nest) => {
    const result = await run(nest, 'cjs', 'nodesdk', 'v5');
    runs[nest] = result;
    expectMatchesGroundTruth(result, nest);
    expect(result.stderr).toMatch(
      new RegExp(`generation v5 \\(detected\\); \\d+ targets found, 0 missing; Nest ${nest}\\.\\d+\\.\\d+ hooked`),
    );
  });

  it('the same as Nest 11, and the same as the register entry gives', async () => {
    const [nest11, nest12] = [runs[11], runs[12]];
    if (!nest11 || !nest12) throw new Error('both runs above must have succeeded');
    expect(tallies(nest12)).toEqual(tallies(nest11));
    expect(shapes(nest12)).toEqual(shapes(nest11));
    const register = await run(11, 'cjs', '--require', 'v5');
    expect(tallies(nest11)).toEqual(tallies(register));
    expect(shapes(nest11)).toEqual(shapes(register));
  });
});
