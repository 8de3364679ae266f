/**
 * `npm run demo`: the Twenty-like example app and the instrumentation in one
 * process, telemetry kept in memory (no Redis, no collector). One scenario makes
 * UI and workflow record updates while a table is open, then the demo prints
 * the per-stage funnel (workflow and UI side by side), the first stage where
 * workflow diverges from UI and which Twenty condition dropped the events.
 *
 *   npm run demo -- --scenario subscriber-without-role --generation publisher --events 20 --json
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

import { TWENTY_GENERATIONS, type TwentyGeneration } from '../example/app/example-config';
import { pubsubOutcomes } from '../example/app/ground-truth';
import { type GroundTruthRecord } from '../example/harness';
import { renderHtmlReport, type TraceView } from '../src/cli/html-report';
import { buildFunnelReport, renderFunnelReport, type FunnelReport, type FunnelRow } from '../src/cli/report';
import { type ConnectionSnapshot } from '../src/otel/connections';
import { CLOSE_REASONS, type Origin } from '../src/semconv';

import { startInProcessTelemetry, type FailureSummary, type InProcessTelemetry } from './in-process-telemetry';
import { HELP_TEXT, parseDemoArgs, UsageError } from './options';
import {
  countReceived,
  DEFAULT_SCENARIO,
  DEMO_SCENARIOS,
  findScenario,
  waitForDeliveries,
  type BrowserReceived,
  type DemoScenario,
} from './scenarios';

const WIDTH = 100;
const EXAMPLE_TRACE_IDS = 3;

/** The --json document. `groundTruth` is what the example app recorded itself, to compare with `report`. */
export type DemoJson = {
  scenario: string;
  generation: TwentyGeneration;
  events: number;
  conditionInGeneration: boolean;
  instrumentation: {
    startupReport: string;
    missingTargets: string[];
    faults: number;
    /** Said once when the pub/sub client gives no subscriber count (the in-memory one): no_live_connection is then not measured. */
    subscriberCountNote: string | null;
  };
  report: FunnelReport;
  /** The SSE connections of the run's event streams, as the API server saw them (lifetimes in seconds). */
  connections: Omit<ConnectionSnapshot, 'lifetimes'> & { lifetimes: { count: number; maxSeconds: number } };
  browser: BrowserReceived;
  traces: { lostWorkflowTraceIds: string[]; workflowFailures: FailureSummary[] };
  metrics: { stageEventsCounterTotal: number; tallyTotal: number };
  groundTruth: { emitted: Partial<Record<Origin, number>>; rows: FunnelRow[] };
};

const print = (text: string) => process.stdout.write(`${text}\n`);

