/**
 * Facts about Twenty shared by every generation: channel names, workflow
 * action class names, the shapes of events, batches and payloads. Each
 * generation's own facts live in generations/<id>.ts.
 */

/** The Redis channel family of per-browser event streams (`EVENT_STREAM_CHANNEL:<workspaceId>:<channelId>`). */
export const EVENT_STREAM_CHANNEL = 'EVENT_STREAM_CHANNEL';
export const EVENT_STREAM_CHANNEL_TEMPLATE = `${EVENT_STREAM_CHANNEL}:{workspaceId}:{eventStreamChannelId}`;

/** The legacy per-event channel (`{ onDbEvent }` messages) that generations up to V9 still publish to. */
export const DATABASE_EVENT_CHANNEL = 'DATABASE_EVENT_CHANNEL';

/** Workflow actions that create, change or delete records (their execute should cause database events). */
export const RECORD_WORKFLOW_ACTION =
  /^(Create|Update|Delete|Upsert|Restore|Destroy|CreateOrUpdate)Records?WorkflowAction$/;

/**
 * Database-event actions that never reach a browser. Twenty's insert and
 * update query builders follow each `created` / `updated` batch with an
 * `upserted` batch of the same records, for workflow and agent triggers; no
 * listener hands `*.upserted` to the SSE pipeline. Counting those twins at
 * the emit stage would double "events emitted" and show half of them vanish
 * before the listener.
 */
export const NON_SSE_ACTIONS: readonly string[] = ['upserted'];

/** Any workflow action class. */
export const WORKFLOW_ACTION = /WorkflowAction$/;

/** Twenty's source root, as the diagnosis prints file paths. */
export const SERVER_SRC = 'packages/twenty-server/src';

export const FILES = {
  emitter: `${SERVER_SRC}/engine/workspace-event-emitter/workspace-event-emitter.ts`,
  listener: `${SERVER_SRC}/engine/api/graphql/workspace-query-runner/listeners/entity-events-to-db.listener.ts`,
  workspaceEventEmitterService: `${SERVER_SRC}/engine/workspace-event-emitter/workspace-event-emitter.service.ts`,
  objectRecordEventPublisher: `${SERVER_SRC}/engine/subscriptions/object-record-event/object-record-event-publisher.ts`,
  subscriptionService: `${SERVER_SRC}/engine/subscriptions/subscription.service.ts`,
  workflowExecutor: `${SERVER_SRC}/modules/workflow/workflow-executor/workspace-services/workflow-executor.workspace-service.ts`,
} as const;

export type Dict = Record<string, unknown>;

export function asDict(value: unknown): Dict | undefined {
  return value && typeof value === 'object' && !Array.isArray(value) ? (value as Dict) : undefined;
}

export function isDefined<T>(value: T | null | undefined): value is T {
  return value !== undefined && value !== null;
}

export function nonEmptyString(value: unknown): string | undefined {
  return typeof value === 'string' && value.length > 0 ? value : undefined;
}
