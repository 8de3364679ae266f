/**
 * Prometheus recording rules and alerts for the Twenty SSE pipeline, written
 * to dashboards/prometheus/rules/twenty-sse.rules.yml. Names from src/semconv.ts.
 */
import {
  ATTR,
  LOSS_SHARE_MIN_UNITS,
  PROM,
  STAGES,
  WORKFLOW_DIVERGENCE_THRESHOLD,
  dropReasonsOfKind,
  routineShareOf,
  type Origin,
  type Stage,
} from '../../src/semconv';
import { DEFAULT_JAEGER_URL, jaegerSearchUrl } from './jaeger';
import {
  dropReasonIn,
  dropReasonIs,
  increaseFromZero,
  matchesRegex,
  originIs,
  outcomeIs,
  publishStageTargetsFound,
  series,
  seriesByNameRegex,
  stageIs,
  sumBy,
  sumOfPartial,
} from './promql';

/**
 * Every duration and volume the rules use. PRODUCTION_TIMING is what ships;
 * the live end-to-end run evaluates the same rules with compressedTiming(),
 * every duration divided by one factor, so minutes of traffic fit in seconds.
 */
export interface RuleTiming {
  /** Window of every count and share. */
  window: string;
  /** What a loss spike is compared with: the share over this span, ending one window ago. */
  baseline: string;
  /** `for:` of each alert family. */
  divergenceFor: string;
  spikeFor: string;
  churnFor: string;
  failureFor: string;
  absentFor: string;
  /** Units of each origin a stage must see in one window before a share can page (a quiet night never does). */
  minUnits: number;
}

export const PRODUCTION_TIMING: RuleTiming = {
  window: '10m',
  baseline: '6h',
  // A loss share builds up over the 10m window; 5m more of it rules out one burst of unlucky tabs.
  divergenceFor: '5m',
  spikeFor: '5m',
  // A server restart or Redis failover expires or re-registers many tabs at once, for a few minutes.
  churnFor: '10m',
  // An exception is never routine: the window keeps even a single one visible for 10m, long enough to page.
  failureFor: '0m',
  // Telemetry can be missing briefly at startup (first export interval, first scrape).
  absentFor: '10m',
  minUnits: LOSS_SHARE_MIN_UNITS,
};

const DURATION = /^(\d+)(s|m|h)$/;
const SECONDS = { s: 1, m: 60, h: 3600 } as const;

export function durationSeconds(duration: string): number {
  const match = DURATION.exec(duration);
  if (!match) throw new Error(`not a duration in s, m or h: ${duration}`);
  return Number(match[1]) * SECONDS[match[2] as keyof typeof SECONDS];
}

/** `seconds` as the shortest exact Prometheus duration. */
export function formatDuration(seconds: number): string {
  if (!Number.isInteger(seconds)) throw new Error(`durations must be whole seconds, got ${seconds}`);
  if (seconds === 0) return '0m';
  if (seconds % 3600 === 0) return `${seconds / 3600}h`;
  if (seconds % 60 === 0) return `${seconds / 60}m`;
  return `${seconds}s`;
}

/** Every duration of `timing` divided by `factor`; `minUnits` as given (compressed traffic is denser, not longer). */
export function compressedTiming(factor: number, minUnits: number, timing: RuleTiming = PRODUCTION_TIMING): RuleTiming {
  const scale = (duration: string) => formatDuration(durationSeconds(duration) / factor);
  return {
    window: scale(timing.window),
    baseline: scale(timing.baseline),
    divergenceFor: scale(timing.divergenceFor),
    spikeFor: scale(timing.spikeFor),
    churnFor: scale(timing.churnFor),
    failureFor: scale(timing.failureFor),
    absentFor: scale(timing.absentFor),
    minUnits,
  };
}

/** How far the workflow loss share at a stage may exceed the UI one before it pages (percentage points / 100). */
export const DIVERGENCE_THRESHOLD = WORKFLOW_DIVERGENCE_THRESHOLD;
/** A loss reason's share of a stage's units that counts as a spike: at least this much... */
export const SPIKE_MIN_SHARE = 0.1;
/** ...and this many times its baseline share. */
export const SPIKE_FACTOR = 3;

const LOSS_REASONS = dropReasonsOfKind('loss');
/**
 * The last mile: a publish that reached no subscriber. Part of it is routine (a
 * closed tab's stream keeps getting publishes until its TTL, a reconnect takes
 * a moment); TwentySseNoLiveConnection judges it by its share while browsers
 * are connected, so the generic churn alert leaves it out.
 */
