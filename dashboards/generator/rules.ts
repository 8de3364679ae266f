/**
 * Prometheus recording rules and alerts for the Twenty SSE pipeline, written
 * to dashboards/prometheus/rules/twenty-sse.rules.yml. Names from src/semconv.ts.
 */
import { ATTR, PROM, type DropReason } from '../../src/semconv';
import { DEFAULT_JAEGER_URL, jaegerSearchUrl } from './jaeger';
import {
  dropReasonIs,
  dropReasonNotIn,
  increaseFromZero,
  orZeroLike,
  originIs,
  outcomeIs,
  publishStageTargetsFound,
  rate,
  series,
  seriesByNameRegex,
  stageIs,
  sumBy,
} from './promql';

/**
 * Window of every rule. Event alerts use `for: 0m` because the window is
 * already the debounce: a drop fires on the next evaluation and the alert
 * clears 5m after the last one. The e2e test depends on that promptness.
 */
export const RULE_WINDOW = '5m';
export const EVENT_ALERT_FOR = '0m';
/** Telemetry can be missing briefly at startup (first export interval, first scrape). */
export const ABSENT_ALERT_FOR = '5m';

/** Share of units dropped at one stage, for one origin, above which DropRatioHigh fires (reasons in ROUTINE_DROP_REASONS excluded). */
export const DROP_RATIO_THRESHOLD = 0.05;

/**
 * Drop reasons that are ordinary filtering rather than loss: nobody has a
 * stream open on the workspace (D1), or the open streams watch other objects or
 * filters (D8). They dominate drop counts on a healthy server, so ratio alerts
 * leave them out; the dashboard and the per-drop alert still show them.
 */
export const ROUTINE_DROP_REASONS = ['no_active_streams', 'no_matching_query'] as const satisfies readonly DropReason[];

/**
 * RUNBOOK.md (shipped in the package, one heading per alert) as seen from the
 * rules file dashboards/prometheus/rules/: the default runbook base while
 * package.json names no repository or homepage. It needs no network and
 * resolves from a checkout and from an installed package alike.
 */
export const RUNBOOK_RELATIVE_TO_RULES = '../../../RUNBOOK.md';

/** An alert's runbook_url: its RUNBOOK.md heading's anchor (GitHub's, the name in lower case). */
export const runbookUrl = (alert: string, base: string = RUNBOOK_RELATIVE_TO_RULES): string => `${base}#${alert.toLowerCase()}`;

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
    const web = shorthand ? `https://github.com/${shorthand[1]}` : repository.replace(/^git\+/, '').replace(/\.git$/, '');
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

/** Recorded series, named level:metric:operation; the ratios are ratios of RULE_WINDOW rates. */
export const RECORD = {
  STAGE_EVENTS_RATE: `twenty_sse:stage_events:rate${RULE_WINDOW}`,
  STAGE_EVENTS_INCREASE: `twenty_sse:stage_events:increase${RULE_WINDOW}`,
  DROP_RATIO: `twenty_sse:drop_ratio:rate${RULE_WINDOW}`,
  UNEXPECTED_DROP_RATIO: `twenty_sse:unexpected_drop_ratio:rate${RULE_WINDOW}`,
  DELIVERY_RATIO: `twenty_sse:delivery_ratio:rate${RULE_WINDOW}`,
} as const;

const label = (name: string): string => `{{ $labels.${name} }}`;
const ALERT_ORIGIN_FROM_SERIES = { origin: label(ORIGIN) };

function recordingRules(): RecordingRule[] {
  // job stays: one Prometheus may scrape several Twenty deployments, and it names the Jaeger service.
  const eventLabels = ['job', STAGE, ORIGIN, OUTCOME, REASON];
  const stageOriginLabels = ['job', STAGE, ORIGIN];
  const entered = sumBy(stageOriginLabels, RECORD.STAGE_EVENTS_INCREASE);
  const droppedRatio = (...matchers: string[]) =>
    `${orZeroLike(sumBy(stageOriginLabels, series(RECORD.STAGE_EVENTS_INCREASE, outcomeIs('dropped'), ...matchers)), entered)} / (${entered} > 0)`;
  return [
    { record: RECORD.STAGE_EVENTS_RATE, expr: sumBy(eventLabels, rate(EVENTS, RULE_WINDOW)) },
    {
      // Counts a series born inside the window from zero (see increaseFromZero), so one drop is never invisible.
      record: RECORD.STAGE_EVENTS_INCREASE,
      expr: sumBy(eventLabels, increaseFromZero(EVENTS, RULE_WINDOW)),
    },
    { record: RECORD.DROP_RATIO, expr: droppedRatio() },
    { record: RECORD.UNEXPECTED_DROP_RATIO, expr: droppedRatio(dropReasonNotIn(ROUTINE_DROP_REASONS)) },
    {
      record: RECORD.DELIVERY_RATIO,
      // Deliver happens in the API server, emit in both processes: aggregate over job.
      expr: `${sumBy([ORIGIN], series(RECORD.STAGE_EVENTS_INCREASE, stageIs('deliver'), outcomeIs('forwarded')))} / (${sumBy(
        [ORIGIN],
        series(RECORD.STAGE_EVENTS_INCREASE, stageIs('emit')),
      )} > 0)`,
    },
  ];
}

