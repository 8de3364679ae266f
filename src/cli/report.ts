import {
  DROP_REASONS,
  DropReason,
  dropReasonKind,
  Generation,
  LOSS_SHARE_MIN_UNITS,
  Origin,
  Outcome,
  routineShareOf,
  STAGES,
  Stage,
  WORKFLOW_DIVERGENCE_THRESHOLD,
} from '../semconv';
import { REASON_CONDITIONS } from '../twenty/conditions';
import { FILES } from '../twenty/facts';
import { GenerationModule } from '../twenty/generation';
import { generationModule } from '../twenty/generations';

/**
 * The per-stage, per-origin funnel that the demo prints from the in-process
 * tally and the doctor prints from Prometheus, with the first stage where
 * workflow diverges from UI and a diagnosis naming Twenty's file, method and
 * condition. One renderer for both, so they always agree.
 */

export interface FunnelRow {
  stage: Stage;
  origin: Origin;
  outcome: Outcome;
  reason?: DropReason;
  count: number;
}

export interface StageOriginCell {
  entered: number;
  forwarded: number;
  failed: number;
  dropped: number;
  dropsByReason: Partial<Record<DropReason, number>>;
}

export interface FunnelReport {
  generation?: Generation;
  stages: { stage: Stage; byOrigin: Partial<Record<Origin, StageOriginCell>> }[];
  /** The first stage (pipeline order) where workflow events are lost at a higher ratio than UI events. */
  firstDivergence?: { stage: Stage; workflowLossRatio: number; uiLossRatio: number; topReason?: DropReason };
  diagnosis: Diagnosis[];
  /** Exceptions, attributed to the innermost stage that failed (outer stages only see them propagate). */
  failures: { stage: Stage; origin: Origin; count: number; method: string; file: string }[];
  healthy: boolean;
}

export interface Diagnosis {
  stage: Stage;
  origin: Origin;
  reason: DropReason;
  count: number;
  code: string;
  file: string;
  method: string;
  condition: string;
}

/** The generation whose texts the diagnosis uses when none is known: v5, where workflow updates that leave a table's filter are lost. */
const DEFAULT_GENERATION: Generation = 'v5';

function moduleFor(generation: Generation | undefined): GenerationModule {
  return generationModule(generation ?? DEFAULT_GENERATION);
}

const NOT_EMITTED_AT = {
  file: FILES.workflowExecutor,
  method: 'WorkflowExecutorWorkspaceService.executeStep -> *RecordWorkflowAction.execute',
};

/** Where Twenty drops for this reason, and the condition, in the generation's own words. */
export function locate(
  reason: DropReason,
  generation: Generation | undefined,
): { file: string; method: string; condition: string } {
  if (reason === 'not_emitted') return { ...NOT_EMITTED_AT, condition: REASON_CONDITIONS.not_emitted };
  if (reason === 'no_live_connection')
    return { ...STAGE_METHODS.pubsub!, condition: REASON_CONDITIONS.no_live_connection };
  const module = moduleFor(generation);
  const rule = module.dropRules.find((candidate) => candidate.reason === reason);
  if (rule) return { ...rule.where, condition: rule.condition };
  return {
    ...(reason === 'no_active_streams' ? module.fanoutAt : module.streamAt),
    condition: REASON_CONDITIONS[reason],
  };
}

const STAGE_METHODS: Partial<Record<Stage, { file: string; method: string }>> = {
  emit: { file: FILES.emitter, method: 'WorkspaceEventEmitter.emitDatabaseBatchEvent' },
  listen: { file: FILES.listener, method: 'EntityEventsToDbListener.handleEvent' },
  pubsub: { file: FILES.subscriptionService, method: 'SubscriptionService.publishToEventStream' },
  legacy_pubsub: { file: FILES.subscriptionService, method: 'SubscriptionService.publish' },
  deliver: { file: FILES.subscriptionService, method: 'SubscriptionService.subscribeToEventStream' },
};

function failureLocation(stage: Stage, generation: Generation | undefined): { file: string; method: string } {
  const module = moduleFor(generation);
  if (stage === 'stream') return module.streamAt;
  if (stage === 'fanout' || stage === 'publish') return module.fanoutAt;
  if (stage === 'workflow_step') return NOT_EMITTED_AT;
  return STAGE_METHODS[stage] ?? module.streamAt;
}