export const LAST_MILE_REASON = 'no_live_connection' as const;
/** `for:` of TwentySseNoLiveConnection: longer than a deploy's reconnect gap, shorter than the 30 min stream TTL. */
export const LAST_MILE_FOR = '15m';
const CHURN_REASONS = dropReasonsOfKind('churn').filter((reason) => reason !== LAST_MILE_REASON);
/** Loss reasons that page on a spike; unattributed pages on any count (TwentySseUnattributedDrops). */
const SPIKE_REASONS = LOSS_REASONS.filter((reason) => reason !== 'unattributed');

/**
 * RUNBOOK.md (shipped in the package, one heading per alert) as seen from the
 * rules file dashboards/prometheus/rules/: the default runbook base while
 * package.json names no repository or homepage. It needs no network and
 * resolves from a checkout and from an installed package alike.
 */
export const RUNBOOK_RELATIVE_TO_RULES = '../../../RUNBOOK.md';

/** An alert's runbook_url: its RUNBOOK.md heading's anchor (GitHub's, the name in lower case). */
export const runbookUrl = (alert: string, base: string = RUNBOOK_RELATIVE_TO_RULES): string =>
  `${base}#${alert.toLowerCase()}`;

export type PackageLinks = { repository?: string | { url?: string }; homepage?: string };

/**
 * The runbook base from package.json: the repository's RUNBOOK.md on its default
 * branch (`<repository>/blob/HEAD/RUNBOOK.md`), else `<homepage>/RUNBOOK.md`,
 * else RUNBOOK_RELATIVE_TO_RULES.
 */
export function defaultRunbookBaseUrl(pkg: PackageLinks): string {
  const repository = typeof pkg.repository === 'string' ? pkg.repository : pkg.repository?.url;
  if (repository) {
    const shorthand = /^(?:github:)?([\w.-]+\/[\w.-]+)$/.exec(repository);
    const web = shorthand
      ? `https://github.com/${shorthand[1]}`
      : repository.replace(/^git\+/, '').replace(/\.git$/, '');
    return `${web.replace(/\/$/, '')}/blob/HEAD/RUNBOOK.md`;
  }
  if (pkg.homepage) return `${pkg.homepage.replace(/#.*$/, '').replace(/\/$/, '')}/RUNBOOK.md`;
  return RUNBOOK_RELATIVE_TO_RULES;
}

export type RecordingRule = {
  record: string;
  expr: string;
};

export type AlertingRule = {
  alert: string;
  expr: string;
  for: string;
  labels: Record<string, string>;
  annotations: {
    summary: string;
    description: string;
    runbook_url: string;
    jaeger_search: string;
  };
};

export type RuleGroup = {
  name: string;
  rules: Array<RecordingRule | AlertingRule>;
};

export const isAlertingRule = (rule: RecordingRule | AlertingRule): rule is AlertingRule => 'alert' in rule;

const EVENTS = PROM.STAGE_EVENTS;
const STAGE = PROM.LABEL_STAGE;
const ORIGIN = PROM.LABEL_ORIGIN;
const OUTCOME = PROM.LABEL_OUTCOME;
const REASON = PROM.LABEL_DROP_REASON;
/** service.name and service.instance.id, as the collector's Prometheus exporter names them. */
const JOB = 'job';
const INSTANCE = 'instance';

/** Recorded series, named level:metric:operation over the timing's window. */
export function recordNames(timing: RuleTiming = PRODUCTION_TIMING) {
  return {
    /** Units per process, stage, origin, outcome and reason. */
    STAGE_EVENTS_INCREASE: `twenty_sse:stage_events:increase${timing.window}`,
    /** Units that entered each stage, per origin, all processes together. */
    STAGE_UNITS_INCREASE: `twenty_sse:stage_units:increase${timing.window}`,
    /** Failed units at the innermost failing stage only (the outer stages just see the exception pass). */
    INNERMOST_FAILURES_INCREASE: `twenty_sse:innermost_failures:increase${timing.window}`,
    /** (loss-kind drops + innermost failures) / entered, per stage and origin. */
    LOSS_SHARE: `twenty_sse:loss_share:ratio${timing.window}`,
    /** Workflow loss share minus UI loss share, per stage where both origins have units. */
    WORKFLOW_MINUS_UI_LOSS_SHARE: `twenty_sse:workflow_minus_ui_loss_share:ratio${timing.window}`,
    /** One drop reason's share of its stage's units, all origins together. */
    DROP_SHARE: `twenty_sse:drop_share:ratio${timing.window}`,
  } as const;
}

