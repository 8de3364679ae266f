/**
 * The Grafana dashboard "Twenty SSE record events", as classic dashboard JSON.
 * Every metric, label and value comes from src/semconv.ts.
 */
import { ATTR, DROP_REASON_NAMES, ORIGINS, PROM, type Origin, type Outcome } from '../../src/semconv';
import { DEFAULT_JAEGER_URL, jaegerSearchUrl } from './jaeger';
import {
  STAGE_IN_ORDER_LABEL,
  dropReasonIs,
  dropReasonWithCode,
  inPipelineOrder,
  increaseFromZero,
  matchesRegex,
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

const DASHBOARD_UID = 'twenty-sse';
/** Grafana 10.3/11.0's; newer Grafana (12, 13) migrates it on load. */
const SCHEMA_VERSION = 39;

interface DataSourceRef {
  type: 'prometheus' | 'jaeger';
  uid: string;
}
const PROMETHEUS: DataSourceRef = { type: 'prometheus', uid: 'prometheus' };
const JAEGER: DataSourceRef = { type: 'jaeger', uid: 'jaeger' };

export interface PrometheusTarget {
  refId: string;
  datasource: DataSourceRef;
  editorMode: 'code';
  expr: string;
  legendFormat: string;
  instant: boolean;
  range: boolean;
  format: 'time_series' | 'table';
}

interface JaegerSearchTarget {
  refId: string;
  datasource: DataSourceRef;
  queryType: 'search';
  service: string;
  tags: string;
  limit: number;
}

type Target = PrometheusTarget | JaegerSearchTarget;

interface DataLink {
  title: string;
  url: string;
  targetBlank: boolean;
}

interface FieldConfig {
  defaults: Record<string, unknown> & { links?: DataLink[] };
  overrides: Array<{ matcher: { id: string; options: string }; properties: Array<{ id: string; value: unknown }> }>;
}

export interface Panel {
  id: number;
  type: 'row' | 'stat' | 'table' | 'timeseries';
  title: string;
  description?: string;
  gridPos: { h: number; w: number; x: number; y: number };
  datasource: DataSourceRef;
  targets?: Target[];
  fieldConfig?: FieldConfig;
  options?: Record<string, unknown>;
  transformations?: Array<{ id: string; options: Record<string, unknown> }>;
  collapsed?: boolean;
  panels?: Panel[];
}

/** A panel before layout: the layout assigns id and gridPos. */
type PanelSpec = Omit<Panel, 'id' | 'gridPos'> & { w: number; h: number };

// ---------------------------------------------------------------- selectors

const EVENTS = PROM.STAGE_EVENTS;
const STAGE = PROM.LABEL_STAGE;
const ORIGIN = PROM.LABEL_ORIGIN;
const REASON = PROM.LABEL_DROP_REASON;
const RANGE = '$__range';
const RATE_INTERVAL = '$__rate_interval';
/** Span calls counted by the collector's spanmetrics connector (default namespace traces.span.metrics). */
const SPAN_METRICS_CALLS = 'traces_span_metrics_calls_total';

const jobSelected = matchesRegex('job', '$job');
const originSelected = matchesRegex(ORIGIN, '$origin');

/** Stage events over the dashboard range, summed by `labels`. */
const eventsInRange = (labels: readonly string[], ...matchers: string[]): string =>
  sumBy(labels, increaseFromZero(series(EVENTS, ...matchers, jobSelected), RANGE));

/** Stage events per second, summed by `labels`. */
const eventsPerSecond = (labels: readonly string[], ...matchers: string[]): string =>
  sumBy(labels, rate(series(EVENTS, ...matchers, jobSelected), RATE_INTERVAL));

/** Per stage: units of `origin` that ended with `outcome` (0 where the stage saw the origin but not the outcome). */
function stageOutcomeInRange(origin: Origin, outcome: Outcome): string {
  return orZeroLike(
    eventsInRange([STAGE], originIs(origin), outcomeIs(outcome)),
    eventsInRange([STAGE], originIs(origin)),
  );
}

/** Per stage: dropped / entered for `origin` over the dashboard range. */
function stageDropRatioInRange(origin: Origin): string {
  return `${stageOutcomeInRange(origin, 'dropped')} / (${eventsInRange([STAGE], originIs(origin))} > 0)`;
}

// ---------------------------------------------------------------- panel parts

type Unnumbered<T> = T extends unknown ? Omit<T, 'refId'> : never;

function promQuery(expr: string, how: { instant: boolean; legend?: string; table?: boolean }): Unnumbered<PrometheusTarget> {
  return {
    datasource: PROMETHEUS,
    editorMode: 'code',
    expr,
    legendFormat: how.legend ?? '__auto',
    instant: how.instant,
    range: !how.instant,
    format: how.table === true ? 'table' : 'time_series',
  };
}

const refIdAt = (index: number): string => String.fromCharCode('A'.charCodeAt(0) + index);

/** Gives a panel's targets explicit refIds A, B, C... in order. */
function withRefIds(targets: ReadonlyArray<Unnumbered<Target>>): Target[] {
  return targets.map((target, index) => ({ refId: refIdAt(index), ...target }) as Target);
}

/**
 * One instant table query per column, merged into one table by their common
 * labels. Grafana names each query's value column `Value #<refId>`; `rename`
 * maps those (and the label columns in `labelTitles`) to readable titles.
 */
function mergedTableColumns(labelTitles: Record<string, string>, columns: ReadonlyArray<{ title: string; expr: string }>) {
  const rename: Record<string, string> = { ...labelTitles };
  columns.forEach((column, index) => {
    rename[`Value #${refIdAt(index)}`] = column.title;
  });
  return {
    targets: withRefIds(columns.map((column) => promQuery(column.expr, { instant: true, table: true }))),
    rename,
  };
}

const UNIT_NOTE =
  'Units differ by stage: `stream` counts (event x stream) pairs, `deliver` counts events handed to browser connections, `workflow_step` counts record mutations made by workflow steps; the other stages count events.';

const JAEGER_TIME_RANGE = 'lookback=custom&start=${__from}000&end=${__to}000&limit=20';

/** Data link to the Jaeger search for spans of one drop reason and origin; `labelRef` reads a label of the clicked row or series. */
function dropTracesLink(labelRef: (label: string) => string, service = '${jaeger_service}', operation?: string): DataLink {
  return {
    title: 'Jaeger: traces of these drops',
    url: jaegerSearchUrl('${jaeger_url}', {
      service,
      operation,
      tags: { [ATTR.DROP_REASON]: labelRef(REASON), [ATTR.ORIGIN]: labelRef(ORIGIN) },
      extra: JAEGER_TIME_RANGE,
    }),
    targetBlank: true,
  };
}
/** A label column of the clicked table row (instant queries in table format turn labels into columns); raw only while the column has no value mapping. */
const fromTableRow = (label: string): string => `\${__data.fields.${label}}`;
/** A label of the clicked time series. */
const fromSeries = (label: string): string => `\${__field.labels.${label}}`;

const thresholds = (steps: Array<[number | null, string]>) => ({
  mode: 'absolute',
  steps: steps.map(([value, color]) => ({ color, value })),
});
const RED_WHEN_NONZERO = thresholds([
  [null, 'green'],
  [1, 'red'],
]);
const COLOR_BY_THRESHOLDS = { thresholds: RED_WHEN_NONZERO, color: { mode: 'thresholds' } };

/** "no_active_streams (D1), stream_expired (D2), ...", for descriptions (a value mapping would leak into data links). */
const DROP_REASON_CODES = DROP_REASON_NAMES.map(dropReasonWithCode).join(', ');

const TABLE_OPTIONS = { showHeader: true, cellHeight: 'sm', footer: { show: false, reducer: ['sum'], fields: '' } };

function stat(
  title: string,
  description: string,
  w: number,
  targets: ReadonlyArray<Unnumbered<Target>>,
  defaults: Record<string, unknown> = {},
): PanelSpec {
  return {
    type: 'stat',
    title,
    description,
    w,
    h: 5,
    datasource: PROMETHEUS,
    targets: withRefIds(targets),
    fieldConfig: { defaults: { unit: 'short', decimals: 0, ...defaults }, overrides: [] },
    options: {
      reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false },
      colorMode: 'value',
      graphMode: 'none',
      justifyMode: 'auto',
      orientation: 'auto',
      textMode: 'value_and_name',
    },
  };
}

