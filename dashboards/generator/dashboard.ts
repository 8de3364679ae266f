/**
 * The Grafana dashboard "Twenty SSE record events", built with Grafana's
 * foundation SDK and written out as classic dashboard JSON. Every metric,
 * label and value comes from src/semconv.ts.
 *
 * To extend it: a section is a row title and its panel builders (see
 * dashboardSections()); panels are laid out left to right, and a section's
 * widths should fill 24-column lines (the SDK starts a new line only once a
 * line is full).
 */
import type * as cog from '@grafana/grafana-foundation-sdk/cog';
import * as bargauge from '@grafana/grafana-foundation-sdk/bargauge';
import * as common from '@grafana/grafana-foundation-sdk/common';
import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import * as prometheus from '@grafana/grafana-foundation-sdk/prometheus';
import * as stat from '@grafana/grafana-foundation-sdk/stat';
import * as table from '@grafana/grafana-foundation-sdk/table';
import * as timeseries from '@grafana/grafana-foundation-sdk/timeseries';
import {
  ATTR,
  DROP_REASON_NAMES,
  ORIGINS,
  PROM,
  RESUBSCRIBE_WINDOW_SECONDS,
  dropReasonKind,
  dropReasonsOfKind,
  routineShareOf,
  type Origin,
  type Outcome,
} from '../../src/semconv';
import { DEFAULT_JAEGER_URL, jaegerSearchUrl } from './jaeger';
import { DIVERGENCE_THRESHOLD } from './rules';
import {
  STAGE_IN_ORDER_LABEL,
  dropReasonIn,
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
  sumOfPartial,
} from './promql';

const DASHBOARD_UID = 'twenty-sse';
/**
 * Grafana 10.3/11.0's; newer Grafana (12, 13) migrates it on load. The SDK
 * stamps its own newest version (42), which Grafana before 13 does not know.
 */
const SCHEMA_VERSION = 39;

const PROMETHEUS: dashboard.DataSourceRef = { type: 'prometheus', uid: 'prometheus' };
const JAEGER: dashboard.DataSourceRef = { type: 'jaeger', uid: 'jaeger' };

// The dashboard JSON as tests and query checks read it.

interface JsonDataSource<T extends string = string> {
  type: T;
  uid: string;
}

export interface PrometheusTarget {
  refId: string;
  datasource: JsonDataSource<'prometheus'>;
  expr: string;
  legendFormat: string;
  instant: boolean;
  range: boolean;
  format: 'time_series' | 'table' | 'heatmap';
}

interface JaegerTarget {
  refId: string;
  datasource: JsonDataSource<'jaeger'>;
  queryType: 'search';
  service: string;
  tags: string;
  limit: number;
}

export interface Panel {
  id: number;
  type: string;
  title: string;
  description?: string;
  gridPos: { h: number; w: number; x: number; y: number };
  datasource: JsonDataSource;
  targets?: Array<PrometheusTarget | JaegerTarget>;
  fieldConfig?: { defaults: Record<string, unknown> & { links?: Array<{ title: string; url: string }> } };
  panels?: Panel[];
}

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

const LOSS_REASONS = dropReasonsOfKind('loss');
const ROUTINE_REASONS = DROP_REASON_NAMES.filter((reason) => dropReasonKind(reason) !== 'loss');

/** Units lost over the range, summed by `labels`: loss-kind drops plus failures (src/semconv.ts DROP_REASONS kinds). */
function lostInRange(labels: readonly string[], ...matchers: string[]): string {
  return sumOfPartial(
    eventsInRange(labels, outcomeIs('dropped'), dropReasonIn(LOSS_REASONS), ...matchers),
    eventsInRange(labels, outcomeIs('failed'), ...matchers),
    labels,
  );
}

/** Per stage: lost / entered for `origin` over the range (0 where the stage saw the origin and lost nothing). */
function stageLossShareInRange(origin: Origin): string {
  const entered = eventsInRange([STAGE], originIs(origin));
  return `${orZeroLike(lostInRange([STAGE], originIs(origin)), entered)} / (${entered} > 0)`;
}

/** Per stage: routine drops (filtering, churn) / entered for `origin`. */
function stageRoutineShareInRange(origin: Origin): string {
  const entered = eventsInRange([STAGE], originIs(origin));
  return `${orZeroLike(eventsInRange([STAGE], originIs(origin), outcomeIs('dropped'), dropReasonIn(ROUTINE_REASONS)), entered)} / (${entered} > 0)`;
}

/** Per stage where both origins have units: workflow loss share minus UI loss share. */
const workflowMinusUiLossShare = (): string =>
  `(${stageLossShareInRange('workflow')}) - on (${STAGE}) (${stageLossShareInRange('ui')})`;

// ---------------------------------------------------------------- panel parts

/** A query builder whose refId the panel sets. */
type QueryBuilder = cog.Builder<cog.Dataquery> & { refId(refId: string): unknown };
/** A panel builder whose id the layout sets. */
type PanelBuilder = cog.Builder<dashboard.Panel> & { id(id: number): unknown };

