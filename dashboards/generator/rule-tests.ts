/**
 * promtool unit tests for the rules, written to
 * dashboards/prometheus/tests/twenty-sse.rules.test.yml.
 *
 * Most input series come from the traffic model (traffic-model.ts): hours of
 * routine traffic must raise no alert, not even a pending one, and each loss
 * kind, injected after hours of routine traffic, must raise exactly its
 * alerts, each first firing after the measured delay that LOSS_CASES states
 * (and the README's table repeats). Small hand-made cases check what the
 * model does not reach (absent telemetry, missing targets, instrumentation
 * errors, the collector) and that every annotation template expands.
 */
import { PROM, type DropReason, type Origin, type Outcome, type Stage } from '../../src/semconv';
import {
  DIVERGENCE_THRESHOLD,
  PRODUCTION_TIMING,
  buildRuleGroups,
  durationSeconds,
  isAlertingRule,
  recordNames,
  type AlertingRule,
} from './rules';
import {
  LOSS_KINDS,
  RESTARTED_WORKER,
  SERVER_JOB,
  WORKER_RESTART_MINUTE,
  WORKER_JOB,
  WORKERS,
  counters,
  simulate,
  type LossKindId,
  type SimulationOptions,
  type WorkspaceTraffic,
} from './traffic-model';

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
  alerts?: AlertExpectation[];
  exprs?: ExprExpectation[];
}

const INTERVAL = '1m';
const SERVER = SERVER_JOB;
const WORKER = WORKER_JOB;
const COLLECTOR = 'otel-collector-internal';
const STAGE = PROM.LABEL_STAGE;
const ORIGIN = PROM.LABEL_ORIGIN;
const REASON = PROM.LABEL_DROP_REASON;
const RECORD = recordNames(PRODUCTION_TIMING);

const seriesText = (metric: string, labels: Record<string, string>): string =>
  `${metric}{${Object.entries(labels)
    .map(([name, value]) => `${name}="${value}"`)
    .join(', ')}}`;

function stageLabels(
  job: string,
  instance: string,
  stage: Stage,
  origin: Origin,
  outcome: Outcome,
  reason?: DropReason,
) {
  return {
    job,
    instance,
    [STAGE]: stage,
    [ORIGIN]: origin,
    [PROM.LABEL_OUTCOME]: outcome,
    ...(reason === undefined ? {} : { [REASON]: reason }),
  };
}

function stageEvents(values: string, ...labels: Parameters<typeof stageLabels>): InputSeries {
  return { series: seriesText(PROM.STAGE_EVENTS, stageLabels(...labels)), values };
}

function target(
  job: string,
  instance: string,
  targetClass: string,
  method: string,
  status: 'found' | 'missing',
): InputSeries {
  return {
    series: seriesText(PROM.INSTRUMENTATION_TARGETS, {
      job,
      instance,
      [PROM.LABEL_TARGET_CLASS]: targetClass,
      [PROM.LABEL_TARGET_METHOD]: method,
      [PROM.LABEL_TARGET_STATUS]: status,
    }),
    values: '1+0x10',
  };
}

// ---------------------------------------------------------------- the traffic model as promtool series

/** promtool's expanding notation for counter values: runs of equal steps as `a+bxn`, absent samples as `_xn`. */
export function promtoolValues(values: ReadonlyArray<number | undefined>): string {
  const parts: string[] = [];
  let index = 0;
  while (index < values.length) {
    const value = values[index];
    if (value === undefined) {
      let end = index;
      while (end < values.length && values[end] === undefined) end++;
      parts.push(end - index === 1 ? '_' : `_x${end - index}`);
      index = end;
      continue;
    }
    let end = index;
    const step = values[index + 1] !== undefined ? (values[index + 1] as number) - value : undefined;
    while (
      step !== undefined &&
      end + 1 < values.length &&
      values[end + 1] !== undefined &&
      (values[end + 1] as number) - (values[end] as number) === step
    )
      end++;
    parts.push(end === index ? String(value) : `${value}+${step}x${end - index}`);
    index = end + 1;
  }
  return parts.join(' ');
}