function emptyCell(): StageOriginCell {
  return { entered: 0, forwarded: 0, failed: 0, dropped: 0, dropsByReason: {} };
}

export function buildFunnelReport(rows: FunnelRow[], generation?: Generation): FunnelReport {
  const byStage = new Map<Stage, Map<Origin, StageOriginCell>>();
  for (const row of rows) {
    if (row.count <= 0) continue;
    let origins = byStage.get(row.stage);
    if (!origins) byStage.set(row.stage, (origins = new Map()));
    let cell = origins.get(row.origin);
    if (!cell) origins.set(row.origin, (cell = emptyCell()));
    cell.entered += row.count;
    if (row.outcome === 'forwarded') cell.forwarded += row.count;
    else if (row.outcome === 'failed') cell.failed += row.count;
    else {
      cell.dropped += row.count;
      const reason = row.reason ?? 'unattributed';
      cell.dropsByReason[reason] = (cell.dropsByReason[reason] ?? 0) + row.count;
    }
  }

  const stages = STAGES.filter((stage) => byStage.has(stage)).map((stage) => ({
    stage,
    byOrigin: Object.fromEntries(byStage.get(stage)!) as Partial<Record<Origin, StageOriginCell>>,
  }));

  // An exception propagates outwards (stream -> fanout -> publish -> listen), so each origin's
  // failures are charged to the innermost stage that reports them.
  const failureHome = new Map<Origin, Stage>();
  for (const { stage, byOrigin } of stages) {
    for (const [origin, cell] of Object.entries(byOrigin) as [Origin, StageOriginCell][]) {
      if (cell.failed > 0) failureHome.set(origin, stage);
    }
  }
  const ownFailures = (stage: Stage, origin: Origin, cell: StageOriginCell | undefined) =>
    cell && failureHome.get(origin) === stage ? cell.failed : 0;
  const lossRatio = (stage: Stage, origin: Origin, cell: StageOriginCell | undefined) =>
    cell && cell.entered > 0 ? (cell.dropped + ownFailures(stage, origin, cell)) / cell.entered : 0;
  let firstDivergence: FunnelReport['firstDivergence'];
  for (const { stage, byOrigin } of stages) {
    const workflow = byOrigin.workflow;
    if (!workflow || workflow.dropped + ownFailures(stage, 'workflow', workflow) === 0) continue;
    const workflowLoss = lossRatio(stage, 'workflow', workflow);
    const uiLoss = lossRatio(stage, 'ui', byOrigin.ui);
    if (workflowLoss > uiLoss) {
      const topReason = (Object.entries(workflow.dropsByReason) as [DropReason, number][]).sort(
        (a, b) => b[1] - a[1],
      )[0]?.[0];
      firstDivergence = { stage, workflowLossRatio: workflowLoss, uiLossRatio: uiLoss, topReason };
      break;
    }
  }

  const diagnosis: Diagnosis[] = [];
  for (const { stage, byOrigin } of stages) {
    for (const [origin, cell] of Object.entries(byOrigin) as [Origin, StageOriginCell][]) {
      for (const [reason, count] of Object.entries(cell.dropsByReason) as [DropReason, number][]) {
        diagnosis.push({
          stage,
          origin,
          reason,
          count,
          code: (generation && moduleFor(generation).codeFor?.(reason)) ?? DROP_REASONS[reason].code,
          ...locate(reason, generation),
        });
      }
    }
  }
  diagnosis.sort(
    (a, b) => (a.origin === 'workflow' ? -1 : 0) - (b.origin === 'workflow' ? -1 : 0) || b.count - a.count,
  );
  const failures: FunnelReport['failures'] = [];
  for (const [origin, stage] of failureHome) {
    const cell = stages.find((entry) => entry.stage === stage)!.byOrigin[origin]!;
    failures.push({ stage, origin, count: cell.failed, ...failureLocation(stage, generation) });
  }
  const healthy = stages.every(({ byOrigin }) =>
    Object.values(byOrigin).every((cell) => cell!.dropped + cell!.failed === 0),
  );
  return { generation, stages, firstDivergence, diagnosis, failures, healthy };
}

const COLUMNS: Origin[] = ['workflow', 'ui', 'api_key', 'application', 'system', 'unknown'];

