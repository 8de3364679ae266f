/**
 * Small PromQL builders shared by the dashboard and the alert rules, so both
 * spell the metric and label names of src/semconv.ts the same way.
 */
import { DROP_REASONS, PROM, STAGES, type DropReason, type Origin, type Outcome, type Stage } from '../../src/semconv';

export type Matcher = string;

export const eq = (label: string, value: string): Matcher => `${label}="${value}"`;
export const matchesRegex = (label: string, pattern: string): Matcher => `${label}=~"${pattern}"`;

export const stageIs = (stage: Stage): Matcher => eq(PROM.LABEL_STAGE, stage);
export const originIs = (origin: Origin): Matcher => eq(PROM.LABEL_ORIGIN, origin);
export const outcomeIs = (outcome: Outcome): Matcher => eq(PROM.LABEL_OUTCOME, outcome);
export const dropReasonIs = (reason: DropReason): Matcher => eq(PROM.LABEL_DROP_REASON, reason);
export const dropReasonIn = (reasons: readonly DropReason[]): Matcher =>
  matchesRegex(PROM.LABEL_DROP_REASON, reasons.join('|'));

/** `metric{m1, m2}`; a bare metric name when there is no matcher. */
export function series(metric: string, ...matchers: Matcher[]): string {
  return matchers.length === 0 ? metric : `${metric}{${matchers.join(', ')}}`;
}

/** Selects by metric-name regex, for names that differ across collector versions (`_total` or not). */
export function seriesByNameRegex(namePattern: string, ...matchers: Matcher[]): string {
  return `{${[matchesRegex('__name__', namePattern), ...matchers].join(', ')}}`;
}

export const sumBy = (labels: readonly string[], expr: string): string => `sum by (${labels.join(', ')}) (${expr})`;
export const rate = (selector: string, window: string): string => `rate(${selector}[${window}])`;

/**
 * Growth of each counter series over `window`, counting a series born inside
 * the window from zero. Plain increase() sees nothing for a series whose first
 * sample is already its final value: an OTel counter is exported only after its
 * first add(), so a single drop would otherwise never show up.
 */
export function increaseFromZero(selector: string, window: string): string {
  return `(increase(${selector}[${window}]) and ${selector} offset ${window}) or ${selector}`;
}

/** `(a + b) or a or b`: the sum where both exist, else whichever does. */
export const sumOfPartial = (a: string, b: string, on: readonly string[]): string =>
  `(((${a}) + on (${on.join(', ')}) (${b})) or (${a}) or (${b}))`;

/** `expr`, with 0 for every series of `like` that `expr` lacks (label sets must match). */
export const orZeroLike = (expr: string, like: string): string => `(${expr} or 0 * ${like})`;

/** Label added by inPipelineOrder(); its values sort in pipeline order ("1. workflow_step" ... "9. deliver"). */
export const STAGE_IN_ORDER_LABEL = 'stage_in_order';

export function stageInOrder(stage: Stage): string {
  const width = String(STAGES.length).length;
  return `${String(STAGES.indexOf(stage) + 1).padStart(width, '0')}. ${stage}`;
}

/** Adds STAGE_IN_ORDER_LABEL to every series of `expr` (which must keep the stage label), so tables can sort by pipeline order. */
export function inPipelineOrder(expr: string): string {
  return STAGES.reduce(
    (inner, stage) =>
      `label_replace(${inner}, "${STAGE_IN_ORDER_LABEL}", "${stageInOrder(stage)}", "${PROM.LABEL_STAGE}", "${stage}")`,
    expr,
  );
}

/** "subscriber_without_user_workspace (D4)": the reason with its drop-condition code (DROP_REASONS in semconv.ts). */
export function dropReasonWithCode(reason: DropReason): string {
  return `${reason} (${DROP_REASONS[reason].code})`;
}

/**
 * The instrumentation targets that see the publish/stream stages. Each
 * generation has one of them, so if none is found the package cannot see drops.
 */
export const PUBLISH_STAGE_TARGETS = {
  classes: ['WorkspaceEventEmitterService', 'ObjectRecordEventPublisher'],
  methods: ['publish', 'processStreamEvents', 'processObjectRecordStreamEvents'],
} as const;

/** Per process (job, instance): how many publish-stage targets were found (0 when it reports targets but none of these). */
export function publishStageTargetsFound(...matchers: Matcher[]): string {
  const found = series(
    PROM.INSTRUMENTATION_TARGETS,
    eq(PROM.LABEL_TARGET_STATUS, 'found'),
    matchesRegex(PROM.LABEL_TARGET_CLASS, PUBLISH_STAGE_TARGETS.classes.join('|')),
    matchesRegex(PROM.LABEL_TARGET_METHOD, PUBLISH_STAGE_TARGETS.methods.join('|')),
    ...matchers,
  );
  return `${sumBy(['job', 'instance'], found)} or 0 * count by (job, instance) (${series(PROM.INSTRUMENTATION_TARGETS, ...matchers)})`;
}