/** The model's counters, and each process's instrumentation targets (reported at startup, for as long as it runs). */
function modelSeries(options: SimulationOptions): InputSeries[] {
  const simulation = simulate(options);
  const events = [...counters(simulation)].map(([id, values]) => {
    const key = simulation.keys.get(id)!;
    return {
      series: seriesText(
        PROM.STAGE_EVENTS,
        stageLabels(key.job, key.instance, key.stage, key.origin, key.outcome, key.reason),
      ),
      values: promtoolValues(values),
    };
  });
  const processes = new Map([...simulation.keys.values()].map((key) => [`${key.job}|${key.instance}`, key]));
  const targets = [...processes.values()].map((key) => {
    const running = (minute: number) =>
      key.instance === RESTARTED_WORKER.after
        ? minute >= WORKER_RESTART_MINUTE
        : !(key.instance === RESTARTED_WORKER.before && minute >= WORKER_RESTART_MINUTE);
    const values = Array.from({ length: options.minutes }, (_, minute) => (running(minute) ? 1 : undefined));
    return {
      ...target(key.job, key.instance, 'WorkspaceEventEmitterService', 'processStreamEvents', 'found'),
      values: promtoolValues(values),
    };
  });
  return [...events, ...targets];
}

const minutes = (count: number) => `${count}m`;

/** Every alert of the shipped rules, pending or firing, at any evaluation of the last `window`. */
const anyAlertOver = (window: string, selector = 'ALERTS') => `count_over_time(${selector}[${window}])`;

// ---------------------------------------------------------------- loss cases

/** Hours of routine traffic before a loss is injected: the spike baseline has history, and the lead itself must stay silent. */
export const LEAD_MINUTES = 240;
/** How long each loss runs in its case. */
export const LOSS_MINUTES = 30;
/** The routine-only case: six hours, a worker restart included. */
export const ROUTINE_MINUTES = 360;

/** Longest acceptable delay from a loss's start to its alert firing, per alert: the README's promise. */
export const STATED_DELAY_MINUTES: Record<string, number> = {
  TwentySseWorkflowLossAboveUi: 10,
  TwentySseEventsFailing: 2,
  TwentySseLossSpike: 12,
  TwentySseDropsAboveRoutineLevel: 15,
  TwentySseUnattributedDrops: 2,
};

export interface FiredAlert {
  alert: string;
  /** The alert's labels besides alertname and alertstate. */
  labels: Record<string, string>;
  /** Measured: minutes from the loss's first minute to the first evaluation with the alert firing. */
  firesAfterMinutes: number;
}

export interface LossCase {
  kind: LossKindId;
  fires: FiredAlert[];
}

const stageLabel = (stage: Stage) => ({ [STAGE]: stage });
const divergence = (stage: Stage, firesAfterMinutes: number): FiredAlert => ({
  alert: 'TwentySseWorkflowLossAboveUi',
  labels: { ...stageLabel(stage), origin: 'workflow', severity: 'critical' },
  firesAfterMinutes,
});
const spike = (stage: Stage, reason: DropReason, firesAfterMinutes: number): FiredAlert => ({
  alert: 'TwentySseLossSpike',
  labels: { ...stageLabel(stage), [REASON]: reason, severity: 'warning' },
  firesAfterMinutes,
});
const aboveRoutine = (
  stage: Stage,
  reason: DropReason,
  routineShare: string,
  firesAfterMinutes: number,
): FiredAlert => ({
  alert: 'TwentySseDropsAboveRoutineLevel',
  labels: { ...stageLabel(stage), [REASON]: reason, routine_share: routineShare, severity: 'warning' },
  firesAfterMinutes,
});