function promQuery(
  expr: string,
  how: { instant: boolean; legend?: string; table?: boolean; heatmap?: boolean },
): prometheus.DataqueryBuilder {
  const format =
    how.table === true
      ? prometheus.PromQueryFormat.Table
      : how.heatmap === true
        ? prometheus.PromQueryFormat.Heatmap
        : prometheus.PromQueryFormat.TimeSeries;
  const query = new prometheus.DataqueryBuilder()
    .datasource(PROMETHEUS)
    .editorMode(prometheus.QueryEditorMode.Code)
    .expr(expr)
    .legendFormat(how.legend ?? '__auto')
    .format(format);
  return how.instant ? query.instant() : query.range();
}

/** The Jaeger datasource's trace search; the SDK has no query type for Jaeger. */
interface JaegerSearchQuery extends cog.Dataquery {
  refId?: string;
  datasource: dashboard.DataSourceRef;
  queryType: 'search';
  service: string;
  tags: string;
  limit: number;
}

class JaegerSearchQueryBuilder implements cog.Builder<JaegerSearchQuery> {
  private readonly query: JaegerSearchQuery;

  constructor(search: { service: string; tags: string; limit: number }) {
    this.query = { datasource: JAEGER, queryType: 'search', ...search, _implementsDataqueryVariant: () => undefined };
  }

  refId(refId: string): this {
    this.query.refId = refId;
    return this;
  }

  build(): JaegerSearchQuery {
    return this.query;
  }
}

const refIdAt = (index: number): string => String.fromCharCode('A'.charCodeAt(0) + index);

/** Gives a panel's queries explicit refIds A, B, C... in order. */
function withRefIds(queries: readonly QueryBuilder[]): QueryBuilder[] {
  queries.forEach((query, index) => query.refId(refIdAt(index)));
  return [...queries];
}

/**
 * One instant table query per column, merged into one table by their common
 * labels. Grafana names each query's value column `Value #<refId>`; `rename`
 * maps those (and the label columns in `labelTitles`) to readable titles, for
 * refIds given in column order (as tablePanel does).
 */
function mergedTableColumns(
  labelTitles: Record<string, string>,
  columns: ReadonlyArray<{ title: string; expr: string }>,
) {
  const rename: Record<string, string> = { ...labelTitles };
  columns.forEach((column, index) => {
    rename[`Value #${refIdAt(index)}`] = column.title;
  });
  return {
    targets: columns.map((column) => promQuery(column.expr, { instant: true, table: true })),
    rename,
  };
}

const UNIT_NOTE =
  'Units differ by stage: `stream` counts (event x stream) pairs, `deliver` counts events handed to browser connections, `workflow_step` counts record mutations made by workflow steps; the other stages count events.';

const JAEGER_TIME_RANGE = 'lookback=custom&start=${__from}000&end=${__to}000&limit=20';

/**
 * Drops the `placement` the SDK gives every link and annotation by default:
 * Grafana versions that know it (`inControlsMenu`) tuck the link into the
 * dashboard controls menu; without it the Jaeger link stays in the link bar.
 */
function withoutPlacement<T extends { placement?: unknown }>(builder: cog.Builder<T>): cog.Builder<T> {
  return {
    build: () => {
      const { placement: _placement, ...rest } = builder.build();
      return rest as T;
    },
  };
}

function dataLink(title: string, url: string): cog.Builder<dashboard.DashboardLink> {
  return withoutPlacement(new dashboard.DashboardLinkBuilder(title).url(url).targetBlank(true));
}

/** Data link to the Jaeger search for spans of one drop reason and origin; `labelRef` reads a label of the clicked row or series. */
function dropTracesLink(labelRef: (label: string) => string, service = '${jaeger_service}', operation?: string) {
  return dataLink(
    'Jaeger: traces of these drops',
    jaegerSearchUrl('${jaeger_url}', {
      service,
      operation,
      tags: { [ATTR.DROP_REASON]: labelRef(REASON), [ATTR.ORIGIN]: labelRef(ORIGIN) },
      extra: JAEGER_TIME_RANGE,
    }),
  );
}
/** A label column of the clicked table row (instant queries in table format turn labels into columns); raw only while the column has no value mapping. */
const fromTableRow = (label: string): string => `\${__data.fields.${label}}`;
/** A label of the clicked time series. */
const fromSeries = (label: string): string => `\${__field.labels.${label}}`;

const thresholds = (steps: Array<[number | null, string]>) =>
  new dashboard.ThresholdsConfigBuilder()
    .mode(dashboard.ThresholdsMode.Absolute)
    .steps(steps.map(([value, color]) => ({ color, value })));
const RED_WHEN_NONZERO: Array<[number | null, string]> = [
  [null, 'green'],
  [1, 'red'],
];
const colorByThresholds = () => new dashboard.FieldColorBuilder().mode(dashboard.FieldColorModeId.Thresholds);

/** "no_active_streams (D1), stream_expired (D2), ...", for descriptions (a value mapping would leak into data links). */
const DROP_REASON_CODES = DROP_REASON_NAMES.map(dropReasonWithCode).join(', ');