function timeseries(
  title: string,
  description: string,
  w: number,
  targets: ReadonlyArray<Unnumbered<Target>>,
  defaults: Record<string, unknown> & { links?: DataLink[] },
  drawStyle: 'line' | 'bars' = 'line',
): PanelSpec {
  return {
    type: 'timeseries',
    title,
    description,
    w,
    h: 9,
    datasource: PROMETHEUS,
    targets: withRefIds(targets),
    fieldConfig: {
      defaults: { custom: { drawStyle, fillOpacity: 10, lineWidth: 1, showPoints: 'never', spanNulls: false }, ...defaults },
      overrides: [],
    },
    options: {
      legend: { displayMode: 'table', placement: 'right', showLegend: true, calcs: ['max', 'lastNotNull'] },
      tooltip: { mode: 'multi', sort: 'desc' },
    },
  };
}

function table(
  title: string,
  description: string,
  size: { w: number; h: number },
  targets: Target[],
  rest: Pick<PanelSpec, 'fieldConfig' | 'transformations'> & { sortBy?: Array<{ displayName: string; desc: boolean }> },
): PanelSpec {
  return {
    type: 'table',
    title,
    description,
    ...size,
    datasource: PROMETHEUS,
    targets,
    fieldConfig: rest.fieldConfig,
    options: rest.sortBy === undefined ? TABLE_OPTIONS : { ...TABLE_OPTIONS, sortBy: rest.sortBy },
    transformations: rest.transformations,
  };
}

