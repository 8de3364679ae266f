/**
 * promtool unit tests for the rules, written to
 * dashboards/prometheus/tests/twenty-sse.rules.test.yml. Each case states the
 * input series and which alerts fire with which labels; the expected
 * annotations are rendered from the rule templates, so promtool also checks
 * that every template expands.
 */
import { PROM, type DropReason, type Origin, type Outcome, type Stage } from '../../src/semconv';
import { RECORD, buildRuleGroups, isAlertingRule, type AlertingRule } from './rules';

interface InputSeries {
  series: string;
  values: string;
}

interface AlertExpectation {
  at: string;
  alert: string;
  /** Labels of each firing alert as the expression outputs them (the rule's own labels are added). */
  firing: Array<{ labels: Record<string, string>; value: number }>;
}

interface ExprExpectation {
  at: string;
  expr: string;
  samples: Array<{ series: string; value: number }>;
}

interface TestGroup {
  name: string;
  input: InputSeries[];
  alerts: AlertExpectation[];
  exprs?: ExprExpectation[];
}

const INTERVAL = '1m';
const SERVER = 'twenty-server';
const WORKER = 'twenty-worker';
const COLLECTOR = 'otel-collector-internal';

const seriesText = (metric: string, labels: Record<string, string>): string =>
  `${metric}{${Object.entries(labels)
    .map(([name, value]) => `${name}="${value}"`)
    .join(', ')}}`;

function stageLabels(job: string, stage: Stage, origin: Origin, outcome: Outcome, reason?: DropReason) {
  return {
    job,
    [PROM.LABEL_STAGE]: stage,
    [PROM.LABEL_ORIGIN]: origin,
    [PROM.LABEL_OUTCOME]: outcome,
    ...(reason === undefined ? {} : { [PROM.LABEL_DROP_REASON]: reason }),
  };
}

function stageEvents(values: string, ...labels: Parameters<typeof stageLabels>): InputSeries {
  return { series: seriesText(PROM.STAGE_EVENTS, stageLabels(...labels)), values };
}

function target(job: string, targetClass: string, method: string, status: 'found' | 'missing'): InputSeries {
  return {
    series: seriesText(PROM.INSTRUMENTATION_TARGETS, {
      job,
      [PROM.LABEL_TARGET_CLASS]: targetClass,
      [PROM.LABEL_TARGET_METHOD]: method,
      [PROM.LABEL_TARGET_STATUS]: status,
    }),
    values: '1+0x10',
  };
}

const STAGE = PROM.LABEL_STAGE;
const ORIGIN = PROM.LABEL_ORIGIN;
const REASON = PROM.LABEL_DROP_REASON;