/** Which alerts each injected loss raises, and after how long: measured by the promtool tests, which fail if it changes. */
export const LOSS_CASES: LossCase[] = [
  {
    kind: 'seed_hypothesis',
    fires: [divergence('stream', 5), spike('stream', 'subscriber_without_user_workspace', 7)],
  },
  { kind: 'workflow_access_denied', fires: [divergence('stream', 7), spike('stream', 'record_access_denied', 10)] },
  { kind: 'streams_expiring', fires: [aboveRoutine('stream', 'stream_expired', '5%', 11)] },
  {
    kind: 'redis_publish_failing',
    fires: [
      {
        alert: 'TwentySseEventsFailing',
        labels: { job: WORKER, instance: WORKERS[0], ...stageLabel('legacy_pubsub'), severity: 'critical' },
        firesAfterMinutes: 0,
      },
      divergence('legacy_pubsub', 7),
    ],
  },
  { kind: 'step_emits_nothing', fires: [aboveRoutine('workflow_step', 'not_emitted', '10%', 12)] },
  {
    kind: 'unknown_drop_path',
    fires: [
      ...WORKERS.map((worker) => ({
        alert: 'TwentySseUnattributedDrops',
        labels: {
          job: WORKER,
          instance: worker === RESTARTED_WORKER.before ? RESTARTED_WORKER.after : worker,
          ...stageLabel('stream'),
          [ORIGIN]: 'workflow',
          origin: 'workflow',
          severity: 'warning',
        },
        firesAfterMinutes: 0,
      })),
      divergence('stream', 8),
    ],
  },
];

/** "TwentySseEventsFailing twenty-worker worker-a legacy_pubsub (0)": how the README's table lists a fired alert. */
export const describeFiredAlert = (fired: FiredAlert): string =>
  [fired.alert, fired.labels.job, fired.labels.instance, fired.labels[STAGE], fired.labels[REASON]]
    .filter((part) => part !== undefined)
    .join(' ') + ` (${fired.firesAfterMinutes})`;

const alertSelector = (fired: FiredAlert) =>
  seriesText('ALERTS', { alertname: fired.alert, alertstate: 'firing', ...fired.labels });

function lossCaseGroup(lossCase: LossCase): TestGroup {
  const title = LOSS_KINDS.find((kind) => kind.id === lossCase.kind)!.title;
  const end = LEAD_MINUTES + LOSS_MINUTES;
  for (const fired of lossCase.fires) {
    const stated = STATED_DELAY_MINUTES[fired.alert];
    if (stated === undefined || fired.firesAfterMinutes > stated) {
      throw new Error(
        `${lossCase.kind}: ${fired.alert} fires after ${fired.firesAfterMinutes}m, later than its stated ${stated}m`,
      );
    }
  }
  const expectedNames = [...new Set(lossCase.fires.map((fired) => fired.alert))];
  return {
    name: `${title}: after ${LEAD_MINUTES / 60}h of routine traffic, ${expectedNames.join(' and ')} fire`,
    input: modelSeries({ minutes: end + 1, loss: { kind: lossCase.kind, fromMinute: LEAD_MINUTES } }),
    exprs: [
      { at: minutes(LEAD_MINUTES - 1), expr: anyAlertOver(minutes(LEAD_MINUTES)), samples: [] },
      {
        at: minutes(end),
        expr: 'ALERTS{alertstate="firing"}',
        samples: lossCase.fires.map((fired) => ({ series: alertSelector(fired), value: 1 })),
      },
      {
        at: minutes(end),
        expr: anyAlertOver(minutes(LOSS_MINUTES), `ALERTS{alertname!~"${expectedNames.join('|')}"}`),
        samples: [],
      },
      ...lossCase.fires.map((fired) => ({
        at: minutes(end),
        // First evaluation at which the alert fired, as minutes after the loss began.
        expr: `(min_over_time(timestamp(${alertSelector(fired)})[${minutes(LOSS_MINUTES)}:${INTERVAL}]) - ${LEAD_MINUTES * 60}) / 60`,
        samples: [
          {
            series: seriesText('', { alertname: fired.alert, alertstate: 'firing', ...fired.labels }),
            value: fired.firesAfterMinutes,
          },
        ],
      })),
    ],
  };
}