/** Hides Time and the `hide` columns, orders and renames the rest as in `rename`. */
function organizeColumns(rename: Record<string, string>, hide: readonly string[] = []) {
  return {
    id: 'organize',
    options: {
      excludeByName: Object.fromEntries(['Time', ...hide].map((name) => [name, true])),
      indexByName: Object.fromEntries(Object.keys(rename).map((name, index) => [name, index])),
      renameByName: rename,
    },
  };
}

/** merge -> sort by pipeline order -> organize, for the per-stage tables. */
function perStageTransformations(rename: Record<string, string>) {
  return [
    { id: 'merge', options: {} },
    { id: 'sortBy', options: { fields: {}, sort: [{ field: STAGE_IN_ORDER_LABEL, desc: false }] } },
    organizeColumns(rename, [STAGE]),
  ];
}

/** Colours the cells of the columns whose title matches `pattern` red when nonzero. */
function redCellsWhenNonzero(pattern: string) {
  return {
    matcher: { id: 'byRegexp', options: pattern },
    properties: [
      { id: 'custom.cellOptions', value: { type: 'color-text' } },
      { id: 'thresholds', value: RED_WHEN_NONZERO },
    ],
  };
}

const asPercent = (columnTitle: string) => ({
  matcher: { id: 'byName', options: columnTitle },
  properties: [
    { id: 'unit', value: 'percentunit' },
    { id: 'decimals', value: 1 },
  ],
});

// ---------------------------------------------------------------- panels

const originLegend = { legend: `{{${ORIGIN}}}` };

function overviewPanels(): PanelSpec[] {
  return [
    stat(
      'Events emitted',
      'Record events that entered the `emit` stage (WorkspaceEventEmitter.emitDatabaseBatchEvent) in the time range, by origin.',
      6,
      [promQuery(eventsInRange([ORIGIN], stageIs('emit'), originSelected), { instant: true, ...originLegend })],
    ),
    stat(
      'Drops',
      `Units dropped at any stage in the time range, by origin. ${UNIT_NOTE}`,
      6,
      [promQuery(eventsInRange([ORIGIN], outcomeIs('dropped'), originSelected), { instant: true, ...originLegend })],
      COLOR_BY_THRESHOLDS,
    ),
    stat(
      'Deliveries per emitted event',
      'Events handed to browser SSE connections (`deliver`, forwarded) divided by events emitted (`emit`), by origin, over the time range. 100% = every event reached one connection; with N tabs open expect N x 100%; 0% with events emitted means nothing reached a browser.',
      6,
      [
        promQuery(
          `${eventsInRange([ORIGIN], stageIs('deliver'), outcomeIs('forwarded'), originSelected)} / (${eventsInRange(
            [ORIGIN],
            stageIs('emit'),
            originSelected,
          )} > 0)`,
          { instant: true, ...originLegend },
        ),
      ],
      { unit: 'percentunit', decimals: 1 },
    ),
    stat(
      'Unattributed drops',
      'Drops no rule could name. Zero on every Twenty version the package knows; nonzero means Twenty changed and the package needs a new rule (runbook: TwentySseUnattributedDrops).',
      3,
      [
        promQuery(`sum(${increaseFromZero(series(EVENTS, dropReasonIs('unattributed'), jobSelected), RANGE)}) or vector(0)`, {
          instant: true,
          legend: 'unattributed',
        }),
      ],
      COLOR_BY_THRESHOLDS,
    ),
    stat(
      'Instrumentation errors',
      'Faults inside the instrumentation that were swallowed so Twenty kept working, in the time range. Nonzero means some stage counts may be missing.',
      3,
      [
        promQuery(`sum(${increaseFromZero(series(PROM.INSTRUMENTATION_ERRORS, jobSelected), RANGE)}) or vector(0)`, {
          instant: true,
          legend: 'errors',
        }),
      ],
      COLOR_BY_THRESHOLDS,
    ),
  ];
}