const wrap = (text: string, indent: string, width = WIDTH): string => {
  const lines: string[] = [];
  let line = '';

  for (const word of text.split(/\s+/)) {
    if (line && indent.length + line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else {
      line = line ? `${line} ${word}` : word;
    }
  }
  lines.push(line);

  return lines.join(`\n${indent}`);
};

// What the example app itself recorded at every drop and delivery point (fanout, stream, workflow_step),
// and on Redis which publishes reached a subscriber (pubsub).
const summarizeGroundTruth = (records: GroundTruthRecord[], onRedis: boolean): DemoJson['groundTruth'] => {
  const emitted: Partial<Record<Origin, number>> = {};
  const rows = new Map<string, FunnelRow>();

  for (const record of records) {
    if (record.kind === 'emitted') {
      emitted[record.origin] = (emitted[record.origin] ?? 0) + record.count;
      continue;
    }
    if (record.kind === 'received') continue;
    const reason = record.kind === 'dropped' ? record.reason : undefined;
    const key = `${record.stage}|${record.origin}|${record.kind}|${reason ?? ''}`;
    const row = rows.get(key);

    if (row) row.count += record.count;
    else
      rows.set(key, {
        stage: record.stage,
        origin: record.origin,
        outcome: record.kind,
        ...(reason && { reason }),
        count: record.count,
      });
  }
  const pubsubRows: FunnelRow[] = onRedis ? pubsubOutcomes(records).map((row) => ({ stage: 'pubsub', ...row })) : [];

  return { emitted, rows: [...rows.values(), ...pubsubRows] };
};

type ScenarioResult = {
  json: DemoJson;
  /** The first trace in which workflow events were lost, for the HTML report. */
  lostWorkflowTrace?: TraceView;
};

const runScenario = async (
  scenario: DemoScenario,
  generation: TwentyGeneration,
  events: number,
  telemetry: InProcessTelemetry,
): Promise<ScenarioResult> => {
  // Loaded only now, after the instrumentation hooked Nest: as with --require in Twenty.
  const { startTwentyLikeApp } = await import('../example/harness');
  const redisUrl = process.env.REDIS_URL || undefined;
  const app = await startTwentyLikeApp({ generation, mode: 'single', redisUrl });
  const { runtime } = telemetry;

  try {
    const startup = runtime.instrumenter.report();
    const run = await scenario.run(app, events);

    await waitForDeliveries(app, run);
    await app.settle({ quietMs: 50 });
    const rows = runtime.telemetry.tallyRows();
    const lostWorkflowTraceIds = await telemetry.lossTraceIds('workflow');

    const json: DemoJson = {
      scenario: scenario.name,
      generation,
      events,
      conditionInGeneration: scenario.conditionIn.includes(generation),
      instrumentation: {
        // the line the package printed at startup: the targets, then the Nest version it hooked
        startupReport: runtime.report(),
        missingTargets: startup.lines
          .filter((line) => line.status === 'missing')
          .map((line) => `${line.className}.${line.method}`),
        faults: runtime.telemetry.faultCount(),
        subscriberCountNote: runtime.telemetry.subscriberCountNote ?? null,
      },
      report: buildFunnelReport(rows, startup.generation ?? generation),
      connections: summarizeConnections(runtime.telemetry.connections.snapshot()),
      browser: countReceived(run, events),
      traces: {
        lostWorkflowTraceIds,
        workflowFailures: await telemetry.failures('workflow'),
      },
      metrics: {
        stageEventsCounterTotal: await telemetry.stageEventsCounterTotal(),
        tallyTotal: rows.reduce((sum, row) => sum + row.count, 0),
      },
      groundTruth: summarizeGroundTruth(app.readGroundTruth(), redisUrl !== undefined),
    };

    return {
      json,
      lostWorkflowTrace: lostWorkflowTraceIds[0] ? await telemetry.trace(lostWorkflowTraceIds[0]) : undefined,
    };
  } finally {
    await app.close();
    await runtime.shutdown();
  }
};

const summarizeConnections = ({ lifetimes, ...counts }: ConnectionSnapshot): DemoJson['connections'] => {
  const all = CLOSE_REASONS.flatMap((reason) => lifetimes[reason]);

  return { ...counts, lifetimes: { count: all.length, maxSeconds: all.length > 0 ? Math.max(...all) : 0 } };
};

const describeConnections = ({
  opened,
  active,
  closed,
  resubscriptions,
  lateEvents,
}: DemoJson['connections']): string => {
  const closes = CLOSE_REASONS.filter((reason) => closed[reason] > 0).map((reason) => `${closed[reason]} ${reason}`);
  const again = resubscriptions.open_here + resubscriptions.closed_here + resubscriptions.registered;
  const late = Object.values(lateEvents).reduce((sum, count) => sum + (count ?? 0), 0);

  return (
    `SSE connections: ${opened} opened, ${active} still open, ${closes.length > 0 ? `closed: ${closes.join(', ')}` : 'none closed'}; ` +
    `${again} re-subscriptions, ${late} events handed to a closing connection.`
  );
};

const describeReceived = ({ streamsOpen, ui, workflow }: BrowserReceived): string =>
  streamsOpen === 0
    ? 'No event stream was open, so nothing could be received.'
    : `The open event stream received ${ui.received} of the ${ui.sent} UI updates and ${workflow.received} of the ${workflow.sent} workflow updates.`;

const describeTraces = (traceIds: string[]): string => {
  if (traceIds.length === 0) return 'Traces of lost workflow events: none, no workflow event was lost.';
  const examples = traceIds.slice(0, EXAMPLE_TRACE_IDS).join(', ');

  return `Traces of lost workflow events: ${traceIds.length} in the in-memory exporter, e.g. ${examples}${traceIds.length > EXAMPLE_TRACE_IDS ? ', ...' : ''}`;
};

const describeFailures = (failures: FailureSummary[]): string[] =>
  failures.map(
    ({ events, stage, method, errorType, propagatedTo }) =>
      `Failed, not dropped: ${events} workflow events threw ${errorType} at ${stage} in ${method}` +
      (propagatedTo.length > 0 ? `, and propagated up through ${propagatedTo.join(' and ')}, failing them too.` : '.'),
  );

const renderText = (scenario: DemoScenario, result: DemoJson): string => {
  const situation = scenario.situation(result.events);
  const lines = [
    `Twenty SSE pipeline demo: scenario "${result.scenario}", Twenty ${result.generation}, ${result.events} UI and ${result.events} workflow updates`,
    '',
    `  Stream:   ${wrap(situation.stream, '            ')}`,
    `  UI:       ${wrap(situation.ui, '            ')}`,
    `  Workflow: ${wrap(situation.workflow, '            ')}`,
    `  Checks:   ${wrap(scenario.checks, '            ')}`,
  ];

  if (!result.conditionInGeneration && scenario.notInOtherGenerations) {
    lines.push(`  Note:     ${wrap(scenario.notInOtherGenerations, '            ')}`);
  }
  lines.push(
    '',
    'Instrumentation (started in this process before the app, in-memory exporters, no collector):',
    `  ${result.instrumentation.startupReport}`,
    ...(result.instrumentation.subscriberCountNote
      ? [`  ${wrap(result.instrumentation.subscriberCountNote, '  ')}`]
      : []),
    '',
    'Per stage and origin: events that entered ("in"), went on ("on") or were dropped, and why:',
    '',
    renderFunnelReport(result.report),
    '',
    ...describeFailures(result.traces.workflowFailures).map((line) => wrap(line, '  ')),
    describeReceived(result.browser),
    describeConnections(result.connections),
    describeTraces(result.traces.lostWorkflowTraceIds),
    '',
    ...(scenario.tryNext && result.conditionInGeneration ? [wrap(`Try next: ${scenario.tryNext}`, '  ')] : []),
    `Other scenarios: npm run demo -- --list; other Twenty versions: --generation ${TWENTY_GENERATIONS.join('|')}`,
  );

  return lines.join('\n');
};

const renderHtml = (scenario: DemoScenario, result: DemoJson, trace: TraceView | undefined): string => {
  const situation = scenario.situation(result.events);
  const { ui, workflow, streamsOpen } = result.browser;

  return renderHtmlReport({
    title: `Twenty SSE pipeline demo: ${result.scenario} (Twenty ${result.generation})`,
    source: 'npm run demo: the Twenty-like example app and the instrumentation in one process, telemetry in memory',
    generatedAt: new Date(),
    report: result.report,
    context: [
      { label: 'Stream', text: situation.stream },
      { label: 'UI', text: situation.ui },
      { label: 'Workflow', text: situation.workflow },
      { label: 'Checks', text: scenario.checks },
      {
        label: 'Browser',
        text:
          streamsOpen === 0
            ? 'no event stream was open'
            : `received ${ui.received} of ${ui.sent} UI updates and ${workflow.received} of ${workflow.sent} workflow updates`,
      },
    ],
    trace,
    noTrace: 'No workflow event was lost in this run, so there is no trace to show.',
  });
};

const renderList = (): string => {
  const width = Math.max(...DEMO_SCENARIOS.map((scenario) => scenario.name.length)) + 2;
  const lines = [`Scenarios (npm run demo -- --scenario NAME [--generation ${TWENTY_GENERATIONS.join('|')}]):`, ''];

  for (const scenario of DEMO_SCENARIOS) {
    const where =
      scenario.conditionIn.length === TWENTY_GENERATIONS.length ? 'all generations' : scenario.conditionIn.join(', ');

    lines.push(
      `  ${scenario.name.padEnd(width)}${wrap(`${scenario.summary} [${where}]`, ' '.repeat(width + 2), WIDTH)}`,
    );
  }
  lines.push('', `Default: ${DEFAULT_SCENARIO}. In brackets: the Twenty generations whose code has the condition.`);

  return lines.join('\n');
};

const main = async (argv: string[]): Promise<number> => {
  let options: ReturnType<typeof parseDemoArgs>;

  try {
    options = parseDemoArgs(argv);
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`demo: ${error.message}\n`);

      return 2;
    }
    throw error;
  }

  if (options.kind === 'help') {
    print(HELP_TEXT);

    return 0;
  }
  if (options.kind === 'list') {
    print(
      options.json
        ? JSON.stringify(
            DEMO_SCENARIOS.map(({ name, summary, conditionIn }) => ({
              name,
              summary,
              conditionIn,
              default: name === DEFAULT_SCENARIO,
            })),
            null,
            2,
          )
        : renderList(),
    );

    return 0;
  }

  if (options.html !== undefined) {
    // npm runs scripts from the package root; a relative path is meant from where the user typed the command.
    options.html = path.resolve(process.env.INIT_CWD ?? process.cwd(), options.html);
    const directory = path.dirname(options.html);

    try {
      fs.accessSync(directory, fs.constants.W_OK);
    } catch {
      process.stderr.write(
        `demo: --html ${options.html}: the directory ${directory} does not exist or is not writable\n`,
      );

      return 2;
    }
  }

  // The Twenty-like app's Nest logs would bury the report.
  process.env.EXAMPLE_LOG_LEVELS ??= 'none';
  const scenario = findScenario(options.scenario)!;
  const telemetry = startInProcessTelemetry();
  const { json: result, lostWorkflowTrace } = await runScenario(
    scenario,
    options.generation,
    options.events,
    telemetry,
  );

  print(options.json ? JSON.stringify(result, null, 2) : renderText(scenario, result));
  if (options.html !== undefined) {
    fs.writeFileSync(options.html, renderHtml(scenario, result, lostWorkflowTrace));
    process.stderr.write(`demo: wrote the HTML report to ${options.html}\n`);
  }
  // Anything else the instrumentation said (a fault it swallowed, say) goes to stderr.
  const reported = [result.instrumentation.startupReport, result.instrumentation.subscriberCountNote];

  for (const line of telemetry.logs.filter((logged) => !reported.includes(logged))) {
    process.stderr.write(`[twenty-sse-otel] ${line}\n`);
  }

  return 0;
};

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`demo: failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exitCode = 1;
  },
);