function pad(text: string, width: number): string {
  return text.length >= width ? text : text + ' '.repeat(width - text.length);
}

function describeCell(cell: StageOriginCell | undefined): string {
  if (!cell) return '-';
  let text = `${cell.entered} in, ${cell.forwarded} on`;
  if (cell.dropped > 0) {
    const reasons = Object.entries(cell.dropsByReason)
      .map(([reason, count]) => `${reason} ${count}`)
      .join(', ');
    text += `, ${cell.dropped} dropped (${reasons})`;
  }
  if (cell.failed > 0) text += `, ${cell.failed} failed`;
  return text;
}

/** The funnel table (one row per stage, one column per origin seen) and the note on units. */
function renderFunnelTable(report: FunnelReport): string[] {
  const origins = COLUMNS.filter((origin) => report.stages.some(({ byOrigin }) => byOrigin[origin]));
  const lines: string[] = [];
  const widths = origins.map((origin) =>
    Math.max(origin.length, ...report.stages.map(({ byOrigin }) => describeCell(byOrigin[origin]).length)),
  );
  const row = (cells: string[]) =>
    [pad(cells[0], 14), ...cells.slice(1).map((cell, i) => pad(cell, widths[i]))].join(' | ').trimEnd();
  const header = row(['stage', ...origins]);
  lines.push(header, '-'.repeat(header.length));
  for (const { stage, byOrigin } of report.stages) {
    lines.push(row([stage, ...origins.map((origin) => describeCell(byOrigin[origin]))]));
  }
  lines.push('');
  lines.push(
    'Units: events per stage; the stream stage counts (event x subscriber stream) pairs; deliver counts events handed to SSE connections.',
  );
  return lines;
}

const unitsAt = (stage: Stage) => (stage === 'stream' ? 'event x stream pairs' : 'events');

function renderDrop(d: Diagnosis): string[] {
  return [
    `- ${d.count} ${d.origin} ${unitsAt(d.stage)} dropped at ${d.stage}: ${d.reason} (${d.code})`,
    `  where: ${d.method} in ${d.file}`,
    `  why:   ${d.condition}`,
  ];
}

function renderFailure(f: FunnelReport['failures'][number]): string[] {
  return [
    `- ${f.count} ${f.origin} ${unitsAt(f.stage)} failed at ${f.stage}: an exception (its error.type is on the span)`,
    `  where: ${f.method} in ${f.file}`,
  ];
}

/** Plain-text rendering: the funnel table, the first divergence, the diagnosis. */
export function renderFunnelReport(report: FunnelReport): string {
  const lines = renderFunnelTable(report);
  lines.push('');
  if (report.firstDivergence) {
    const d = report.firstDivergence;
    lines.push(
      `First divergence: workflow events are lost at stage "${d.stage}" (${(d.workflowLossRatio * 100).toFixed(1)}% vs ${(d.uiLossRatio * 100).toFixed(1)}% for UI)` +
        (d.topReason ? `, mostly ${d.topReason}.` : '.'),
    );
  } else if (report.healthy) {
    lines.push('Healthy: no event was dropped or failed at any stage.');
  } else {
    lines.push('No stage loses workflow events at a higher ratio than UI events.');
  }
  if (report.diagnosis.length > 0 || report.failures.length > 0) {
    lines.push('', 'Diagnosis:');
    for (const d of report.diagnosis) lines.push(...renderDrop(d));
    for (const f of report.failures) lines.push(...renderFailure(f));
  }
  return lines.join('\n');
}

// ---------------------------------------------------------------- routine versus loss (the doctor)

/** A drop reason at one stage, all origins together, with its share of the stage's units. */
export interface ReasonShare {
  stage: Stage;
  reason: DropReason;
  count: number;
  byOrigin: Partial<Record<Origin, number>>;
  /** count / units that entered the stage (all origins). */
  share: number;
  /** churn only: the share that is still routine. */
  routineShare?: number;
}

/**
 * The split the alert rules make (src/semconv.ts DROP_REASONS kinds):
 * filtering, and churn within its routine share, is routine; loss-kind drops,
 * churn above its routine share (on enough units) and failures are loss.
 */