const FUNNEL_COLUMNS: ReadonlyArray<{ title: string; outcome?: Outcome }> = [
  { title: 'entered' },
  { title: 'forwarded', outcome: 'forwarded' },
  { title: 'dropped', outcome: 'dropped' },
  { title: 'failed', outcome: 'failed' },
];

function funnelPanels(): PanelSpec[] {
  const sideBySide = mergedTableColumns(
    { [STAGE_IN_ORDER_LABEL]: 'Stage' },
    (['workflow', 'ui'] as const).flatMap((origin) =>
      FUNNEL_COLUMNS.map((column) => ({
        title: `${origin} ${column.title}`,
        expr: inPipelineOrder(
          column.outcome === undefined
            ? eventsInRange([STAGE], originIs(origin))
            : stageOutcomeInRange(origin, column.outcome),
        ),
      })),
    ),
  );

  const entered = eventsInRange([STAGE, ORIGIN], originSelected);
  const ended = (outcome: Outcome) => orZeroLike(eventsInRange([STAGE, ORIGIN], outcomeIs(outcome), originSelected), entered);
  const perOrigin = mergedTableColumns({ [STAGE_IN_ORDER_LABEL]: 'Stage', [ORIGIN]: 'Origin' }, [
    ...FUNNEL_COLUMNS.map((column) => ({
      title: column.title,
      expr: inPipelineOrder(column.outcome === undefined ? entered : ended(column.outcome)),
    })),
    { title: 'drop ratio', expr: inPipelineOrder(`${ended('dropped')} / (${entered} > 0)`) },
  ]);

  return [
    table(
      'Funnel per stage: workflow vs UI',
      `Per stage in pipeline order, over the time range: units that entered the stage and how each ended (forwarded, dropped, failed), workflow-origin next to UI-origin. entered = forwarded + dropped + failed. ${UNIT_NOTE}`,
      { w: 24, h: 10 },
      sideBySide.targets,
      {
        transformations: perStageTransformations(sideBySide.rename),
        fieldConfig: { defaults: { unit: 'short', decimals: 0 }, overrides: [redCellsWhenNonzero('.* (dropped|failed)')] },
      },
    ),
    table(
      'Funnel per stage and origin',
      `Every origin selected in $origin (api_key, application, system and unknown too), per stage in pipeline order, over the time range. drop ratio = dropped / entered at that stage. ${UNIT_NOTE}`,
      { w: 24, h: 12 },
      perOrigin.targets,
      {
        transformations: perStageTransformations(perOrigin.rename),
        fieldConfig: {
          defaults: { unit: 'short', decimals: 0 },
          overrides: [redCellsWhenNonzero('dropped|failed'), asPercent('drop ratio')],
        },
      },
    ),
  ];
}