const label = (name: string): string => `{{ $labels.${name} }}`;
const percent = (share: number): string => `${Math.round(share * 1000) / 10}%`;

/**
 * The stages an exception in `stage` passes through on its way out, reversed:
 * those before it in pipeline order. `deliver` runs on its own (the API
 * server's SSE iterator), so no stage encloses it and it encloses none.
 */
function stagesInside(stage: Stage): Stage[] {
  if (stage === 'deliver') return [];
  return STAGES.slice(STAGES.indexOf(stage) + 1).filter((inner) => inner !== 'deliver');
}

/**
 * Failed units of `source` (a recorded increase), summed by `labels`, kept
 * only at the innermost stage that failed within each `scope` (a process, or
 * an origin): one exception is one failure, not one per enclosing stage.
 */
function innermostFailures(source: string, labels: string[], scope: string[]): string {
  return STAGES.map((stage) => {
    const failed = sumBy(labels, series(source, stageIs(stage), outcomeIs('failed')));
    const inside = stagesInside(stage);
    if (inside.length === 0) return `(${failed} > 0)`;
    const innerFailed = sumBy(scope, series(source, matchesRegex(STAGE, inside.join('|')), outcomeIs('failed')));
    return `(${failed} > 0 unless on (${scope.join(', ')}) (${innerFailed} > 0))`;
  }).join(' or ');
}

function recordingRules(timing: RuleTiming): RecordingRule[] {
  const record = recordNames(timing);
  const stageOrigin = [STAGE, ORIGIN];
  const entered = record.STAGE_UNITS_INCREASE;
  const lossDrops = sumBy(
    stageOrigin,
    series(record.STAGE_EVENTS_INCREASE, outcomeIs('dropped'), dropReasonIn(LOSS_REASONS)),
  );
  const failures = sumBy(stageOrigin, series(record.INNERMOST_FAILURES_INCREASE));
  const share = (origin: Origin) => series(record.LOSS_SHARE, originIs(origin));
  const enough = (origin: Origin) => `(${series(entered, originIs(origin))} >= ${timing.minUnits})`;
  return [
    {
      // Counts a series born inside the window from zero (see increaseFromZero), so one drop is never invisible.
      record: record.STAGE_EVENTS_INCREASE,
      expr: sumBy([JOB, INSTANCE, STAGE, ORIGIN, OUTCOME, REASON], increaseFromZero(EVENTS, timing.window)),
    },
    // Workflow events are published by the queue workers and UI events by the API servers: shares compare across processes.
    { record: entered, expr: sumBy(stageOrigin, record.STAGE_EVENTS_INCREASE) },
    {
      record: record.INNERMOST_FAILURES_INCREASE,
      expr: innermostFailures(record.STAGE_EVENTS_INCREASE, [JOB, INSTANCE, STAGE, ORIGIN], [JOB, INSTANCE]),
    },
    {
      record: record.LOSS_SHARE,
      expr: `(${sumOfPartial(lossDrops, failures, stageOrigin)} or 0 * ${entered}) / on (${stageOrigin.join(', ')}) (${entered} > 0)`,
    },
    {
      // Only where both origins saw enough units: with no UI traffic there is nothing to compare with.
      record: record.WORKFLOW_MINUS_UI_LOSS_SHARE,
      expr: `(${share('workflow')} - ignoring (${ORIGIN}) ${share('ui')}) and ignoring (${ORIGIN}) ${enough('workflow')} and ignoring (${ORIGIN}) ${enough('ui')}`,
    },
    {
      record: record.DROP_SHARE,
      expr: `${sumBy([STAGE, REASON], series(record.STAGE_EVENTS_INCREASE, outcomeIs('dropped')))} / on (${STAGE}) group_left () (${sumBy(
        [STAGE],
        entered,
      )} > 0)`,
    },
  ];
}

type AlertWithoutRunbook = Omit<AlertingRule, 'annotations'> & {
  annotations: Omit<AlertingRule['annotations'], 'runbook_url'>;
};

function alert(name: string, rule: Omit<AlertWithoutRunbook, 'alert'>): AlertWithoutRunbook {
  return { alert: name, expr: rule.expr, for: rule.for, labels: rule.labels, annotations: rule.annotations };
}