export interface LossAssessment {
  lossFound: boolean;
  routine: ReasonShare[];
  aboveRoutine: ReasonShare[];
  /** The drops of loss kind, located in the generation's code. */
  lost: Diagnosis[];
  /** The first stage (pipeline order) where workflow units are lost at a higher share than UI units. */
  workflowLossAboveUi?: {
    stage: Stage;
    workflowLossShare: number;
    uiLossShare: number;
    topReason?: DropReason | 'failed';
  };
  /**
   * The first stage where routine drops take a share of workflow units larger than of UI units by more than
   * WORKFLOW_DIVERGENCE_THRESHOLD. Not loss (workflows often change records no open tab shows), but worth a look.
   */
  workflowRoutineAboveUi?: { stage: Stage; workflowShare: number; uiShare: number; topReason: DropReason };
}

export function assessLoss(report: FunnelReport, minUnits = LOSS_SHARE_MIN_UNITS): LossAssessment {
  const routine: ReasonShare[] = [];
  const aboveRoutine: ReasonShare[] = [];
  for (const { stage, byOrigin } of report.stages) {
    const cells = Object.entries(byOrigin) as [Origin, StageOriginCell][];
    const entered = cells.reduce((sum, [, cell]) => sum + cell.entered, 0);
    const reasons = new Map<DropReason, ReasonShare>();
    for (const [origin, cell] of cells) {
      for (const [reason, count] of Object.entries(cell.dropsByReason) as [DropReason, number][]) {
        if (dropReasonKind(reason) === 'loss') continue;
        let entry = reasons.get(reason);
        if (!entry)
          reasons.set(
            reason,
            (entry = { stage, reason, count: 0, byOrigin: {}, share: 0, routineShare: routineShareOf(reason) }),
          );
        entry.count += count;
        entry.byOrigin[origin] = (entry.byOrigin[origin] ?? 0) + count;
      }
    }
    for (const entry of reasons.values()) {
      entry.share = entered > 0 ? entry.count / entered : 0;
      const tooMuch = entry.routineShare !== undefined && entered >= minUnits && entry.share > entry.routineShare;
      (tooMuch ? aboveRoutine : routine).push(entry);
    }
  }
  const lost = report.diagnosis.filter((d) => dropReasonKind(d.reason) === 'loss');

  const ownFailures = new Map(report.failures.map((f) => [`${f.stage}|${f.origin}`, f.count]));
  const lossOf = (stage: Stage, origin: Origin, cell: StageOriginCell | undefined) => {
    if (!cell || cell.entered === 0) return 0;
    const dropped = (Object.entries(cell.dropsByReason) as [DropReason, number][])
      .filter(([reason]) => dropReasonKind(reason) === 'loss')
      .reduce((sum, [, count]) => sum + count, 0);
    return (dropped + (ownFailures.get(`${stage}|${origin}`) ?? 0)) / cell.entered;
  };
  let workflowLossAboveUi: LossAssessment['workflowLossAboveUi'];
  for (const { stage, byOrigin } of report.stages) {
    const workflowLossShare = lossOf(stage, 'workflow', byOrigin.workflow);
    const uiLossShare = lossOf(stage, 'ui', byOrigin.ui);
    if (workflowLossShare === 0 || workflowLossShare <= uiLossShare) continue;
    const workflow = byOrigin.workflow as StageOriginCell;
    const candidates: [DropReason | 'failed', number][] = [
      ...(Object.entries(workflow.dropsByReason) as [DropReason, number][]).filter(
        ([reason]) => dropReasonKind(reason) === 'loss',
      ),
      ['failed', ownFailures.get(`${stage}|workflow`) ?? 0],
    ];
    const topReason = candidates.sort((a, b) => b[1] - a[1])[0]?.[0];
    workflowLossAboveUi = { stage, workflowLossShare, uiLossShare, topReason };
    break;
  }
  return {
    lossFound: lost.length > 0 || aboveRoutine.length > 0 || report.failures.length > 0,
    routine,
    aboveRoutine,
    lost,
    workflowLossAboveUi,
    workflowRoutineAboveUi: routineAboveUi(report),
  };
}