function dropPanels(): PanelSpec[] {
  const divergence = mergedTableColumns({ [STAGE_IN_ORDER_LABEL]: 'Stage' }, [
    { title: 'workflow drop ratio', expr: inPipelineOrder(stageDropRatioInRange('workflow')) },
    { title: 'ui drop ratio', expr: inPipelineOrder(stageDropRatioInRange('ui')) },
    {
      title: 'workflow - ui',
      expr: inPipelineOrder(
        `(${stageDropRatioInRange('workflow')}) - on (${STAGE}) (${stageDropRatioInRange('ui')} or 0 * ${eventsInRange(
          [STAGE],
          originIs('workflow'),
        )})`,
      ),
    },
  ]);

  return [
    table(
      'Drops by reason, stage and origin',
      `Dropped units in the time range per process (job), stage, origin and reason. Click a row for the Jaeger search of spans with that reason and origin (service: $jaeger_service). Reasons and their codes in twenty-pipeline.md: ${DROP_REASON_CODES}. ${UNIT_NOTE}`,
      { w: 12, h: 10 },
      withRefIds([
        promQuery(`${eventsInRange(['job', STAGE, ORIGIN, REASON], outcomeIs('dropped'), originSelected)} > 0`, {
          instant: true,
          table: true,
        }),
      ]),
      {
        transformations: [
          organizeColumns({ job: 'Service', [STAGE]: 'Stage', [ORIGIN]: 'Origin', [REASON]: 'Reason', Value: 'Dropped' }),
        ],
        fieldConfig: { defaults: { unit: 'short', decimals: 0, links: [dropTracesLink(fromTableRow)] }, overrides: [] },
        sortBy: [{ displayName: 'Dropped', desc: true }],
      },
    ),
    timeseries(
      'Drop rate by origin and reason',
      `Dropped units per second, by origin and reason. Click a series for the Jaeger search of those drops (service: $jaeger_service). ${UNIT_NOTE}`,
      12,
      [
        promQuery(eventsPerSecond([ORIGIN, REASON], outcomeIs('dropped'), originSelected), {
          instant: false,
          legend: `{{${ORIGIN}}} {{${REASON}}}`,
        }),
      ],
      { unit: 'short', min: 0, links: [dropTracesLink(fromSeries)] },
    ),
    table(
      'Where workflow diverges from UI: drop ratio per stage',
      'Per stage in pipeline order, over the time range: dropped / entered for workflow-origin and for UI-origin units, and the difference. Read top to bottom: the first stage with a positive "workflow - ui" is where workflow events start getting lost while UI events get through. workflow_step has no UI units, so there the difference is the workflow ratio (reason not_emitted).',
      { w: 12, h: 10 },
      divergence.targets,
      {
        transformations: perStageTransformations(divergence.rename),
        fieldConfig: {
          defaults: { unit: 'percentunit', decimals: 1 },
          overrides: [
            {
              matcher: { id: 'byName', options: 'workflow - ui' },
              properties: [
                { id: 'custom.cellOptions', value: { type: 'color-background' } },
                {
                  id: 'thresholds',
                  value: thresholds([
                    [null, 'green'],
                    [0.0001, 'red'],
                  ]),
                },
              ],
            },
          ],
        },
      },
    ),
    timeseries(
      'Drop ratio by stage and origin',
      `dropped / entered per stage and origin; only stages with drops appear. ${UNIT_NOTE}`,
      12,
      [
        promQuery(
          `${eventsPerSecond([STAGE, ORIGIN], outcomeIs('dropped'), originSelected)} / (${eventsPerSecond(
            [STAGE, ORIGIN],
            originSelected,
          )} > 0)`,
          { instant: false, legend: `{{${ORIGIN}}} @ {{${STAGE}}}` },
        ),
      ],
      { unit: 'percentunit', min: 0 },
    ),
    timeseries(
      'Spans that dropped events (span metrics)',
      'Spans per second whose outcome is dropped, from the collector spanmetrics connector (every span, before any sampling; one span covers a batch). Click a series for the Jaeger search of exactly that service and operation.',
      12,
      [
        promQuery(
          sumBy(
            ['service_name', 'span_name', ORIGIN, REASON],
            rate(series(SPAN_METRICS_CALLS, outcomeIs('dropped'), originSelected), RATE_INTERVAL),
          ),
          { instant: false, legend: `{{span_name}} {{${ORIGIN}}} {{${REASON}}}` },
        ),
      ],
      { unit: 'short', min: 0, links: [dropTracesLink(fromSeries, fromSeries('service_name'), fromSeries('span_name'))] },
    ),
    {
      type: 'table',
      title: 'Recent traces with drops (Jaeger)',
      description:
        'Traces of $jaeger_service with a span whose outcome is dropped, from the Jaeger datasource. Click a trace id to open it.',
      w: 12,
      h: 9,
      datasource: JAEGER,
      targets: withRefIds([
        { datasource: JAEGER, queryType: 'search', service: '$jaeger_service', tags: `${ATTR.OUTCOME}=dropped`, limit: 20 },
      ]),
      fieldConfig: { defaults: {}, overrides: [] },
      options: TABLE_OPTIONS,
    },
  ];
}