const jaeger = (search: Parameters<typeof jaegerSearchUrl>[1]) => jaegerSearchUrl(DEFAULT_JAEGER_URL, search);

/** Adds a constant label to every series of `expr`. */
const withLabel = (expr: string, name: string, value: string): string =>
  `label_replace(${expr}, "${name}", "${value}", "", "")`;

function pipelineAlerts(timing: RuleTiming): AlertWithoutRunbook[] {
  const record = recordNames(timing);
  const targetsFound = publishStageTargetsFound();
  const stageUnits = sumBy([STAGE], record.STAGE_UNITS_INCREASE);
  const enoughAtStage = `on (${STAGE}) (${stageUnits} >= ${timing.minUnits})`;
  const baselineShare = `${sumBy([STAGE, REASON], `increase(${series(EVENTS, outcomeIs('dropped'), dropReasonIn(SPIKE_REASONS))}[${timing.baseline}] offset ${timing.window})`)} / on (${STAGE}) group_left () (${sumBy(
    [STAGE],
    `increase(${EVENTS}[${timing.baseline}] offset ${timing.window})`,
  )} > 0)`;
  const spikeShare = series(record.DROP_SHARE, dropReasonIn(SPIKE_REASONS));
  const churn = CHURN_REASONS.map((reason) => {
    const routine = routineShareOf(reason) as number;
    return withLabel(
      `${series(record.DROP_SHARE, dropReasonIs(reason))} > ${routine}`,
      'routine_share',
      percent(routine),
    );
  }).join(' or ');
  return [
    alert('TwentySseWorkflowLossAboveUi', {
      expr: `${record.WORKFLOW_MINUS_UI_LOSS_SHARE} > ${DIVERGENCE_THRESHOLD}`,
      for: timing.divergenceFor,
      labels: { severity: 'critical', origin: 'workflow' },
      annotations: {
        summary: `Workflow record events are lost at stage ${label(STAGE)} while UI events get through`,
        description: `Over the last ${timing.window}, the share of workflow-origin units lost at stage ${label(
          STAGE,
        )} (loss-kind drops and failures) exceeds the UI share by {{ $value | humanizePercentage }} (threshold ${percent(
          DIVERGENCE_THRESHOLD,
        )}; both origins had at least ${timing.minUnits} units there). Tables open in a browser miss those workflow changes until reload.`,
        // The divergence spans processes, so the search leaves the service to pick (the queue worker for most stages).
        jaeger_search: jaeger({
          tags: { [ATTR.ORIGIN]: 'workflow', [ATTR.STAGE]: label(STAGE), [ATTR.OUTCOME]: 'dropped' },
        }),
      },
    }),
    alert('TwentySseEventsFailing', {
      expr: `${sumBy([JOB, INSTANCE, STAGE], record.INNERMOST_FAILURES_INCREASE)} > 0`,
      for: timing.failureFor,
      labels: { severity: 'critical' },
      annotations: {
        summary: `${label(JOB)} ${label(INSTANCE)}: record events fail at stage ${label(STAGE)}`,
        description: `Instance ${label(INSTANCE)} of ${label(JOB)} threw at stage ${label(STAGE)} for {{ $value }} units in the last ${
          timing.window
        } (the innermost failing stage; the stages around it saw the same exception pass). Those events reached no browser.`,
        jaeger_search: jaeger({ service: label(JOB), tags: { [ATTR.STAGE]: label(STAGE), [ATTR.OUTCOME]: 'failed' } }),
      },
    }),
    alert('TwentySseLossSpike', {
      expr: `(${spikeShare} > ${SPIKE_MIN_SHARE}) and ((${spikeShare} > ${SPIKE_FACTOR} * ${baselineShare}) or (${spikeShare} unless ${baselineShare})) and ${enoughAtStage}`,
      for: timing.spikeFor,
      labels: { severity: 'warning' },
      annotations: {
        summary: `${label(REASON)} drops take {{ $value | humanizePercentage }} of stage ${label(STAGE)}`,
        description: `Over the last ${timing.window}, ${label(REASON)} ended {{ $value | humanizePercentage }} of the units at stage ${label(
          STAGE,
        )} (all origins), more than ${percent(SPIKE_MIN_SHARE)} and ${SPIKE_FACTOR} times its share over the ${timing.baseline} before. Subscribers stopped receiving events they received before.`,
        jaeger_search: jaeger({ tags: { [ATTR.STAGE]: label(STAGE), [ATTR.DROP_REASON]: label(REASON) } }),
      },
    }),
    alert('TwentySseDropsAboveRoutineLevel', {
      expr: `(${churn}) and ${enoughAtStage}`,
      for: timing.churnFor,
      labels: { severity: 'warning' },
      annotations: {
        summary: `${label(REASON)} drops take {{ $value | humanizePercentage }} of stage ${label(STAGE)} (routine: below ${label('routine_share')})`,
        description: `Over the last ${timing.window}, ${label(REASON)} ended {{ $value | humanizePercentage }} of the units at stage ${label(
          STAGE,
        )}. A little of it is routine (below ${label('routine_share')}); this much means the cause is no longer routine.`,
        jaeger_search: jaeger({ tags: { [ATTR.STAGE]: label(STAGE), [ATTR.DROP_REASON]: label(REASON) } }),
      },
    }),
    alert('TwentySseUnattributedDrops', {
      expr: `${sumBy([JOB, INSTANCE, STAGE, ORIGIN], series(record.STAGE_EVENTS_INCREASE, dropReasonIs('unattributed')))} > 0`,
      for: timing.failureFor,
      labels: { severity: 'warning', origin: label(ORIGIN) },
      annotations: {
        summary: `Twenty changed; a drop the package cannot explain (stage ${label(STAGE)})`,
        description: `${label(JOB)} ${label(INSTANCE)} dropped {{ $value }} ${label(ORIGIN)}-origin units at stage ${label(
          STAGE,
        )} in the last ${timing.window} and no drop rule named the reason. The Twenty version in use has a drop path the package does not know yet.`,
        jaeger_search: jaeger({
          service: label(JOB),
          tags: { [ATTR.DROP_REASON]: 'unattributed', [ATTR.ORIGIN]: label(ORIGIN) },
        }),
      },
    }),
    alert('TwentySseTelemetryAbsent', {
      expr: `absent(${EVENTS}) and absent(${PROM.INSTRUMENTATION_TARGETS})`,
      for: timing.absentFor,
      labels: { severity: 'warning' },
      annotations: {
        summary: 'No twenty_sse telemetry reaches Prometheus',
        description: `Neither ${EVENTS} nor ${PROM.INSTRUMENTATION_TARGETS} has been scraped for ${timing.absentFor}: the package is not loaded or disabled in Twenty, or metrics do not get through the collector.`,
        jaeger_search: jaeger({}),
      },
    }),
    alert('TwentySseInstrumentationTargetsMissing', {
      expr: `(${targetsFound}) == 0`,
      for: '0m',
      labels: { severity: 'warning' },
      annotations: {
        summary: `${label(JOB)} ${label(INSTANCE)}: no publish-stage instrumentation target found`,
        description: `${label(JOB)} ${label(
          INSTANCE,
        )} found none of the publish-stage targets (WorkspaceEventEmitterService or ObjectRecordEventPublisher publish / processStreamEvents / processObjectRecordStreamEvents). The package cannot see fanout and stream drops on this Twenty version.`,
        jaeger_search: jaeger({ service: label(JOB) }),
      },
    }),
    alert('TwentySseInstrumentationErrors', {
      expr: `${sumBy([JOB, INSTANCE, PROM.LABEL_COMPONENT], increaseFromZero(PROM.INSTRUMENTATION_ERRORS, timing.window))} > 0`,
      for: '0m',
      labels: { severity: 'warning' },
      annotations: {
        summary: `Instrumentation faults in ${label(JOB)} ${label(INSTANCE)} (${label(PROM.LABEL_COMPONENT)})`,
        description: `The instrumentation swallowed {{ $value }} faults in component ${label(PROM.LABEL_COMPONENT)} of ${label(
          JOB,
        )} ${label(INSTANCE)} in the last ${timing.window}. Twenty kept working; some stage counts or spans may be missing.`,
        jaeger_search: jaeger({ service: label(JOB), tags: { error: 'true' } }),
      },
    }),
  ];
}