function routineAboveUi(report: FunnelReport): LossAssessment['workflowRoutineAboveUi'] {
  const routineOf = (cell: StageOriginCell | undefined) =>
    (Object.entries(cell?.dropsByReason ?? {}) as [DropReason, number][]).filter(
      ([reason]) => dropReasonKind(reason) !== 'loss',
    );
  for (const { stage, byOrigin } of report.stages) {
    const workflow = byOrigin.workflow;
    const ui = byOrigin.ui;
    if (!workflow || !ui || workflow.entered === 0 || ui.entered === 0) continue;
    const workflowShare = routineOf(workflow).reduce((sum, [, count]) => sum + count, 0) / workflow.entered;
    const uiShare = routineOf(ui).reduce((sum, [, count]) => sum + count, 0) / ui.entered;
    if (workflowShare - uiShare <= WORKFLOW_DIVERGENCE_THRESHOLD) continue;
    const [topReason] = routineOf(workflow).sort((a, b) => b[1] - a[1])[0];
    return { stage, workflowShare, uiShare, topReason };
  }
  return undefined;
}

const ROUTINE_WHY: Record<'filtering' | 'churn', string> = {
  filtering: 'filtering by design',
  churn: 'routine at this share',
};

const percentText = (share: number) => `${(share * 100).toFixed(1)}%`;

function describeShare(entry: ReasonShare): string {
  const origins = (Object.entries(entry.byOrigin) as [Origin, number][])
    .map(([origin, count]) => `${count} ${origin}`)
    .join(', ');
  const limit = entry.routineShare === undefined ? '' : `, routine below ${percentText(entry.routineShare)}`;
  return `${entry.reason} (${DROP_REASONS[entry.reason].code}) at ${entry.stage}: ${origins} ${unitsAt(entry.stage)} (${percentText(entry.share)} of the stage${limit})`;
}

/** One sentence: are workflow events lost compared with UI events, and is anything lost at all. */
export function lossVerdict(assessment: LossAssessment): string {
  const d = assessment.workflowLossAboveUi;
  if (d) {
    return (
      `Workflow events are lost at stage "${d.stage}": ${percentText(d.workflowLossShare)} of them vs ${percentText(d.uiLossShare)} of UI events` +
      (d.topReason ? `, mostly ${d.topReason}.` : '.')
    );
  }
  return assessment.lossFound
    ? 'Events are lost, but workflow events no more than UI events.'
    : 'No loss: every drop in the window is routine.';
}

/**
 * The doctor's rendering: the funnel table, then the verdict the alert rules
 * would reach (workflow loss compared with UI loss), routine filtering named
 * as such, and every loss located in the running generation's code.
 */
export function renderLossReport(
  report: FunnelReport,
  assessment: LossAssessment,
  locateReason = (reason: DropReason) => locate(reason, report.generation),
): string {
  const lines = renderFunnelTable(report);
  lines.push('', lossVerdict(assessment));
  const routineGap = assessment.workflowRoutineAboveUi;
  if (routineGap) {
    const where = locateReason(routineGap.topReason);
    lines.push(
      '',
      `Worth a look: at stage "${routineGap.stage}", routine drops end ${percentText(routineGap.workflowShare)} of workflow units vs ${percentText(
        routineGap.uiShare,
      )} of UI units, mostly ${routineGap.topReason} (${DROP_REASONS[routineGap.topReason].code}). Routine when workflows change records the open tabs do not show, so no alert fires for it; if tables miss workflow changes, this is where:`,
      `  where: ${where.method} in ${where.file}`,
      `  why:   ${where.condition}`,
    );
  }
  if (assessment.routine.length > 0) {
    lines.push('', 'Routine (not loss):');
    for (const entry of assessment.routine)
      lines.push(`- ${describeShare(entry)}: ${ROUTINE_WHY[dropReasonKind(entry.reason) as 'filtering' | 'churn']}`);
  }
  if (assessment.lost.length > 0 || assessment.aboveRoutine.length > 0 || report.failures.length > 0) {
    lines.push('', 'Loss:');
    for (const entry of assessment.aboveRoutine) {
      const where = locateReason(entry.reason);
      lines.push(
        `- ${describeShare(entry)}: above its routine share`,
        `  where: ${where.method} in ${where.file}`,
        `  why:   ${where.condition}`,
      );
    }
    for (const lost of assessment.lost) lines.push(...renderDrop(lost));
    for (const f of report.failures) lines.push(...renderFailure(f));
  }
  return lines.join('\n');
}