function deliveryPanels(): PanelSpec[] {
  const latency = (quantile: number) =>
    promQuery(
      `histogram_quantile(${quantile}, ${sumBy(
        [ORIGIN, 'le'],
        rate(series(PROM.DELIVERY_LATENCY_BUCKET, originSelected, jobSelected), RATE_INTERVAL),
      )})`,
      { instant: false, legend: `p${quantile * 100} {{${ORIGIN}}}` },
    );
  return [
    timeseries(
      'Deliveries per emitted event',
      'Events handed to browser SSE connections (`deliver`, forwarded) per event emitted (`emit`), by origin. 100% = each event reached one connection; N tabs open give N x 100%.',
      8,
      [
        promQuery(
          `${eventsPerSecond([ORIGIN], stageIs('deliver'), outcomeIs('forwarded'), originSelected)} / (${eventsPerSecond(
            [ORIGIN],
            stageIs('emit'),
            originSelected,
          )} > 0)`,
          { instant: false, ...originLegend },
        ),
      ],
      { unit: 'percentunit', min: 0 },
    ),
    timeseries(
      'Delivery latency p50 / p95',
      'Time from emit to delivery on a browser connection (measured in the API server from the publish time carried across Redis), by origin.',
      8,
      [latency(0.5), latency(0.95)],
      { unit: 's', min: 0 },
    ),
    timeseries(
      'Stage duration p95',
      'p95 duration of one stage invocation (one call of the instrumented method), by stage.',
      8,
      [
        promQuery(
          `histogram_quantile(0.95, ${sumBy(
            [STAGE, 'le'],
            rate(series(PROM.STAGE_DURATION_BUCKET, originSelected, jobSelected), RATE_INTERVAL),
          )})`,
          { instant: false, legend: `{{${STAGE}}}` },
        ),
      ],
      { unit: 's', min: 0 },
    ),
  ];
}

function healthPanels(): PanelSpec[] {
  const targetLabels = ['job', PROM.LABEL_TARGET_CLASS, PROM.LABEL_TARGET_METHOD, PROM.LABEL_TARGET_STATUS];
  const collectorSpans = (legend: string, label: string, name: string) =>
    promQuery(sumBy([label], rate(seriesByNameRegex(`${name}(_total)?`), RATE_INTERVAL)), {
      instant: false,
      legend: `${legend} {{${label}}}`,
    });
  return [
    table(
      'Instrumentation targets',
      'Every class.method the package looked for at startup, per process: found (patched) or missing. Each Twenty generation legitimately lacks some targets; what matters is that a publish-stage target (publish / processStreamEvents / processObjectRecordStreamEvents) is found.',
      { w: 12, h: 10 },
      withRefIds([
        promQuery(`max by (${targetLabels.join(', ')}) (${series(PROM.INSTRUMENTATION_TARGETS, jobSelected)})`, {
          instant: true,
          table: true,
        }),
      ]),
      {
        transformations: [
          organizeColumns(
            {
              job: 'Service',
              [PROM.LABEL_TARGET_CLASS]: 'Class',
              [PROM.LABEL_TARGET_METHOD]: 'Method',
              [PROM.LABEL_TARGET_STATUS]: 'Status',
            },
            ['Value'],
          ),
        ],
        fieldConfig: {
          defaults: {},
          overrides: [
            {
              matcher: { id: 'byName', options: PROM.LABEL_TARGET_STATUS },
              properties: [
                { id: 'custom.cellOptions', value: { type: 'color-text' } },
                {
                  id: 'mappings',
                  value: [
                    { type: 'value', options: { found: { color: 'green', index: 0 }, missing: { color: 'orange', index: 1 } } },
                  ],
                },
              ],
            },
          ],
        },
        sortBy: [{ displayName: 'Status', desc: false }],
      },
    ),
    stat(
      'Publish-stage targets found',
      'Per process: how many publish-stage targets were found. 0 means the package cannot see the publish and stream stages of this Twenty version (alert TwentySseInstrumentationTargetsMissing).',
      4,
      [promQuery(publishStageTargetsFound(jobSelected), { instant: true, legend: '{{job}}' })],
      {
        thresholds: thresholds([
          [null, 'red'],
          [1, 'green'],
        ]),
        color: { mode: 'thresholds' },
      },
    ),
    timeseries(
      'Instrumentation errors by component',
      'Instrumentation faults swallowed so the app kept working, per process and component.',
      8,
      [
        promQuery(
          sumBy(['job', PROM.LABEL_COMPONENT], `increase(${series(PROM.INSTRUMENTATION_ERRORS, jobSelected)}[${RATE_INTERVAL}])`),
          { instant: false, legend: `{{job}} {{${PROM.LABEL_COMPONENT}}}` },
        ),
      ],
      { unit: 'short', min: 0 },
      'bars',
    ),
    timeseries(
      'Collector: spans accepted, refused, failed to export',
      'OpenTelemetry Collector internal metrics (port 8888). Refused = the receiver turned spans away (memory limiter, bad payload); send failed = the exporter to Jaeger gave up. Names carry `_total` or not depending on the collector version.',
      24,
      [
        collectorSpans('accepted', 'receiver', 'otelcol_receiver_accepted_spans'),
        collectorSpans('refused', 'receiver', 'otelcol_receiver_refused_spans'),
        collectorSpans('send failed', 'exporter', 'otelcol_exporter_send_failed_spans'),
      ],
      { unit: 'short', min: 0 },
    ),
  ];
}