/**
 * Events published into streams with no live connection. A closed tab's
 * stream stays registered until its TTL, so with nobody else online every
 * publish to it reaches no one: routine. It is alarming when browsers ARE
 * connected (an API server reports open SSE connections) and still most
 * publishes reach no subscriber, for longer than a reconnect takes. Without
 * the connections metric (API servers without the package) the share, its
 * volume and its persistence alone decide.
 */
function lastMileAlerts(timing: RuleTiming): AlertWithoutRunbook[] {
  const record = recordNames(timing);
  const threshold = routineShareOf(LAST_MILE_REASON) as number;
  const share = series(record.DROP_SHARE, stageIs('pubsub'), dropReasonIs(LAST_MILE_REASON));
  const enough = `on (${STAGE}) (${sumBy([STAGE], series(record.STAGE_UNITS_INCREASE, stageIs('pubsub')))} >= ${timing.minUnits})`;
  const connected = `sum(${PROM.CONNECTIONS_ACTIVE}) > 0 or on () absent(${PROM.CONNECTIONS_ACTIVE})`;
  return [
    alert('TwentySseNoLiveConnection', {
      expr: `(${share} > ${threshold}) and ${enough} and on () (${connected})`,
      for: LAST_MILE_FOR,
      labels: { severity: 'warning' },
      annotations: {
        summary: 'Most event-stream publishes reach no subscriber while browsers are connected',
        description: `For ${LAST_MILE_FOR}, {{ $value | humanizePercentage }} of the events published to SSE event streams (over ${timing.window}, whole deployment) reached no subscriber in Redis (no_live_connection) while API servers held open SSE connections: the streams are registered but the servers holding their connections do not receive them. Open tabs miss these updates until reload.`,
        jaeger_search: jaeger({ tags: { [ATTR.DROP_REASON]: LAST_MILE_REASON } }),
      },
    }),
  ];
}