/** A quiet night: one small workspace, two tabs, a few writes an hour. */
const QUIET_NIGHT: WorkspaceTraffic[] = [
  {
    name: 'night',
    writes: { ui: { company: 0.2 }, workflow: { company: 0.3, person: 0.2 } },
    tabs: [
      { object: 'company', tabs: 1, matchShare: 1 },
      { object: 'person', tabs: 1, matchShare: 1 },
    ],
    tabTurnoverPerBlock: 0,
  },
];

function modelGroups(): TestGroup[] {
  const routineEnd = minutes(ROUTINE_MINUTES);
  return [
    {
      name: `routine traffic (about 150 tabs over several objects and filters, UI and workflow writers, tabs opening, closing and vanishing, a worker restart) for ${
        ROUTINE_MINUTES / 60
      }h: no alert, not even pending`,
      input: modelSeries({ minutes: ROUTINE_MINUTES + 1 }),
      exprs: [
        { at: routineEnd, expr: anyAlertOver(routineEnd), samples: [] },
        {
          // The rules did see the traffic: workflow and UI compared at every stage both pass through.
          at: routineEnd,
          expr: `count(${RECORD.WORKFLOW_MINUS_UI_LOSS_SHARE})`,
          samples: [{ series: '{}', value: 8 }],
        },
        {
          at: routineEnd,
          expr: `count(${RECORD.DROP_SHARE}{${REASON}=~"no_matching_query|no_active_streams|stream_expired|stream_without_queries|not_emitted"})`,
          samples: [{ series: '{}', value: 5 }],
        },
      ],
    },
    {
      name: `a quiet night: the seed's hypothesis on a few writes an hour stays below the minimum volume (${PRODUCTION_TIMING.minUnits} units per origin and window) and pages nobody`,
      input: modelSeries({ minutes: 241, workspaces: QUIET_NIGHT, loss: { kind: 'seed_hypothesis', fromMinute: 60 } }),
      exprs: [
        { at: '240m', expr: anyAlertOver('240m'), samples: [] },
        {
          // ...although the workflow share of lost pairs is total.
          at: '240m',
          expr: `${RECORD.LOSS_SHARE}{${STAGE}="stream"}`,
          samples: [
            { series: seriesText(RECORD.LOSS_SHARE, { [STAGE]: 'stream', [ORIGIN]: 'workflow' }), value: 1 },
            { series: seriesText(RECORD.LOSS_SHARE, { [STAGE]: 'stream', [ORIGIN]: 'ui' }), value: 0 },
          ],
        },
      ],
    },
    ...LOSS_CASES.map(lossCaseGroup),
  ];
}

// ---------------------------------------------------------------- hand-made cases