// ---------------------------------------------------------------- layout

const GRID_WIDTH = 24;

/** Places sections top to bottom, each under a row header, panels left to right wrapping at 24 columns. */
function layout(sections: Array<{ title: string; panels: PanelSpec[] }>): Panel[] {
  const panels: Panel[] = [];
  let y = 0;
  for (const section of sections) {
    panels.push({
      id: panels.length + 1,
      type: 'row',
      title: section.title,
      gridPos: { h: 1, w: GRID_WIDTH, x: 0, y },
      datasource: PROMETHEUS,
      collapsed: false,
      panels: [],
    });
    y += 1;
    let x = 0;
    let rowHeight = 0;
    for (const { w, h, ...panel } of section.panels) {
      if (x + w > GRID_WIDTH) {
        y += rowHeight;
        x = 0;
        rowHeight = 0;
      }
      panels.push({ id: panels.length + 1, gridPos: { h, w, x, y }, ...panel });
      x += w;
      rowHeight = Math.max(rowHeight, h);
    }
    y += rowHeight;
  }
  return panels;
}

// ---------------------------------------------------------------- dashboard

function templateVariables() {
  const allOption = { selected: true, text: 'All', value: '$__all' };
  const jobQuery = `label_values(${EVENTS}, job)`;
  const serviceQuery = `label_values(${series(EVENTS, outcomeIs('dropped'), jobSelected)}, job)`;
  return [
    {
      type: 'query',
      name: 'job',
      label: 'Service (job)',
      description: 'Processes reporting twenty_sse metrics (job = service.name).',
      datasource: PROMETHEUS,
      definition: jobQuery,
      query: jobQuery,
      refresh: 2,
      regex: '',
      sort: 1,
      multi: true,
      includeAll: true,
      allValue: '.*',
      current: { selected: true, text: ['All'], value: ['$__all'] },
      options: [],
      hide: 0,
    },
    {
      type: 'custom',
      name: 'origin',
      label: 'Origin',
      description: 'Who caused the record event (twenty.sse.origin).',
      query: ORIGINS.join(','),
      multi: true,
      includeAll: true,
      allValue: '.*',
      current: { selected: true, text: ['All'], value: ['$__all'] },
      options: [allOption, ...ORIGINS.map((origin) => ({ selected: false, text: origin, value: origin }))],
      hide: 0,
    },
    {
      type: 'query',
      name: 'jaeger_service',
      label: 'Jaeger service',
      description:
        'service.name used by the Jaeger links: the process that dropped (the queue worker for workflow events). Lists jobs with drops, namespace prefix removed.',
      datasource: PROMETHEUS,
      definition: serviceQuery,
      query: serviceQuery,
      refresh: 2,
      regex: '/([^/]+)$/',
      sort: 1,
      multi: false,
      includeAll: false,
      options: [],
      hide: 0,
    },
    {
      type: 'textbox',
      name: 'jaeger_url',
      label: 'Jaeger UI URL',
      description: 'Base URL of the Jaeger UI that the trace links open.',
      query: DEFAULT_JAEGER_URL,
      current: { selected: false, text: DEFAULT_JAEGER_URL, value: DEFAULT_JAEGER_URL },
      options: [{ selected: true, text: DEFAULT_JAEGER_URL, value: DEFAULT_JAEGER_URL }],
      hide: 0,
    },
  ];
}