/** A stat of counts (unit short, no decimals); callers override unit, decimals, thresholds. */
function statPanel(title: string, description: string, w: number, queries: readonly QueryBuilder[]): stat.PanelBuilder {
  return new stat.PanelBuilder()
    .title(title)
    .description(description)
    .span(w)
    .height(5)
    .datasource(PROMETHEUS)
    .targets(withRefIds(queries))
    .unit('short')
    .decimals(0)
    .reduceOptions(new common.ReduceDataOptionsBuilder().calcs(['lastNotNull']).fields('').values(false))
    .colorMode(common.BigValueColorMode.Value)
    .graphMode(common.BigValueGraphMode.None)
    .justifyMode(common.BigValueJustifyMode.Auto)
    .orientation(common.VizOrientation.Auto)
    .textMode(common.BigValueTextMode.ValueAndName);
}

/** A stat that turns red when nonzero. */
const alarmStat = (title: string, description: string, w: number, queries: readonly QueryBuilder[]) =>
  statPanel(title, description, w, queries).thresholds(thresholds(RED_WHEN_NONZERO)).colorScheme(colorByThresholds());

function timeseriesPanel(
  title: string,
  description: string,
  w: number,
  queries: readonly QueryBuilder[],
  drawStyle = common.GraphDrawStyle.Line,
): timeseries.PanelBuilder {
  return new timeseries.PanelBuilder()
    .title(title)
    .description(description)
    .span(w)
    .height(9)
    .datasource(PROMETHEUS)
    .targets(withRefIds(queries))
    .drawStyle(drawStyle)
    .fillOpacity(10)
    .lineWidth(1)
    .showPoints(common.VisibilityMode.Never)
    .spanNulls(false)
    .legend(
      new common.VizLegendOptionsBuilder()
        .displayMode(common.LegendDisplayMode.Table)
        .placement(common.LegendPlacement.Right)
        .showLegend(true)
        .calcs(['max', 'lastNotNull']),
    )
    .tooltip(
      new common.VizTooltipOptionsBuilder().mode(common.TooltipDisplayMode.Multi).sort(common.SortOrder.Descending),
    );
}

function tablePanel(
  title: string,
  description: string,
  size: { w: number; h: number },
  queries: readonly QueryBuilder[],
  datasource = PROMETHEUS,
): table.PanelBuilder {
  return new table.PanelBuilder()
    .title(title)
    .description(description)
    .span(size.w)
    .height(size.h)
    .datasource(datasource)
    .targets(withRefIds(queries))
    .showHeader(true)
    .cellHeight(common.TableCellHeight.Sm)
    .footer(new common.TableFooterOptionsBuilder().show(false).reducer(['sum']));
}

const sortedBy = (displayName: string, desc: boolean) => [
  new common.TableSortByFieldStateBuilder().displayName(displayName).desc(desc),
];