/** Counters in these cases grow by a whole number per minute, so window increases come out exact. */
function handMadeGroups(): TestGroup[] {
  const w = PRODUCTION_TIMING.window;
  return [
    {
      name: 'templates: workflow half lost at the subscriber gate while UI passes (divergence 50%, spike 25%)',
      input: [
        stageEvents('0+30x40', WORKER, 'worker-1', 'stream', 'workflow', 'forwarded'),
        stageEvents('_x20 0+30x20', WORKER, 'worker-1', 'stream', 'workflow', 'dropped', 'subscriber_without_role'),
        stageEvents('0+60x40', SERVER, 'server-1', 'stream', 'ui', 'forwarded'),
      ],
      alerts: [
        { at: '30m', alert: 'TwentySseWorkflowLossAboveUi', firing: [{ labels: { [STAGE]: 'stream' }, value: 0.5 }] },
        {
          at: '30m',
          alert: 'TwentySseLossSpike',
          firing: [{ labels: { [STAGE]: 'stream', [REASON]: 'subscriber_without_role' }, value: 0.25 }],
        },
      ],
      exprs: [
        {
          at: '30m',
          expr: RECORD.LOSS_SHARE,
          samples: [
            { series: seriesText(RECORD.LOSS_SHARE, { [STAGE]: 'stream', [ORIGIN]: 'workflow' }), value: 0.5 },
            { series: seriesText(RECORD.LOSS_SHARE, { [STAGE]: 'stream', [ORIGIN]: 'ui' }), value: 0 },
          ],
        },
      ],
    },
    {
      name: `templates: a divergence of exactly ${DIVERGENCE_THRESHOLD * 100} points does not page, nor does it with too little UI traffic`,
      input: [
        stageEvents('0+90x40', WORKER, 'worker-1', 'stream', 'workflow', 'forwarded'),
        stageEvents('0+10x40', WORKER, 'worker-1', 'stream', 'workflow', 'dropped', 'object_not_readable'),
        stageEvents('0+100x40', SERVER, 'server-1', 'stream', 'ui', 'forwarded'),
        stageEvents('0+30x40', WORKER, 'worker-1', 'fanout', 'workflow', 'dropped', 'unattributed'),
        stageEvents('0+2x40', SERVER, 'server-1', 'fanout', 'ui', 'forwarded'),
      ],
      alerts: [
        { at: '30m', alert: 'TwentySseWorkflowLossAboveUi', firing: [] },
        {
          at: '30m',
          alert: 'TwentySseUnattributedDrops',
          firing: [
            { labels: { job: WORKER, instance: 'worker-1', [STAGE]: 'fanout', [ORIGIN]: 'workflow' }, value: 300 },
          ],
        },
      ],
    },
    {
      name: 'templates: Redis publish failing on one instance pages once, at the innermost stage, naming the instance',
      input: [
        ...(['listen', 'publish', 'fanout', 'stream', 'pubsub'] as const).map((stage) =>
          stageEvents('0+5x20', WORKER, 'worker-2', stage, 'workflow', 'failed'),
        ),
        stageEvents('0+20x20', WORKER, 'worker-1', 'pubsub', 'workflow', 'forwarded'),
      ],
      alerts: [
        {
          at: '12m',
          alert: 'TwentySseEventsFailing',
          firing: [{ labels: { job: WORKER, instance: 'worker-2', [STAGE]: 'pubsub' }, value: 50 }],
        },
      ],
      exprs: [
        {
          at: '12m',
          expr: RECORD.INNERMOST_FAILURES_INCREASE,
          samples: [
            {
              series: seriesText(RECORD.INNERMOST_FAILURES_INCREASE, {
                job: WORKER,
                instance: 'worker-2',
                [STAGE]: 'pubsub',
                [ORIGIN]: 'workflow',
              }),
              value: 50,
            },
          ],
        },
      ],
    },
    {
      name: 'templates: streams expiring at 20% of the stream stage, above its routine 5%',
      input: [
        stageEvents('0+80x40', SERVER, 'server-1', 'stream', 'ui', 'forwarded'),
        stageEvents('0+20x40', SERVER, 'server-1', 'stream', 'ui', 'dropped', 'stream_expired'),
      ],
      alerts: [
        { at: '10m', alert: 'TwentySseDropsAboveRoutineLevel', firing: [] },
        {
          at: '12m',
          alert: 'TwentySseDropsAboveRoutineLevel',
          firing: [{ labels: { [STAGE]: 'stream', [REASON]: 'stream_expired', routine_share: '5%' }, value: 0.2 }],
        },
      ],
    },
    {
      name: `a single drop no rule explains (counter exported at 1 and never again) fires at once, then clears after ${w}`,
      input: [stageEvents('_ _ _ 1+0x20', WORKER, 'worker-1', 'stream', 'workflow', 'dropped', 'unattributed')],
      alerts: [
        {
          at: '4m',
          alert: 'TwentySseUnattributedDrops',
          firing: [
            { labels: { job: WORKER, instance: 'worker-1', [STAGE]: 'stream', [ORIGIN]: 'workflow' }, value: 1 },
          ],
        },
        { at: '16m', alert: 'TwentySseUnattributedDrops', firing: [] },
      ],
    },
    {
      name: 'no twenty_sse metric at all fires TwentySseTelemetryAbsent after its for',
      input: [{ series: seriesText('up', { job: COLLECTOR }), values: '1+0x20' }],
      alerts: [
        { at: '9m', alert: 'TwentySseTelemetryAbsent', firing: [] },
        { at: '11m', alert: 'TwentySseTelemetryAbsent', firing: [{ labels: {}, value: 1 }] },
      ],
    },
    {
      name: 'instrumentation targets alone keep TwentySseTelemetryAbsent quiet',
      input: [target(SERVER, 'server-1', 'ObjectRecordEventPublisher', 'publish', 'found')],
      alerts: [{ at: '11m', alert: 'TwentySseTelemetryAbsent', firing: [] }],
    },
    {
      name: 'a process without any publish-stage target fires TwentySseInstrumentationTargetsMissing, naming the instance',
      input: [
        target(WORKER, 'worker-1', 'WorkspaceEventEmitterService', 'publish', 'missing'),
        target(WORKER, 'worker-1', 'WorkspaceEventEmitterService', 'processStreamEvents', 'missing'),
        target(WORKER, 'worker-1', 'SubscriptionService', 'publish', 'found'),
        target(WORKER, 'worker-2', 'WorkspaceEventEmitterService', 'publish', 'found'),
        target(SERVER, 'server-1', 'ObjectRecordEventPublisher', 'publish', 'found'),
        target(SERVER, 'server-1', 'WorkspaceEventEmitterService', 'publish', 'missing'),
      ],
      alerts: [
        {
          at: '5m',
          alert: 'TwentySseInstrumentationTargetsMissing',
          firing: [{ labels: { job: WORKER, instance: 'worker-1' }, value: 0 }],
        },
      ],
    },
    {
      name: 'swallowed instrumentation faults fire TwentySseInstrumentationErrors',
      input: [
        {
          series: seriesText(PROM.INSTRUMENTATION_ERRORS, {
            job: SERVER,
            instance: 'server-1',
            [PROM.LABEL_COMPONENT]: 'deliver',
          }),
          values: '0+1x20',
        },
      ],
      alerts: [
        {
          at: '15m',
          alert: 'TwentySseInstrumentationErrors',
          firing: [{ labels: { job: SERVER, instance: 'server-1', [PROM.LABEL_COMPONENT]: 'deliver' }, value: 10 }],
        },
      ],
    },
    {
      name: 'collector refusals and export failures fire, with or without the _total suffix',
      input: [
        {
          series: seriesText('otelcol_receiver_refused_spans', { job: COLLECTOR, receiver: 'otlp', transport: 'http' }),
          values: '0+10x20',
        },
        {
          series: seriesText('otelcol_receiver_refused_spans_total', {
            job: 'otel-collector-next',
            receiver: 'otlp',
            transport: 'grpc',
          }),
          values: '0+10x20',
        },
        {
          series: seriesText('otelcol_exporter_send_failed_spans_total', { job: COLLECTOR, exporter: 'otlp/jaeger' }),
          values: '0+10x20',
        },
        {
          series: seriesText('otelcol_exporter_send_failed_spans', {
            job: 'otel-collector-quiet',
            exporter: 'otlp/jaeger',
          }),
          values: '0+0x20',
        },
      ],
      alerts: [
        {
          at: '15m',
          alert: 'CollectorRefusingSpans',
          firing: [
            { labels: { job: COLLECTOR, receiver: 'otlp', transport: 'http' }, value: 100 },
            { labels: { job: 'otel-collector-next', receiver: 'otlp', transport: 'grpc' }, value: 100 },
          ],
        },
        {
          at: '15m',
          alert: 'CollectorExportFailing',
          firing: [{ labels: { job: COLLECTOR, exporter: 'otlp/jaeger' }, value: 100 }],
        },
      ],
    },
  ];
}