type AlertWithoutRunbook = Omit<AlertingRule, 'annotations'> & { annotations: Omit<AlertingRule['annotations'], 'runbook_url'> };

function alert(name: string, rule: Omit<AlertWithoutRunbook, 'alert'>): AlertWithoutRunbook {
  return { alert: name, expr: rule.expr, for: rule.for, labels: rule.labels, annotations: rule.annotations };
}

const jaeger = (search: Parameters<typeof jaegerSearchUrl>[1]) => jaegerSearchUrl(DEFAULT_JAEGER_URL, search);

function pipelineAlerts(): AlertWithoutRunbook[] {
  const targetsFound = publishStageTargetsFound();
  return [
    alert('TwentySseWorkflowEventsDropped', {
      expr: `${sumBy(
        ['job', STAGE, REASON],
        increaseFromZero(series(EVENTS, originIs('workflow'), outcomeIs('dropped')), RULE_WINDOW),
      )} > 0`,
      for: EVENT_ALERT_FOR,
      labels: { severity: 'warning', origin: 'workflow' },
      annotations: {
        summary: `Workflow record events dropped at stage ${label(STAGE)} (${label(REASON)})`,
        description: `${label('job')} dropped {{ $value }} workflow-origin units at stage ${label(STAGE)} with reason ${label(
          REASON,
        )} in the last ${RULE_WINDOW}. Record tables open in a browser do not show these workflow changes until reload.`,
        jaeger_search: jaeger({
          service: label('job'),
          tags: { [ATTR.ORIGIN]: 'workflow', [ATTR.DROP_REASON]: label(REASON) },
        }),
      },
    }),
    alert('TwentySseDropRatioHigh', {
      expr: `${RECORD.UNEXPECTED_DROP_RATIO} > ${DROP_RATIO_THRESHOLD}`,
      for: EVENT_ALERT_FOR,
      labels: { severity: 'critical', ...ALERT_ORIGIN_FROM_SERIES },
      annotations: {
        summary: `${label('job')}: ${label(ORIGIN)} record events, more than ${DROP_RATIO_THRESHOLD * 100}% dropped at stage ${label(STAGE)}`,
        description: `Over the last ${RULE_WINDOW}, a share of {{ $value }} of the ${label(ORIGIN)}-origin units entering stage ${label(
          STAGE,
        )} were dropped for reasons other than ${ROUTINE_DROP_REASONS.join(' and ')}. Real-time table refresh is broken for those events.`,
        jaeger_search: jaeger({
          service: label('job'),
          tags: { [ATTR.ORIGIN]: label(ORIGIN), [ATTR.STAGE]: label(STAGE), [ATTR.OUTCOME]: 'dropped' },
        }),
      },
    }),
    alert('TwentySseUnattributedDrops', {
      expr: `${sumBy(['job', STAGE, ORIGIN], increaseFromZero(series(EVENTS, dropReasonIs('unattributed')), RULE_WINDOW))} > 0`,
      for: EVENT_ALERT_FOR,
      labels: { severity: 'warning', ...ALERT_ORIGIN_FROM_SERIES },
      annotations: {
        summary: `Twenty changed; a drop the package cannot explain (stage ${label(STAGE)})`,
        description: `${label('job')} dropped {{ $value }} ${label(ORIGIN)}-origin units at stage ${label(
          STAGE,
        )} in the last ${RULE_WINDOW} and no drop rule named the reason. The Twenty version in use has a drop path the package does not know yet.`,
        jaeger_search: jaeger({
          service: label('job'),
          tags: { [ATTR.DROP_REASON]: 'unattributed', [ATTR.ORIGIN]: label(ORIGIN) },
        }),
      },
    }),
    alert('TwentySseTelemetryAbsent', {
      expr: `absent(${EVENTS}) and absent(${PROM.INSTRUMENTATION_TARGETS})`,
      for: ABSENT_ALERT_FOR,
      labels: { severity: 'warning' },
      annotations: {
        summary: 'No twenty_sse telemetry reaches Prometheus',
        description: `Neither ${EVENTS} nor ${PROM.INSTRUMENTATION_TARGETS} has been scraped for ${ABSENT_ALERT_FOR}: the package is not loaded or disabled in Twenty, or metrics do not get through the collector.`,
        jaeger_search: jaeger({}),
      },
    }),
    alert('TwentySseInstrumentationTargetsMissing', {
      expr: `(${targetsFound}) == 0`,
      for: EVENT_ALERT_FOR,
      labels: { severity: 'warning' },
      annotations: {
        summary: `${label('job')}: no publish-stage instrumentation target found`,
        description: `${label(
          'job',
        )} found none of the publish-stage targets (WorkspaceEventEmitterService or ObjectRecordEventPublisher publish / processStreamEvents / processObjectRecordStreamEvents). The package cannot see fanout and stream drops on this Twenty version.`,
        jaeger_search: jaeger({ service: label('job') }),
      },
    }),
    alert('TwentySseInstrumentationErrors', {
      expr: `${sumBy(['job', PROM.LABEL_COMPONENT], increaseFromZero(PROM.INSTRUMENTATION_ERRORS, RULE_WINDOW))} > 0`,
      for: EVENT_ALERT_FOR,
      labels: { severity: 'warning' },
      annotations: {
        summary: `Instrumentation faults in ${label('job')} (${label(PROM.LABEL_COMPONENT)})`,
        description: `The instrumentation swallowed {{ $value }} faults in component ${label(
          PROM.LABEL_COMPONENT,
        )} of ${label('job')} in the last ${RULE_WINDOW}. Twenty kept working; some stage counts or spans may be missing.`,
        jaeger_search: jaeger({ service: label('job'), tags: { error: 'true' } }),
      },
    }),
  ];
}

