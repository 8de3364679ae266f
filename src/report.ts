import { DROP_REASONS, DropReason, Generation, Origin, Outcome, STAGES, Stage } from './semconv';

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

const PUBLISHER_FILE = 'packages/twenty-server/src/engine/subscriptions/object-record-event/object-record-event-publisher.ts';
const SERVICE_FILE = 'packages/twenty-server/src/engine/workspace-event-emitter/workspace-event-emitter.service.ts';

function where(generation: Generation | undefined, level: 'fanout' | 'stream'): { file: string; method: string } {
  if (generation === 'publisher') {
    return {
      file: PUBLISHER_FILE,
      method: level === 'fanout' ? 'ObjectRecordEventPublisher.publish' : 'ObjectRecordEventPublisher.processObjectRecordStreamEvents',
    };
  }
  const streamMethod = generation === 'v8' ? 'processObjectRecordStreamEvents' : 'processStreamEvents';
  return {
    file: SERVICE_FILE,
    method: `WorkspaceEventEmitterService.${level === 'fanout' ? 'publishToEventStreams' : streamMethod}`,
  };
}

/** What each drop reason means in Twenty's code: the condition, in words an operator can act on. */
export const REASON_CONDITIONS: Record<DropReason, string> = {
  no_active_streams:
    'eventStreamService.getActiveStreamIds(workspaceId) returned [] (Redis set workspace:<ws>:activeStreams is empty): no browser has an open event stream for this workspace - IS_SSE_DB_EVENTS_ENABLED off, stream TTL expired, or the events belong to another workspace',
  stream_expired:
    'streamData for an active stream id is undefined: the key eventStream:<ws>:<channelId> expired (30 min TTL, heartbeat stopped) or was deleted; the id is then removed from the active set',
  stream_without_queries:
    'Object.keys(streamData.queries).length === 0: no addQueryToEventStream has succeeded on this stream yet (the race right after (re)connect)',
  subscriber_without_user_workspace:
    "streamData.authContext.userWorkspaceId is undefined: the SUBSCRIBER's identity (an API-key stream), not the event author's - a workflow author never reaches this check",
  subscriber_without_role:
    "permissionsContext.userWorkspaceRoleMap has no role for the subscriber's userWorkspaceId (stale workspace cache or a user without a role), or a role has no rolesPermissions entry",
  subscriber_application_inactive:
    "the subscriber stream carries an applicationId whose application is not active, so resolveStreamRoleIds returns []",
  object_not_readable: "the subscriber's role has canReadObjectRecords=false on this object",
  restricted_fields_only:
    'filterRestrictedFieldsFromEvent removed every updated field (all restricted for the subscriber), leaving updatedFields empty',
  record_share_denied: 'the record-share gate (IS_RECORD_SHARING_ENABLED) does not admit this record for the subscriber',
  no_matching_query:
    "no registered query of the stream matches the event (object name, RLS filter or the table's filter); before the ObjectRecordEventPublisher only `after` is tested, so an update that moves a record OUT of a table's filter is never delivered",
  not_emitted:
    'the workflow step changed a record but no database event was emitted (formatTwentyOrmEventToDatabaseBatchEvent emits nothing when no field changed, and writes outside the twenty-orm event path emit nothing)',
  unattributed:
    'a drop the instrumentation could not explain: Twenty probably changed this code path - please report it with the trace',
};

function locate(reason: DropReason, generation: Generation | undefined): { file: string; method: string } {
  if (reason === 'not_emitted') {
    return {
      file: 'packages/twenty-server/src/modules/workflow/workflow-executor/workspace-services/workflow-executor.workspace-service.ts',
      method: 'WorkflowExecutorWorkspaceService.executeStep -> *RecordWorkflowAction.execute',
    };
  }
  if (reason === 'no_active_streams') return where(generation, 'fanout');
  if (reason === 'stream_expired' || reason === 'stream_without_queries') return where(generation, 'fanout');
  return where(generation, 'stream');
}

