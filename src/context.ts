import { Context } from '@opentelemetry/api';
import { AsyncLocalStorage } from 'async_hooks';
import { DropReason, Origin } from './semconv';

/** What a workflow step marks on the async context so that everything it causes counts as origin=workflow. */
export interface WorkflowMark {
  workflowRunId?: string;
  stepId?: string;
  stepType?: string;
}

/** One record-mutating workflow action in progress: counts the events emitted while it runs. */
export interface ActionScope {
  emittedEvents: number;
}

/** Streams seen by one fan-out (publishToEventStreams, or the newest publish). */
export interface FanoutScope {
  activeStreamIds?: string[];
  streamsData?: Map<string, unknown>;
  permissionsContext?: Record<string, unknown>;
  /** Channels whose (event, stream) pairs were already accounted by a stream-stage invocation. */
  accountedChannels: Set<string>;
}

/** The observations made inside one per-stream invocation (processStreamEvents & co). */
export interface StreamScope {
  /** Ordered helper results, one entry per helper call. */
  steps: StreamStep[];
  roleIds?: unknown;
  objectsPermissions?: unknown;
  objectsPermissionsSeen: boolean;
  recordShareGate?: unknown;
  permissionsContext?: Record<string, unknown>;
  /** Number of events published to this stream and their payload items. */
  publishedItems: unknown[];
  publishFailed?: boolean;
  explicitDrops: { reason: DropReason; count: number }[];
}

export type StreamStep =
  | { kind: 'filter'; emptiedUpdatedFields: boolean }
  | { kind: 'match'; matched: number };

export interface Frame {
  /** The span context of the innermost stage, kept here so parentage works even when the app registered no context manager. */
  otelContext?: Context;
  workflow?: WorkflowMark;
  action?: ActionScope;
  fanout?: FanoutScope;
  stream?: StreamScope;
  /** When the batch being fanned out was emitted (epoch ms), for the emit-to-deliver latency. */
  emittedAt?: number;
  /** Dominant origin of the batch being published (the legacy channel payload carries no author). */
  publishOrigin?: Origin;
  /** Drops declared with recordDrop() inside a @TraceStage method. */
  explicitDrops?: { reason: DropReason; count: number }[];
}

const storage = new AsyncLocalStorage<Frame>();

export function currentFrame(): Frame | undefined {
  return storage.getStore();
}

export function runInFrame<T>(patch: Partial<Frame>, fn: () => T): T {
  const parent = storage.getStore();
  return storage.run(parent ? Object.assign({}, parent, patch) : patch, fn);
}

const originByEvent = new WeakMap<object, Origin>();
const emittedAtByEvent = new WeakMap<object, number>();

export function rememberEmitTime(event: unknown, at: number): void {
  if (event && typeof event === 'object') emittedAtByEvent.set(event, at);
}

/** The earliest emit time of these events, if the emit stage saw them. */
export function earliestEmitTime(events: readonly unknown[]): number | undefined {
  let earliest: number | undefined;
  for (const event of events) {
    const at = event && typeof event === 'object' ? emittedAtByEvent.get(event) : undefined;
    if (at !== undefined && (earliest === undefined || at < earliest)) earliest = at;
  }
  return earliest;
}

/** Who authored an event, from the author fields Twenty sets on it. */
export function authorOrigin(event: unknown): Origin {
  if (!event || typeof event !== 'object') return 'unknown';
  const e = event as Record<string, unknown>;
  if (isPresent(e.userId) || isPresent(e.workspaceMemberId) || isPresent(e.userWorkspaceId)) return 'ui';
  if (isPresent(e.apiKeyId)) return 'api_key';
  if (isPresent(e.applicationId)) return 'application';
  return 'system';
}

function isPresent(value: unknown): boolean {
  return typeof value === 'string' && value.length > 0;
}

/**
 * The origin of one event: workflow when a workflow step is on the async
 * context (it wins over the author, so a manual run acting as a user still
 * counts as workflow), else what the emit stage remembered, else the author.
 */
export function originOf(event: unknown, frame: Frame | undefined = storage.getStore()): Origin {
  if (frame?.workflow) return 'workflow';
  if (event && typeof event === 'object') {
    const remembered = originByEvent.get(event);
    if (remembered) return remembered;
  }
  return authorOrigin(event);
}

export function rememberOrigin(event: unknown, origin: Origin): void {
  if (event && typeof event === 'object') originByEvent.set(event, origin);
}

/** Groups a list of events by origin: origin -> count. */
// The same events array goes through listen, publish, fanout and every stream of one process.
const countsByEvents = new WeakMap<readonly unknown[], { workflow: boolean; counts: Map<Origin, number> }>();

export function countByOrigin(events: readonly unknown[], frame: Frame | undefined = storage.getStore()): Map<Origin, number> {
  const workflow = frame?.workflow !== undefined;
  const cached = countsByEvents.get(events);
  if (cached && cached.workflow === workflow) return cached.counts;
  const counts = new Map<Origin, number>();
  for (const event of events) {
    const origin = originOf(event, frame);
    counts.set(origin, (counts.get(origin) ?? 0) + 1);
  }
  countsByEvents.set(events, { workflow, counts });
  return counts;
}