/** Counters in the cases grow by 60/min = 1/s, so 5m rates and increases come out exact. */
const TEST_GROUPS: TestGroup[] = [
  {
    name: 'workflow drops fire TwentySseWorkflowEventsDropped; routine UI drops fire nothing',
    input: [
      stageEvents('0+60x20', WORKER, 'stream', 'workflow', 'dropped', 'subscriber_without_user_workspace'),
      stageEvents('0+180x20', WORKER, 'stream', 'workflow', 'forwarded'),
      stageEvents('0+60x20', SERVER, 'stream', 'ui', 'dropped', 'no_matching_query'),
      stageEvents('0+60x20', SERVER, 'stream', 'ui', 'forwarded'),
    ],
    alerts: [
      {
        at: '10m',
        alert: 'TwentySseWorkflowEventsDropped',
        firing: [{ labels: { job: WORKER, [STAGE]: 'stream', [REASON]: 'subscriber_without_user_workspace' }, value: 300 }],
      },
      {
        at: '10m',
        alert: 'TwentySseDropRatioHigh',
        firing: [{ labels: { job: WORKER, [STAGE]: 'stream', [ORIGIN]: 'workflow' }, value: 0.25 }],
      },
      { at: '10m', alert: 'TwentySseUnattributedDrops', firing: [] },
    ],
    exprs: [
      {
        at: '10m',
        expr: `${RECORD.STAGE_EVENTS_RATE}{${ORIGIN}="workflow"}`,
        samples: [
          { series: seriesText(RECORD.STAGE_EVENTS_RATE, stageLabels(WORKER, 'stream', 'workflow', 'dropped', 'subscriber_without_user_workspace')), value: 1 },
          { series: seriesText(RECORD.STAGE_EVENTS_RATE, stageLabels(WORKER, 'stream', 'workflow', 'forwarded')), value: 3 },
        ],
      },
      {
        at: '10m',
        expr: `${RECORD.STAGE_EVENTS_INCREASE}{${PROM.LABEL_OUTCOME}="dropped"}`,
        samples: [
          { series: seriesText(RECORD.STAGE_EVENTS_INCREASE, stageLabels(WORKER, 'stream', 'workflow', 'dropped', 'subscriber_without_user_workspace')), value: 300 },
          { series: seriesText(RECORD.STAGE_EVENTS_INCREASE, stageLabels(SERVER, 'stream', 'ui', 'dropped', 'no_matching_query')), value: 300 },
        ],
      },
      {
        at: '10m',
        expr: RECORD.DROP_RATIO,
        samples: [
          { series: seriesText(RECORD.DROP_RATIO, { job: WORKER, [STAGE]: 'stream', [ORIGIN]: 'workflow' }), value: 0.25 },
          { series: seriesText(RECORD.DROP_RATIO, { job: SERVER, [STAGE]: 'stream', [ORIGIN]: 'ui' }), value: 0.5 },
        ],
      },
      {
        at: '10m',
        expr: RECORD.UNEXPECTED_DROP_RATIO,
        samples: [
          { series: seriesText(RECORD.UNEXPECTED_DROP_RATIO, { job: WORKER, [STAGE]: 'stream', [ORIGIN]: 'workflow' }), value: 0.25 },
          { series: seriesText(RECORD.UNEXPECTED_DROP_RATIO, { job: SERVER, [STAGE]: 'stream', [ORIGIN]: 'ui' }), value: 0 },
        ],
      },
    ],
  },
  {
    name: 'UI-only drops fire TwentySseDropRatioHigh for ui and not TwentySseWorkflowEventsDropped',
    input: [
      stageEvents('0+60x20', SERVER, 'emit', 'ui', 'forwarded'),
      stageEvents('0+60x20', SERVER, 'stream', 'ui', 'dropped', 'subscriber_without_role'),
      stageEvents('0+60x20', SERVER, 'stream', 'ui', 'forwarded'),
      stageEvents('0+120x20', SERVER, 'deliver', 'ui', 'forwarded'),
    ],
    alerts: [
      { at: '10m', alert: 'TwentySseWorkflowEventsDropped', firing: [] },
      {
        at: '10m',
        alert: 'TwentySseDropRatioHigh',
        firing: [{ labels: { job: SERVER, [STAGE]: 'stream', [ORIGIN]: 'ui' }, value: 0.5 }],
      },
    ],
    exprs: [
      {
        at: '10m',
        expr: RECORD.DELIVERY_RATIO,
        samples: [{ series: seriesText(RECORD.DELIVERY_RATIO, { [ORIGIN]: 'ui' }), value: 2 }],
      },
    ],
  },
  {
    name: 'a single drop (counter exported at 1 and never again) fires at once, then clears',
    input: [stageEvents('_ _ _ 1+0x11', WORKER, 'stream', 'workflow', 'dropped', 'stream_expired')],
    alerts: [
      {
        at: '4m',
        alert: 'TwentySseWorkflowEventsDropped',
        firing: [{ labels: { job: WORKER, [STAGE]: 'stream', [REASON]: 'stream_expired' }, value: 1 }],
      },
      { at: '12m', alert: 'TwentySseWorkflowEventsDropped', firing: [] },
    ],
  },
  {
    name: 'unattributed drops fire TwentySseUnattributedDrops',
    input: [stageEvents('0+1x20', SERVER, 'fanout', 'ui', 'dropped', 'unattributed')],
    alerts: [
      {
        at: '10m',
        alert: 'TwentySseUnattributedDrops',
        firing: [{ labels: { job: SERVER, [STAGE]: 'fanout', [ORIGIN]: 'ui' }, value: 5 }],
      },
      { at: '10m', alert: 'TwentySseWorkflowEventsDropped', firing: [] },
    ],
  },
  {
    name: 'no twenty_sse metric at all fires TwentySseTelemetryAbsent after its for',
    input: [{ series: seriesText('up', { job: COLLECTOR }), values: '1+0x20' }],
    alerts: [
      { at: '3m', alert: 'TwentySseTelemetryAbsent', firing: [] },
      { at: '6m', alert: 'TwentySseTelemetryAbsent', firing: [{ labels: {}, value: 1 }] },
    ],
  },
  {
    name: 'instrumentation targets alone keep TwentySseTelemetryAbsent quiet',
    input: [target(SERVER, 'ObjectRecordEventPublisher', 'publish', 'found')],
    alerts: [{ at: '6m', alert: 'TwentySseTelemetryAbsent', firing: [] }],
  },
  {
    name: 'a process without any publish-stage target fires TwentySseInstrumentationTargetsMissing',
    input: [
      target(WORKER, 'WorkspaceEventEmitterService', 'publish', 'missing'),
      target(WORKER, 'WorkspaceEventEmitterService', 'processStreamEvents', 'missing'),
      target(WORKER, 'SubscriptionService', 'publish', 'found'),
      target(SERVER, 'ObjectRecordEventPublisher', 'publish', 'found'),
      target(SERVER, 'WorkspaceEventEmitterService', 'publish', 'missing'),
    ],
    alerts: [
      { at: '5m', alert: 'TwentySseInstrumentationTargetsMissing', firing: [{ labels: { job: WORKER }, value: 0 }] },
    ],
  },
  {
    name: 'swallowed instrumentation faults fire TwentySseInstrumentationErrors',
    input: [{ series: seriesText(PROM.INSTRUMENTATION_ERRORS, { job: SERVER, [PROM.LABEL_COMPONENT]: 'deliver' }), values: '0+1x20' }],
    alerts: [
      {
        at: '10m',
        alert: 'TwentySseInstrumentationErrors',
        firing: [{ labels: { job: SERVER, [PROM.LABEL_COMPONENT]: 'deliver' }, value: 5 }],
      },
    ],
  },
  {
    name: 'collector refusals and export failures fire, with or without the _total suffix',
    input: [
      { series: seriesText('otelcol_receiver_refused_spans', { job: COLLECTOR, receiver: 'otlp', transport: 'http' }), values: '0+10x20' },
      { series: seriesText('otelcol_receiver_refused_spans_total', { job: 'otel-collector-next', receiver: 'otlp', transport: 'grpc' }), values: '0+10x20' },
      { series: seriesText('otelcol_exporter_send_failed_spans_total', { job: COLLECTOR, exporter: 'otlp/jaeger' }), values: '0+10x20' },
      { series: seriesText('otelcol_exporter_send_failed_spans', { job: 'otel-collector-quiet', exporter: 'otlp/jaeger' }), values: '0+0x20' },
    ],
    alerts: [
      {
        at: '10m',
        alert: 'CollectorRefusingSpans',
        firing: [
          { labels: { job: COLLECTOR, receiver: 'otlp', transport: 'http' }, value: 50 },
          { labels: { job: 'otel-collector-next', receiver: 'otlp', transport: 'grpc' }, value: 50 },
        ],
      },
      { at: '10m', alert: 'CollectorExportFailing', firing: [{ labels: { job: COLLECTOR, exporter: 'otlp/jaeger' }, value: 50 }] },
    ],
  },
];