const STAGE_METHODS: Partial<Record<Stage, { file: string; method: string }>> = {
  emit: { file: 'packages/twenty-server/src/engine/workspace-event-emitter/workspace-event-emitter.ts', method: 'WorkspaceEventEmitter.emitDatabaseBatchEvent' },
  listen: {
    file: 'packages/twenty-server/src/engine/api/graphql/workspace-query-runner/listeners/entity-events-to-db.listener.ts',
    method: 'EntityEventsToDbListener.handleEvent',
  },
  pubsub: { file: 'packages/twenty-server/src/engine/subscriptions/subscription.service.ts', method: 'SubscriptionService.publishToEventStream' },
  legacy_pubsub: { file: 'packages/twenty-server/src/engine/subscriptions/subscription.service.ts', method: 'SubscriptionService.publish' },
  deliver: { file: 'packages/twenty-server/src/engine/subscriptions/subscription.service.ts', method: 'SubscriptionService.subscribeToEventStream' },
};

function failureLocation(stage: Stage, generation: Generation | undefined): { file: string; method: string } {
  if (stage === 'stream') return where(generation, 'stream');
  if (stage === 'fanout' || stage === 'publish') return where(generation, 'fanout');
  if (stage === 'workflow_step') return locate('not_emitted', generation);
  return STAGE_METHODS[stage] ?? where(generation, 'stream');
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
      const topReason = (Object.entries(workflow.dropsByReason) as [DropReason, number][]).sort((a, b) => b[1] - a[1])[0]?.[0];
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
          code: DROP_REASONS[reason].code,
          ...locate(reason, generation),
          condition: REASON_CONDITIONS[reason],
        });
      }
    }
  }
  diagnosis.sort((a, b) => (a.origin === 'workflow' ? -1 : 0) - (b.origin === 'workflow' ? -1 : 0) || b.count - a.count);
  const failures: FunnelReport['failures'] = [];
  for (const [origin, stage] of failureHome) {
    const cell = stages.find((entry) => entry.stage === stage)!.byOrigin[origin]!;
    failures.push({ stage, origin, count: cell.failed, ...failureLocation(stage, generation) });
  }
  const healthy = stages.every(({ byOrigin }) => Object.values(byOrigin).every((cell) => cell!.dropped + cell!.failed === 0));
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

/** Plain-text rendering: the funnel table, the first divergence, the diagnosis. */
export function renderFunnelReport(report: FunnelReport): string {
  const origins = COLUMNS.filter((origin) => report.stages.some(({ byOrigin }) => byOrigin[origin]));
  const lines: string[] = [];
  const widths = origins.map((origin) =>
    Math.max(origin.length, ...report.stages.map(({ byOrigin }) => describeCell(byOrigin[origin]).length)),
  );
  const row = (cells: string[]) => [pad(cells[0], 14), ...cells.slice(1).map((cell, i) => pad(cell, widths[i]))].join(' | ').trimEnd();
  const header = row(['stage', ...origins]);
  lines.push(header, '-'.repeat(header.length));
  for (const { stage, byOrigin } of report.stages) {
    lines.push(row([stage, ...origins.map((origin) => describeCell(byOrigin[origin]))]));
  }
  lines.push('');
  lines.push('Units: events per stage; the stream stage counts (event x subscriber stream) pairs; deliver counts events handed to SSE connections.');
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
    for (const d of report.diagnosis) {
      lines.push(`- ${d.count} ${d.origin} ${d.stage === 'stream' ? 'event x stream pairs' : 'events'} dropped at ${d.stage}: ${d.reason} (${d.code})`);
      lines.push(`  where: ${d.method} in ${d.file}`);
      lines.push(`  why:   ${d.condition}`);
    }
    for (const f of report.failures) {
      lines.push(`- ${f.count} ${f.origin} ${f.stage === 'stream' ? 'event x stream pairs' : 'events'} failed at ${f.stage}: an exception (its error.type is on the span)`);
      lines.push(`  where: ${f.method} in ${f.file}`);
    }
  }
  return lines.join('\n');
}