export function buildDashboard(): object {
  return {
    uid: DASHBOARD_UID,
    title: 'Twenty SSE record events',
    description:
      'Per stage of the Twenty SSE record-event pipeline: how many events entered, went on, were dropped and why, workflow vs UI. Generated by dashboards/generator from src/semconv.ts; do not edit by hand.',
    tags: ['twenty', 'sse', 'opentelemetry'],
    timezone: 'browser',
    editable: true,
    graphTooltip: 1,
    fiscalYearStartMonth: 0,
    liveNow: false,
    time: { from: 'now-1h', to: 'now' },
    timepicker: {},
    refresh: '30s',
    schemaVersion: SCHEMA_VERSION,
    version: 1,
    weekStart: '',
    annotations: {
      list: [
        {
          builtIn: 1,
          datasource: { type: 'grafana', uid: '-- Grafana --' },
          enable: true,
          hide: true,
          iconColor: 'rgba(0, 211, 255, 1)',
          name: 'Annotations & Alerts',
          type: 'dashboard',
        },
      ],
    },
    links: [
      {
        type: 'link',
        title: 'Jaeger search',
        url: jaegerSearchUrl('${jaeger_url}', { service: '${jaeger_service}', extra: JAEGER_TIME_RANGE }),
        targetBlank: true,
        icon: 'external link',
        tooltip: 'Traces of $jaeger_service in Jaeger',
        asDropdown: false,
        includeVars: false,
        keepTime: false,
        tags: [],
      },
    ],
    templating: { list: templateVariables() },
    panels: layout([
      { title: 'Overview', panels: overviewPanels() },
      { title: 'Funnel per stage', panels: funnelPanels() },
      { title: 'Drops', panels: dropPanels() },
      { title: 'Delivery', panels: deliveryPanels() },
      { title: 'Instrumentation and collector health', panels: healthPanels() },
    ]),
  };
}

// ---------------------------------------------------------------- queries for tests

/** Values for Grafana's variables when a test runs the dashboard's PromQL directly. */
export const TEST_VARIABLE_VALUES: Readonly<Record<string, string>> = {
  origin: '.*',
  job: '.*',
  __rate_interval: '5m',
  __range: '1h',
  __interval: '1m',
};

/** Replaces `$name` / `${name}` with `values[name]`; throws on a variable it has no value for. */
export function substituteTemplateVariables(expr: string, values: Readonly<Record<string, string>> = TEST_VARIABLE_VALUES): string {
  return expr.replace(/\$(?:\{(\w+)\}|(\w+))/g, (match, braced: string | undefined, bare: string | undefined) => {
    const name = (braced ?? bare) as string;
    const value = values[name];
    if (value === undefined) throw new Error(`no test value for Grafana variable ${match} in: ${expr}`);
    return value;
  });
}

export interface DashboardQuery {
  panel: string;
  refId: string;
  /** With template variables substituted (TEST_VARIABLE_VALUES). */
  expr: string;
  /** As in the dashboard, with Grafana variables. */
  rawExpr: string;
  /** true: instant query (stat, table); false: range query (timeseries). */
  instant: boolean;
}

/** Top-level panels and the panels inside collapsed rows. */
export function allPanels(dashboard: object): Panel[] {
  const panels = (dashboard as { panels: Panel[] }).panels;
  return panels.flatMap((panel) => [panel, ...(panel.panels ?? [])]);
}

/** Every Prometheus query of the dashboard, in panel order. */
export function dashboardQueries(dashboard: object = buildDashboard()): DashboardQuery[] {
  return allPanels(dashboard).flatMap((panel) =>
    (panel.targets ?? [])
      .filter((target): target is PrometheusTarget => target.datasource.type === 'prometheus')
      .map((target) => ({
        panel: panel.title,
        refId: target.refId,
        expr: substituteTemplateVariables(target.expr),
        rawExpr: target.expr,
        instant: target.instant,
      })),
  );
}