/** Go's %v for float64, for the values these cases use. */
function formatGoFloat(value: number): string {
  if (value !== 0 && (Math.abs(value) >= 1e6 || Math.abs(value) < 1e-4)) {
    throw new Error(`formatGoFloat: ${value} would print in exponent form; pick a smaller test value`);
  }
  return String(value);
}

/** Expands the `{{ $labels.x }}` and `{{ $value }}` templates the rules use, as Prometheus does. */
export function renderTemplate(template: string, labels: Record<string, string>, value: number): string {
  const rendered = template
    .replace(/\{\{ \$labels\.(\w+) \}\}/g, (_, name: string) => {
      const labelValue = labels[name];
      if (labelValue === undefined) throw new Error(`template uses $labels.${name}, which the expression does not output: ${template}`);
      return labelValue;
    })
    .replace(/\{\{ \$value \}\}/g, formatGoFloat(value));
  if (rendered.includes('{{')) throw new Error(`unsupported template syntax in: ${template}`);
  return rendered;
}

function alertingRule(name: string, runbookBaseUrl: string): AlertingRule {
  const rule = buildRuleGroups(runbookBaseUrl)
    .flatMap((group) => group.rules)
    .find((candidate) => isAlertingRule(candidate) && candidate.alert === name);
  if (rule === undefined || !isAlertingRule(rule)) throw new Error(`no alerting rule ${name}`);
  return rule;
}

function expectedAlerts(expectation: AlertExpectation, runbookBaseUrl: string): Record<string, unknown> {
  const rule = alertingRule(expectation.alert, runbookBaseUrl);
  return {
    eval_time: expectation.at,
    alertname: expectation.alert,
    exp_alerts: expectation.firing.map(({ labels, value }) => {
      const ruleLabels = Object.fromEntries(
        Object.entries(rule.labels).map(([name, template]) => [name, renderTemplate(template, labels, value)]),
      );
      return {
        exp_labels: { ...labels, ...ruleLabels },
        exp_annotations: Object.fromEntries(
          Object.entries(rule.annotations).map(([name, template]) => [name, renderTemplate(template, labels, value)]),
        ),
      };
    }),
  };
}

/** The promtool test file; `rulesPath` is relative to the test file, `runbookBaseUrl` the one the rules were built with. */
export function buildRuleTests(rulesPath: string, runbookBaseUrl: string): Record<string, unknown> {
  return {
    rule_files: [rulesPath],
    evaluation_interval: INTERVAL,
    tests: TEST_GROUPS.map((group) => ({
      name: group.name,
      interval: INTERVAL,
      input_series: group.input.map((input) => ({ series: input.series, values: input.values })),
      alert_rule_test: group.alerts.map((expectation) => expectedAlerts(expectation, runbookBaseUrl)),
      promql_expr_test: (group.exprs ?? []).map((expectation) => ({
        expr: expectation.expr,
        eval_time: expectation.at,
        exp_samples: expectation.samples.map((sample) => ({ labels: sample.series, value: sample.value })),
      })),
    })),
  };
}