function collectorAlerts(): AlertWithoutRunbook[] {
  const increased = (name: string, labels: string[]) =>
    `${sumBy(['job', ...labels], increaseFromZero(seriesByNameRegex(`${name}(_total)?`), RULE_WINDOW))} > 0`;
  return [
    alert('CollectorRefusingSpans', {
      expr: increased('otelcol_receiver_refused_spans', ['receiver', 'transport']),
      for: EVENT_ALERT_FOR,
      labels: { severity: 'warning' },
      annotations: {
        summary: `Collector receiver ${label('receiver')} refuses spans`,
        description: `The collector (${label('job')}) refused {{ $value }} spans on ${label('receiver')}/${label(
          'transport',
        )} in the last ${RULE_WINDOW}, usually the memory limiter. Those spans are lost; the twenty_sse counters are unaffected.`,
        jaeger_search: jaeger({}),
      },
    }),
    alert('CollectorExportFailing', {
      expr: increased('otelcol_exporter_send_failed_spans', ['exporter']),
      for: EVENT_ALERT_FOR,
      labels: { severity: 'warning' },
      annotations: {
        summary: `Collector exporter ${label('exporter')} fails to send spans`,
        description: `The collector (${label('job')}) failed to send {{ $value }} spans through ${label(
          'exporter',
        )} in the last ${RULE_WINDOW}: Jaeger is down or unreachable, so drop traces are missing from Jaeger.`,
        jaeger_search: jaeger({}),
      },
    }),
  ];
}

/** `runbookBaseUrl`: where RUNBOOK.md is for the alerts' runbook_url (see defaultRunbookBaseUrl). */
export function buildRuleGroups(runbookBaseUrl: string = RUNBOOK_RELATIVE_TO_RULES): RuleGroup[] {
  const withRunbook = (rule: AlertWithoutRunbook): AlertingRule => ({
    ...rule,
    annotations: { ...rule.annotations, runbook_url: runbookUrl(rule.alert, runbookBaseUrl) },
  });
  return [
    { name: 'twenty-sse.recording', rules: recordingRules() },
    { name: 'twenty-sse.alerts', rules: pipelineAlerts().map(withRunbook) },
    { name: 'otel-collector.alerts', rules: collectorAlerts().map(withRunbook) },
  ];
}

export const ruleNames = (): string[] =>
  buildRuleGroups().flatMap((group) => group.rules.map((rule) => (isAlertingRule(rule) ? rule.alert : rule.record)));