/** Hides Time and the `hide` columns, orders and renames the rest as in `rename`. */
function organizeColumns(
  rename: Record<string, string>,
  hide: readonly string[] = [],
): dashboard.DataTransformerConfig {
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
function perStageTransformations(rename: Record<string, string>): dashboard.DataTransformerConfig[] {
  return [
    { id: 'merge', options: {} },
    { id: 'sortBy', options: { fields: {}, sort: [{ field: STAGE_IN_ORDER_LABEL, desc: false }] } },
    organizeColumns(rename, [STAGE]),
  ];
}

/** Override properties that colour a table cell by `steps`. */
const coloredCells = (
  type: 'color-text' | 'color-background',
  steps: Array<[number | null, string]>,
): dashboard.DynamicConfigValue[] => [
  { id: 'custom.cellOptions', value: { type } },
  { id: 'thresholds', value: thresholds(steps).build() },
];

const AS_PERCENT: dashboard.DynamicConfigValue[] = [
  { id: 'unit', value: 'percentunit' },
  { id: 'decimals', value: 1 },
];

// ---------------------------------------------------------------- panels

const originLegend = { legend: `{{${ORIGIN}}}` };

function overviewPanels(): PanelBuilder[] {
  return [
    statPanel(
      'Events emitted',
      'Record events that entered the `emit` stage (WorkspaceEventEmitter.emitDatabaseBatchEvent) in the time range, by origin.',
      6,
      [promQuery(eventsInRange([ORIGIN], stageIs('emit'), originSelected), { instant: true, ...originLegend })],
    ),
    alarmStat(
      'Lost',
      `Units lost at any stage in the time range, by origin: drops of a loss kind (${LOSS_REASONS.join(', ')}) and failures. Routine filtering is not counted here. ${UNIT_NOTE}`,
      3,
      [promQuery(`${lostInRange([ORIGIN], originSelected)} or vector(0)`, { instant: true, ...originLegend })],
    ),
    statPanel(
      'Routine drops',
      `Units dropped as routine in the time range, by origin: filtering by design and churn within its routine share (${ROUTINE_REASONS.join(', ')}). Not a fault; the alerts leave them out unless churn passes its routine share. ${UNIT_NOTE}`,
      3,
      [
        promQuery(eventsInRange([ORIGIN], outcomeIs('dropped'), dropReasonIn(ROUTINE_REASONS), originSelected), {
          instant: true,
          ...originLegend,
        }),
      ],
    )
      .thresholds(thresholds([[null, 'blue']]))
      .colorScheme(colorByThresholds()),
    statPanel(
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
    )
      .unit('percentunit')
      .decimals(1),
    alarmStat(
      'Unattributed drops',
      'Drops no rule could name. Zero on every Twenty version the package knows; nonzero means Twenty changed and the package needs a new rule (runbook: TwentySseUnattributedDrops).',
      3,
      [
        promQuery(
          `sum(${increaseFromZero(series(EVENTS, dropReasonIs('unattributed'), jobSelected), RANGE)}) or vector(0)`,
          {
            instant: true,
            legend: 'unattributed',
          },
        ),
      ],
    ),
    alarmStat(
      'Instrumentation errors',
      'Faults inside the instrumentation that were swallowed so Twenty kept working, in the time range. Nonzero means some stage counts may be missing.',
      3,
      [
        promQuery(`sum(${increaseFromZero(series(PROM.INSTRUMENTATION_ERRORS, jobSelected), RANGE)}) or vector(0)`, {
          instant: true,
          legend: 'errors',
        }),
      ],
    ),
  ];
}

/**
 * The first row: are workflow events lost compared with UI events, at which
 * stage, why, and on which process. Loss and routine are split as
 * src/semconv.ts DROP_REASONS kinds say, the same split the alerts make.
 */
function workflowVersusUiPanels(): PanelBuilder[] {
  const perStage = mergedTableColumns({ [STAGE_IN_ORDER_LABEL]: 'Stage' }, [
    { title: 'workflow lost', expr: inPipelineOrder(stageLossShareInRange('workflow')) },
    { title: 'ui lost', expr: inPipelineOrder(stageLossShareInRange('ui')) },
    { title: 'workflow - ui', expr: inPipelineOrder(workflowMinusUiLossShare()) },
    { title: 'workflow routine', expr: inPipelineOrder(stageRoutineShareInRange('workflow')) },
    { title: 'ui routine', expr: inPipelineOrder(stageRoutineShareInRange('ui')) },
  ]);
  const lostBy = (origin: Origin) =>
    orZeroLike(lostInRange([STAGE, REASON], originIs(origin)), lostInRange([STAGE, REASON]));
  const why = mergedTableColumns({ [STAGE_IN_ORDER_LABEL]: 'Stage', [REASON]: 'Reason (failed: an exception)' }, [
    { title: 'workflow', expr: inPipelineOrder(lostBy('workflow')) },
    { title: 'ui', expr: inPipelineOrder(lostBy('ui')) },
  ]);
  const perInstance = mergedTableColumns({ job: 'Service (job)', instance: 'Instance' }, [
    {
      title: 'lost (drops)',
      expr: orZeroLike(
        eventsInRange(['job', 'instance'], outcomeIs('dropped'), dropReasonIn(LOSS_REASONS)),
        eventsInRange(['job', 'instance']),
      ),
    },
    {
      title: 'failed',
      expr: orZeroLike(eventsInRange(['job', 'instance'], outcomeIs('failed')), eventsInRange(['job', 'instance'])),
    },
    {
      title: 'routine drops',
      expr: orZeroLike(
        eventsInRange(['job', 'instance'], outcomeIs('dropped'), dropReasonIn(ROUTINE_REASONS)),
        eventsInRange(['job', 'instance']),
      ),
    },
    { title: 'units', expr: eventsInRange(['job', 'instance']) },
  ]);
  const churnLimits = dropReasonsOfKind('churn')
    .map((reason) => `${reason} below ${(routineShareOf(reason) as number) * 100}%`)
    .join(', ');
  const redAbove = (threshold: number): Array<[number | null, string]> => [
    [null, 'green'],
    [threshold, 'red'],
  ];
  return [
    statPanel(
      'Workflow loss above UI (worst stage)',
      `Over the time range, at the stage where it is largest: the share of workflow-origin units lost (loss-kind drops and failures) minus the share of UI-origin units lost. Red from ${
        DIVERGENCE_THRESHOLD * 100
      } points, where TwentySseWorkflowLossAboveUi pages. 0 or below: workflow events are not lost more than UI events.`,
      6,
      [promQuery(`max(${workflowMinusUiLossShare()}) or vector(0)`, { instant: true, legend: 'workflow - ui' })],
    )
      .unit('percentunit')
      .decimals(1)
      .thresholds(thresholds(redAbove(DIVERGENCE_THRESHOLD)))
      .colorScheme(colorByThresholds()),
    tablePanel(
      'Where: share lost per stage, workflow vs UI',
      `Per stage in pipeline order, over the time range: the share of units lost (loss-kind drops and failures) for workflow and UI origin, their difference, and apart from it the share dropped as routine (filtering by design: no_active_streams, no_matching_query; churn within its routine share: ${churnLimits}). The first stage with a red "workflow - ui" is where workflow events get lost while UI events get through. workflow_step has no UI units. ${UNIT_NOTE}`,
      { w: 18, h: 10 },
      perStage.targets,
    )
      .transformations(perStageTransformations(perStage.rename))
      .unit('percentunit')
      .decimals(1)
      .overrideByName('workflow - ui', coloredCells('color-background', redAbove(DIVERGENCE_THRESHOLD)))
      .overrideByRegexp('.* lost', coloredCells('color-text', redAbove(0.0001))),
    tablePanel(
      'Why: lost units by stage and reason',
      `Over the time range, per stage in pipeline order and reason: units of workflow and UI origin dropped for a loss-kind reason, or failed (reason column empty). The runbook table explains each reason; the doctor names the Twenty method. ${UNIT_NOTE}`,
      { w: 12, h: 9 },
      why.targets,
    )
      .transformations(perStageTransformations(why.rename))
      .unit('short')
      .decimals(0)
      .overrideByRegexp('workflow|ui', coloredCells('color-text', RED_WHEN_NONZERO)),
    tablePanel(
      'Which process: lost and failed units per instance',
      'Over the time range, per process (job = service.name, instance = service.instance.id): units lost to loss-kind drops, failed units, routine drops and all units counted. A failing worker, or a server whose Redis connection broke, stands out here while the others stay at 0.',
      { w: 12, h: 9 },
      perInstance.targets,
    )
      .transformations([{ id: 'merge', options: {} }, organizeColumns(perInstance.rename)])
      .unit('short')
      .decimals(0)
      .overrideByRegexp('lost \\(drops\\)|failed', coloredCells('color-background', RED_WHEN_NONZERO))
      .sortBy(sortedBy('failed', true)),
  ];
}

const FUNNEL_COLUMNS: ReadonlyArray<{ title: string; outcome?: Outcome }> = [
  { title: 'entered' },
  { title: 'forwarded', outcome: 'forwarded' },
  { title: 'dropped', outcome: 'dropped' },
  { title: 'failed', outcome: 'failed' },
];

function funnelPanels(): PanelBuilder[] {
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
  const ended = (outcome: Outcome) =>
    orZeroLike(eventsInRange([STAGE, ORIGIN], outcomeIs(outcome), originSelected), entered);
  const perOrigin = mergedTableColumns({ [STAGE_IN_ORDER_LABEL]: 'Stage', [ORIGIN]: 'Origin' }, [
    ...FUNNEL_COLUMNS.map((column) => ({
      title: column.title,
      expr: inPipelineOrder(column.outcome === undefined ? entered : ended(column.outcome)),
    })),
    { title: 'drop ratio', expr: inPipelineOrder(`${ended('dropped')} / (${entered} > 0)`) },
  ]);

  return [
    tablePanel(
      'Funnel per stage: workflow vs UI',
      `Per stage in pipeline order, over the time range: units that entered the stage and how each ended (forwarded, dropped, failed), workflow-origin next to UI-origin. entered = forwarded + dropped + failed. ${UNIT_NOTE}`,
      { w: 24, h: 10 },
      sideBySide.targets,
    )
      .transformations(perStageTransformations(sideBySide.rename))
      .unit('short')
      .decimals(0)
      .overrideByRegexp('.* (dropped|failed)', coloredCells('color-text', RED_WHEN_NONZERO)),
    tablePanel(
      'Funnel per stage and origin',
      `Every origin selected in $origin (api_key, application, system and unknown too), per stage in pipeline order, over the time range. drop ratio = dropped / entered at that stage. ${UNIT_NOTE}`,
      { w: 24, h: 12 },
      perOrigin.targets,
    )
      .transformations(perStageTransformations(perOrigin.rename))
      .unit('short')
      .decimals(0)
      .overrideByRegexp('dropped|failed', coloredCells('color-text', RED_WHEN_NONZERO))
      .overrideByName('drop ratio', AS_PERCENT),
  ];
}

function dropPanels(): PanelBuilder[] {
  return [
    tablePanel(
      'Drops by reason, stage and origin',
      `Dropped units in the time range per process (job), stage, origin and reason. Click a row for the Jaeger search of spans with that reason and origin (service: $jaeger_service). Reasons with their drop-condition codes (D: a check in Twenty's stream publisher, N: the September 2026 record-access gate, P0: a Redis publish nobody received; the runbook explains each): ${DROP_REASON_CODES}. ${UNIT_NOTE}`,
      { w: 12, h: 10 },
      [
        promQuery(`${eventsInRange(['job', STAGE, ORIGIN, REASON], outcomeIs('dropped'), originSelected)} > 0`, {
          instant: true,
          table: true,
        }),
      ],
    )
      .withTransformation(
        organizeColumns({ job: 'Service', [STAGE]: 'Stage', [ORIGIN]: 'Origin', [REASON]: 'Reason', Value: 'Dropped' }),
      )
      .unit('short')
      .decimals(0)
      .dataLinks([dropTracesLink(fromTableRow)])
      .sortBy(sortedBy('Dropped', true)),
    timeseriesPanel(
      'Drop rate by origin and reason',
      `Dropped units per second, by origin and reason. Click a series for the Jaeger search of those drops (service: $jaeger_service). ${UNIT_NOTE}`,
      12,
      [
        promQuery(eventsPerSecond([ORIGIN, REASON], outcomeIs('dropped'), originSelected), {
          instant: false,
          legend: `{{${ORIGIN}}} {{${REASON}}}`,
        }),
      ],
    )
      .unit('short')
      .min(0)
      .dataLinks([dropTracesLink(fromSeries)]),
    timeseriesPanel(
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
    )
      .unit('percentunit')
      .min(0),
    timeseriesPanel(
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
    )
      .unit('short')
      .min(0)
      .dataLinks([dropTracesLink(fromSeries, fromSeries('service_name'), fromSeries('span_name'))]),
    tablePanel(
      'Recent traces with drops (Jaeger)',
      'Traces of $jaeger_service with a span whose outcome is dropped, from the Jaeger datasource. Click a trace id to open it.',
      { w: 24, h: 9 },
      [new JaegerSearchQueryBuilder({ service: '$jaeger_service', tags: `${ATTR.OUTCOME}=dropped`, limit: 20 })],
      JAEGER,
    ),
  ];
}

function deliveryPanels(): PanelBuilder[] {
  const latency = (quantile: number) =>
    promQuery(
      `histogram_quantile(${quantile}, ${sumBy(
        [ORIGIN, 'le'],
        rate(series(PROM.DELIVERY_LATENCY_BUCKET, originSelected, jobSelected), RATE_INTERVAL),
      )})`,
      { instant: false, legend: `p${quantile * 100} {{${ORIGIN}}}` },
    );
  return [
    timeseriesPanel(
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
    )
      .unit('percentunit')
      .min(0),
    timeseriesPanel(
      'Delivery latency p50 / p95',
      'Time from emit to delivery on a browser connection (measured in the API server from the publish time carried across Redis), by origin.',
      8,
      [latency(0.5), latency(0.95)],
    )
      .unit('s')
      .min(0),
    timeseriesPanel(
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
    )
      .unit('s')
      .min(0),
  ];
}

function healthPanels(): PanelBuilder[] {
  const targetLabels = ['job', PROM.LABEL_TARGET_CLASS, PROM.LABEL_TARGET_METHOD, PROM.LABEL_TARGET_STATUS];
  const collectorSpans = (legend: string, label: string, name: string) =>
    promQuery(sumBy([label], rate(seriesByNameRegex(`${name}(_total)?`), RATE_INTERVAL)), {
      instant: false,
      legend: `${legend} {{${label}}}`,
    });
  return [
    tablePanel(
      'Instrumentation targets',
      'Every class.method the package looked for at startup, per process: found (patched) or missing. Each Twenty generation legitimately lacks some targets; what matters is that a publish-stage target (publish / processStreamEvents / processObjectRecordStreamEvents) is found.',
      { w: 12, h: 10 },
      [
        promQuery(`max by (${targetLabels.join(', ')}) (${series(PROM.INSTRUMENTATION_TARGETS, jobSelected)})`, {
          instant: true,
          table: true,
        }),
      ],
    )
      .withTransformation(
        organizeColumns(
          {
            job: 'Service',
            [PROM.LABEL_TARGET_CLASS]: 'Class',
            [PROM.LABEL_TARGET_METHOD]: 'Method',
            [PROM.LABEL_TARGET_STATUS]: 'Status',
          },
          ['Value'],
        ),
      )
      .overrideByName(PROM.LABEL_TARGET_STATUS, [
        { id: 'custom.cellOptions', value: { type: 'color-text' } },
        {
          id: 'mappings',
          value: [
            {
              type: dashboard.MappingType.ValueToText,
              options: { found: { color: 'green', index: 0 }, missing: { color: 'orange', index: 1 } },
            },
          ],
        },
      ])
      .sortBy(sortedBy('Status', false)),
    statPanel(
      'Publish-stage targets found',
      'Per process (job, instance): how many publish-stage targets were found. 0 means the package cannot see the publish and stream stages of this Twenty version (alert TwentySseInstrumentationTargetsMissing).',
      4,
      [promQuery(publishStageTargetsFound(jobSelected), { instant: true, legend: '{{job}} {{instance}}' })],
    )
      .thresholds(
        thresholds([
          [null, 'red'],
          [1, 'green'],
        ]),
      )
      .colorScheme(colorByThresholds()),
    timeseriesPanel(
      'Instrumentation errors by component',
      'Instrumentation faults swallowed so the app kept working, per process and component.',
      8,
      [
        promQuery(
          sumBy(
            ['job', PROM.LABEL_COMPONENT],
            `increase(${series(PROM.INSTRUMENTATION_ERRORS, jobSelected)}[${RATE_INTERVAL}])`,
          ),
          { instant: false, legend: `{{job}} {{${PROM.LABEL_COMPONENT}}}` },
        ),
      ],
      common.GraphDrawStyle.Bars,
    )
      .unit('short')
      .min(0),
    timeseriesPanel(
      'Collector: spans accepted, refused, failed to export',
      'OpenTelemetry Collector internal metrics (port 8888). Refused = the receiver turned spans away (memory limiter, bad payload); send failed = the exporter to Jaeger gave up. Names carry `_total` or not depending on the collector version.',
      24,
      [
        collectorSpans('accepted', 'receiver', 'otelcol_receiver_accepted_spans'),
        collectorSpans('refused', 'receiver', 'otelcol_receiver_refused_spans'),
        collectorSpans('send failed', 'exporter', 'otelcol_exporter_send_failed_spans'),
      ],
    )
      .unit('short')
      .min(0),
  ];
}

/**
 * The last mile: event-stream publishes that reached no subscriber in Redis
 * (pubsub, no_live_connection) and the SSE connections of the API servers.
 */
function lastMilePanels(): PanelBuilder[] {
  const noLive = [stageIs('pubsub'), outcomeIs('dropped'), dropReasonIs('no_live_connection'), originSelected];
  const perSecond = (metric: string, labels: readonly string[], ...matchers: string[]) =>
    sumBy(labels, rate(series(metric, ...matchers, jobSelected), RATE_INTERVAL));
  const previous = PROM.LABEL_RESUBSCRIBE_PREVIOUS;
  const closeReason = PROM.LABEL_CLOSE_REASON;
  return [
    timeseriesPanel(
      'Publishes with no live connection, by origin',
      'Events published to an SSE event stream that Redis delivered to no subscriber (pubsub stage, no_live_connection), per second. The stream is still registered but no API server holds its connection: the tab is closed (its stream lingers until the 30 min TTL), reconnecting, or its server went away without cleaning up. Needs the RedisPubSub client (the in-memory pub/sub gives no count).',
      8,
      [promQuery(eventsPerSecond([ORIGIN], ...noLive), { instant: false, ...originLegend })],
    )
      .unit('short')
      .min(0),
    timeseriesPanel(
      'Share of publishes that reached no subscriber',
      'no_live_connection / all pubsub events, by origin. A steady minority is closed tabs waiting for their TTL; most or all while browsers are connected (panel "SSE connections") is the alarm TwentySseNoLiveConnection.',
      8,
      [
        promQuery(
          `${eventsPerSecond([ORIGIN], ...noLive)} / (${eventsPerSecond([ORIGIN], stageIs('pubsub'), originSelected)} > 0)`,
          {
            instant: false,
            ...originLegend,
          },
        ),
      ],
    )
      .unit('percentunit')
      .min(0),
    timeseriesPanel(
      'Reconnect rate',
      `Streams subscribed again by the same browser stream id (a reconnect) per connection opened, by where the earlier connection was: open_here (a half-open connection the browser gave up), closed_here (closed on this server within ${RESUBSCRIBE_WINDOW_SECONDS} s), registered (the stream was still in Redis: the earlier connection was on another server, or a server went away). Near 100% means connections are being cut all the time (proxy timeouts: see the lifetimes).`,
      8,
      [
        promQuery(
          `${perSecond(PROM.STREAM_RESUBSCRIPTIONS, [previous])} / on() group_left() (${perSecond(PROM.CONNECTIONS_OPENED, [])} > 0)`,
          { instant: false, legend: `{{${previous}}}` },
        ),
      ],
    )
      .unit('percentunit')
      .min(0),
    timeseriesPanel(
      'SSE connections: open, opened and closed by reason',
      'Per API server: connections open now, and connections opened and closed per second, closed by why: client_gone (the browser or a proxy closed it), server_shutdown, error.',
      9,
      [
        promQuery(sumBy(['job'], series(PROM.CONNECTIONS_ACTIVE, jobSelected)), {
          instant: false,
          legend: 'open {{job}}',
        }),
        promQuery(perSecond(PROM.CONNECTIONS_OPENED, ['job']), { instant: false, legend: 'opened/s {{job}}' }),
        promQuery(perSecond(PROM.CONNECTIONS_CLOSED, ['job', closeReason]), {
          instant: false,
          legend: `closed/s {{job}} {{${closeReason}}}`,
        }),
      ],
    )
      .unit('short')
      .min(0),
    new bargauge.PanelBuilder()
      .title('Connection lifetimes')
      .description(
        'How long SSE connections lived in the time range, one bar per bucket (seconds, upper bound). Bucket pairs sit close around common proxy and load-balancer timeouts (30, 60, 100, 300, 3600 s): a proxy that cuts connections every 60 s shows as one tall bar at 61 (59 to 61 s), with the reconnect rate near 100%.',
      )
      .span(9)
      .height(9)
      .datasource(PROMETHEUS)
      .targets(
        withRefIds([
          promQuery(sumBy(['le'], `increase(${series(PROM.CONNECTION_LIFETIME_BUCKET, jobSelected)}[${RANGE}])`), {
            instant: true,
            heatmap: true,
            legend: '{{le}}',
          }),
        ]),
      )
      .unit('short')
      .decimals(0)
      .min(0)
      .displayMode(common.BarGaugeDisplayMode.Basic)
      .orientation(common.VizOrientation.Vertical)
      .valueMode(common.BarGaugeValueMode.Text)
      .namePlacement(common.BarGaugeNamePlacement.Auto)
      .showUnfilled(false)
      .reduceOptions(new common.ReduceDataOptionsBuilder().calcs(['lastNotNull']).fields('').values(false)),
    alarmStat(
      'Events handed to a closing connection',
      'Events the Redis subscription handed to an SSE connection whose stream was already being torn down (the client had gone): they never reach the browser. In the time range, by origin.',
      6,
      [
        promQuery(
          sumBy([ORIGIN], increaseFromZero(series(PROM.CONNECTION_LATE_EVENTS, originSelected, jobSelected), RANGE)),
          {
            instant: true,
            ...originLegend,
          },
        ),
      ],
    ),
  ];
}

// ---------------------------------------------------------------- dashboard

/** The dashboard's rows, top to bottom. */
function dashboardSections(): Array<{ title: string; panels: PanelBuilder[] }> {
  return [
    { title: 'Workflow vs UI: are events lost, where, why', panels: workflowVersusUiPanels() },
    { title: 'Overview', panels: overviewPanels() },
    { title: 'Funnel per stage', panels: funnelPanels() },
    { title: 'Drops', panels: dropPanels() },
    { title: 'Delivery', panels: deliveryPanels() },
    { title: 'Last mile: Redis publishes and SSE connections', panels: lastMilePanels() },
    { title: 'Instrumentation and collector health', panels: healthPanels() },
  ];
}

const ALL = { selected: true, text: ['All'], value: ['$__all'] };

function templateVariables(): Array<cog.Builder<dashboard.VariableModel>> {
  const jobQuery = `label_values(${EVENTS}, job)`;
  const serviceQuery = `label_values(${series(EVENTS, outcomeIs('dropped'), jobSelected)}, job)`;
  return [
    new dashboard.QueryVariableBuilder('job')
      .label('Service (job)')
      .description('Processes reporting twenty_sse metrics (job = service.name).')
      .datasource(PROMETHEUS)
      .definition(jobQuery)
      .query(jobQuery)
      .refresh(dashboard.VariableRefresh.OnTimeRangeChanged)
      .regex('')
      .sort(dashboard.VariableSort.AlphabeticalAsc)
      .multi(true)
      .includeAll(true)
      .allValue('.*')
      .current(ALL)
      .options([])
      .hide(dashboard.VariableHide.DontHide),
    new dashboard.CustomVariableBuilder('origin')
      .label('Origin')
      .description('Who caused the record event (twenty.sse.origin).')
      .values(ORIGINS.join(','))
      .multi(true)
      .includeAll(true)
      .allValue('.*')
      .current(ALL)
      .options([
        { selected: true, text: 'All', value: '$__all' },
        ...ORIGINS.map((origin) => ({ selected: false, text: origin, value: origin })),
      ])
      .hide(dashboard.VariableHide.DontHide),
    new dashboard.QueryVariableBuilder('jaeger_service')
      .label('Jaeger service')
      .description(
        'service.name used by the Jaeger links: the process that dropped (the queue worker for workflow events). Lists jobs with drops, namespace prefix removed.',
      )
      .datasource(PROMETHEUS)
      .definition(serviceQuery)
      .query(serviceQuery)
      .refresh(dashboard.VariableRefresh.OnTimeRangeChanged)
      .regex('/([^/]+)$/')
      .sort(dashboard.VariableSort.AlphabeticalAsc)
      .multi(false)
      .includeAll(false)
      .options([])
      .hide(dashboard.VariableHide.DontHide),
    new dashboard.TextBoxVariableBuilder('jaeger_url')
      .label('Jaeger UI URL')
      .description('Base URL of the Jaeger UI that the trace links open.')
      .defaultValue(DEFAULT_JAEGER_URL)
      .current({ selected: false, text: DEFAULT_JAEGER_URL, value: DEFAULT_JAEGER_URL })
      .options([{ selected: true, text: DEFAULT_JAEGER_URL, value: DEFAULT_JAEGER_URL }])
      .hide(dashboard.VariableHide.DontHide),
  ];
}

export function buildDashboard(): dashboard.Dashboard {
  const builder = new dashboard.DashboardBuilder('Twenty SSE record events')
    .uid(DASHBOARD_UID)
    .description(
      'Per stage of the Twenty SSE record-event pipeline: how many events entered, went on, were dropped and why, workflow vs UI. Generated by dashboards/generator from src/semconv.ts; do not edit by hand.',
    )
    .tags(['twenty', 'sse', 'opentelemetry'])
    .timezone('browser')
    .editable()
    .tooltip(dashboard.DashboardCursorSync.Crosshair)
    .fiscalYearStartMonth(0)
    .liveNow(false)
    .time({ from: 'now-1h', to: 'now' })
    .refresh('30s')
    .version(1)
    .weekStart('')
    .annotation(
      withoutPlacement(
        new dashboard.AnnotationQueryBuilder()
          .builtIn(1)
          .datasource({ type: 'grafana', uid: '-- Grafana --' })
          .enable(true)
          .hide(true)
          .iconColor('rgba(0, 211, 255, 1)')
          .name('Annotations & Alerts')
          .type('dashboard'),
      ),
    )
    .link(
      withoutPlacement(
        new dashboard.DashboardLinkBuilder('Jaeger search')
          .type(dashboard.DashboardLinkType.Link)
          .url(jaegerSearchUrl('${jaeger_url}', { service: '${jaeger_service}', extra: JAEGER_TIME_RANGE }))
          .targetBlank(true)
          .icon('external link')
          .tooltip('Traces of $jaeger_service in Jaeger')
          .asDropdown(false)
          .includeVars(false)
          .keepTime(false)
          .tags([]),
      ),
    )
    .variables(templateVariables());

  let id = 0;
  for (const section of dashboardSections()) {
    builder.withRow(new dashboard.RowBuilder(section.title).id(++id).datasource(PROMETHEUS));
    for (const panel of section.panels) {
      panel.id(++id);
      builder.withPanel(panel);
    }
  }
  return { ...builder.build(), schemaVersion: SCHEMA_VERSION };
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
export function substituteTemplateVariables(
  expr: string,
  values: Readonly<Record<string, string>> = TEST_VARIABLE_VALUES,
): string {
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