function collectorAlerts(timing: RuleTiming): AlertWithoutRunbook[] {
  const increased = (name: string, labels: string[]) =>
    `${sumBy([JOB, ...labels], increaseFromZero(seriesByNameRegex(`${name}(_total)?`), timing.window))} > 0`;
  return [
    alert('CollectorRefusingSpans', {
      expr: increased('otelcol_receiver_refused_spans', ['receiver', 'transport']),
      for: '0m',
      labels: { severity: 'warning' },
      annotations: {
        summary: `Collector receiver ${label('receiver')} refuses spans`,
        description: `The collector (${label('job')}) refused {{ $value }} spans on ${label('receiver')}/${label(
          'transport',
        )} in the last ${timing.window}, usually the memory limiter. Those spans are lost; the twenty_sse counters are unaffected.`,
        jaeger_search: jaeger({}),
      },
    }),
    alert('CollectorExportFailing', {
      expr: increased('otelcol_exporter_send_failed_spans', ['exporter']),
      for: '0m',
      labels: { severity: 'warning' },
      annotations: {
        summary: `Collector exporter ${label('exporter')} fails to send spans`,
        description: `The collector (${label('job')}) failed to send {{ $value }} spans through ${label(
          'exporter',
        )} in the last ${timing.window}: Jaeger is down or unreachable, so drop traces are missing from Jaeger.`,
        jaeger_search: jaeger({}),
      },
    }),
  ];
}

/**
 * `runbookBaseUrl`: where RUNBOOK.md is for the alerts' runbook_url (see defaultRunbookBaseUrl); `timing`: the
 * durations (the live test compresses them).
 */
export function buildRuleGroups(
  runbookBaseUrl: string = RUNBOOK_RELATIVE_TO_RULES,
  timing: RuleTiming = PRODUCTION_TIMING,
): RuleGroup[] {
  const withRunbook = (rule: AlertWithoutRunbook): AlertingRule => ({
    ...rule,
    annotations: { ...rule.annotations, runbook_url: runbookUrl(rule.alert, runbookBaseUrl) },
  });
  // One group: its rules run in order at each evaluation, so every alert reads the recorded series of the same evaluation.
  return [
    {
      name: 'twenty-sse',
      rules: [
        ...recordingRules(timing),
        ...pipelineAlerts(timing).map(withRunbook),
        ...lastMileAlerts(timing).map(withRunbook),
      ],
    },
    { name: 'otel-collector.alerts', rules: collectorAlerts(timing).map(withRunbook) },
  ];
}

export const ruleNames = (timing: RuleTiming = PRODUCTION_TIMING): string[] =>
  buildRuleGroups(RUNBOOK_RELATIVE_TO_RULES, timing).flatMap((group) =>
    group.rules.map((rule) => (isAlertingRule(rule) ? rule.alert : rule.record)),
  );