// ---------------------------------------------------------------- templates

/** Go's %v for float64, for the values these cases use. */
function formatGoFloat(value: number): string {
  if (value !== 0 && (Math.abs(value) >= 1e6 || Math.abs(value) < 1e-4)) {
    throw new Error(`formatGoFloat: ${value} would print in exponent form; pick a smaller test value`);
  }
  return String(value);
}

/** Prometheus's humanizePercentage: Go's %.4g of value * 100, then %. */
function humanizePercentage(value: number): string {
  const percent = value * 100;
  if (percent !== 0 && (Math.abs(percent) >= 1e4 || Math.abs(percent) < 1e-4)) {
    throw new Error(`humanizePercentage: ${value} would print in exponent form; pick another test value`);
  }
  return `${Number(percent.toPrecision(4))}%`;
}

/** Expands the `{{ $labels.x }}`, `{{ $value }}` and `{{ $value | humanizePercentage }}` templates the rules use, as Prometheus does. */
export function renderTemplate(template: string, labels: Record<string, string>, value: number): string {
  const rendered = template
    .replace(/\{\{ \$labels\.(\w+) \}\}/g, (_, name: string) => {
      const labelValue = labels[name];
      if (labelValue === undefined)
        throw new Error(`template uses $labels.${name}, which the expression does not output: ${template}`);
      return labelValue;
    })
    .replace(/\{\{ \$value \| humanizePercentage \}\}/g, () => humanizePercentage(value))
    .replace(/\{\{ \$value \}\}/g, () => formatGoFloat(value));
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
      // Labels an expression adds with label_replace (routine_share) are part of `labels` already.
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

// ---------------------------------------------------------------- the last mile

/** A counter's samples, one per minute for `minutes` minutes, growing by `perMinute(minute)` in each. */
function counterValues(minutes: number, perMinute: (minute: number) => number): string {
  const values: number[] = [0];
  for (let minute = 1; minute <= minutes; minute++) values.push(values[minute - 1] + perMinute(minute));
  return promtoolValues(values);
}

const LAST_MILE_MINUTES = 45;
const noLiveConnection = (
  job: string,
  instance: string,
  origin: Origin,
  perMinute: (minute: number) => number,
): InputSeries =>
  stageEvents(
    counterValues(LAST_MILE_MINUTES, perMinute),
    job,
    instance,
    'pubsub',
    origin,
    'dropped',
    'no_live_connection',
  );
const reachedSubscribers = (
  job: string,
  instance: string,
  origin: Origin,
  perMinute: (minute: number) => number,
): InputSeries =>
  stageEvents(counterValues(LAST_MILE_MINUTES, perMinute), job, instance, 'pubsub', origin, 'forwarded');
const openConnections = (instance: string, atMinute: (minute: number) => number): InputSeries => ({
  series: seriesText(PROM.CONNECTIONS_ACTIVE, { job: SERVER, instance }),
  values: promtoolValues(Array.from({ length: LAST_MILE_MINUTES + 1 }, (_, minute) => atMinute(minute))),
});
const noLiveShare = (value: number) => ({
  series: seriesText(RECORD.DROP_SHARE, { [STAGE]: 'pubsub', [REASON]: 'no_live_connection' }),
  value,
});
const NO_LIVE_LABELS = { [STAGE]: 'pubsub', [REASON]: 'no_live_connection' };
const quiet = (at: string): AlertExpectation => ({ at, alert: 'TwentySseNoLiveConnection', firing: [] });

/**
 * TwentySseNoLiveConnection: quiet on routine tab closing (the closed tab's
 * stream keeps getting publishes until its TTL), on a steady minority of dead
 * streams, on a deploy's reconnect gap and on too little traffic; firing when
 * most publishes reach no subscriber for longer than its `for` while browsers
 * are connected (or while the API servers report no connections metric).
 */
function lastMileGroups(): TestGroup[] {
  return [
    {
      name: 'last mile, routine: the only user closed the tab; its stream gets every publish until its TTL, nobody is connected',
      input: [
        noLiveConnection(WORKER, 'worker-a', 'workflow', () => 6),
        noLiveConnection(SERVER, 'server-a', 'ui', () => 6),
        openConnections('server-a', () => 0),
      ],
      alerts: [quiet('20m'), quiet('40m')],
      exprs: [
        { at: '20m', expr: `${RECORD.DROP_SHARE}{${STAGE}="pubsub"}`, samples: [noLiveShare(1)] },
        // the generic churn alert leaves this reason to TwentySseNoLiveConnection
        { at: '40m', expr: anyAlertOver('40m'), samples: [] },
      ],
    },
    {
      name: 'last mile, routine: a fifth of the streams belong to closed tabs, others are connected',
      input: [
        noLiveConnection(WORKER, 'worker-a', 'workflow', () => 6),
        reachedSubscribers(WORKER, 'worker-a', 'workflow', () => 24),
        openConnections('server-a', () => 5),
      ],
      alerts: [quiet('40m')],
      exprs: [{ at: '40m', expr: `${RECORD.DROP_SHARE}{${STAGE}="pubsub"}`, samples: [noLiveShare(0.2)] }],
    },
    {
      name: 'last mile, routine: a deploy cuts every connection for 3 minutes, then the tabs are back',
      input: [
        noLiveConnection(SERVER, 'server-a', 'ui', (minute) => (minute > 10 && minute <= 13 ? 6 : 0)),
        reachedSubscribers(SERVER, 'server-a', 'ui', (minute) => (minute > 10 && minute <= 13 ? 0 : 6)),
        openConnections('server-a', (minute) => (minute > 10 && minute <= 13 ? 0 : 4)),
      ],
      alerts: [quiet('13m'), quiet('20m'), quiet('30m')],
    },
    {
      name: `last mile, routine: too little traffic to judge (under ${PRODUCTION_TIMING.minUnits} publishes a window), even all to nobody with a tab open`,
      input: [noLiveConnection(WORKER, 'worker-a', 'workflow', () => 1), openConnections('server-a', () => 1)],
      alerts: [quiet('40m')],
    },
    {
      name: 'last mile, alarming: browsers are connected and no publish reaches a subscriber (fires after its for, not before)',
      input: [
        noLiveConnection(WORKER, 'worker-a', 'workflow', () => 6),
        noLiveConnection(SERVER, 'server-a', 'ui', () => 6),
        openConnections('server-a', () => 3),
      ],
      alerts: [
        quiet('10m'),
        { at: '30m', alert: 'TwentySseNoLiveConnection', firing: [{ labels: NO_LIVE_LABELS, value: 1 }] },
      ],
    },
    {
      name: 'last mile, alarming: three fifths reach nobody while browsers are connected',
      input: [
        noLiveConnection(WORKER, 'worker-a', 'workflow', () => 6),
        reachedSubscribers(WORKER, 'worker-a', 'workflow', () => 4),
        openConnections('server-a', () => 2),
      ],
      alerts: [{ at: '30m', alert: 'TwentySseNoLiveConnection', firing: [{ labels: NO_LIVE_LABELS, value: 0.6 }] }],
    },
    {
      name: 'last mile, alarming: API servers without the package (no connections metric), every publish reaches nobody',
      input: [noLiveConnection(WORKER, 'worker-a', 'workflow', () => 6)],
      alerts: [{ at: '30m', alert: 'TwentySseNoLiveConnection', firing: [{ labels: NO_LIVE_LABELS, value: 1 }] }],
    },
  ];
}

export function ruleTestGroups(): TestGroup[] {
  return [...modelGroups(), ...handMadeGroups(), ...lastMileGroups()];
}

/** The promtool test file; `rulesPath` is relative to the test file, `runbookBaseUrl` the one the rules were built with. */
export function buildRuleTests(rulesPath: string, runbookBaseUrl: string): Record<string, unknown> {
  if (durationSeconds(INTERVAL) !== 60) throw new Error('the model emits one sample per minute');
  return {
    rule_files: [rulesPath],
    evaluation_interval: INTERVAL,
    tests: ruleTestGroups().map((group) => ({
      name: group.name,
      interval: INTERVAL,
      input_series: group.input.map((input) => ({ series: input.series, values: input.values })),
      alert_rule_test: (group.alerts ?? []).map((expectation) => expectedAlerts(expectation, runbookBaseUrl)),
      promql_expr_test: (group.exprs ?? []).map((expectation) => ({
        expr: expectation.expr,
        eval_time: expectation.at,
        exp_samples: expectation.samples.map((sample) => ({ labels: sample.series, value: sample.value })),
      })),
    })),
  };
}
