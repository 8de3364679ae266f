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
  /** Number of payload items published to this stream. */
  publishedItems: number;
  publishFailed?: boolean;
  explicitDrops: { reason: DropReason; count: number }[];
  /** The origin of every event of the stream's batch, when they all share one. */
  singleOrigin?: Origin;
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

/**
 * A new frame that inherits everything from `parent`. Every frame has the same
 * keys in the same order, so the hot path sees one object shape.
 */
export function childFrame(parent: Frame | undefined): Frame {
  if (!parent) {
    return {
      otelContext: undefined,
      workflow: undefined,
      action: undefined,
      fanout: undefined,
      stream: undefined,
      emittedAt: undefined,
      publishOrigin: undefined,
      explicitDrops: undefined,
    };
  }
  return {
    otelContext: parent.otelContext,
    workflow: parent.workflow,
    action: parent.action,
    fanout: parent.fanout,
    stream: parent.stream,
    emittedAt: parent.emittedAt,
    publishOrigin: parent.publishOrigin,
    explicitDrops: parent.explicitDrops,
  };
}

/** Runs `fn` with `frame` as the current frame. */
export function runWithFrame<T>(frame: Frame, fn: () => T): T {
  return storage.run(frame, fn);
}

export function runInFrame<T>(patch: Partial<Frame>, fn: () => T): T {
  return storage.run(Object.assign(childFrame(storage.getStore()), patch), fn);
}

/** What the emit stage learnt about one event object. */
interface EventMark {
  origin: Origin | undefined;
  emittedAt: number | undefined;
}

const markByEvent = new WeakMap<object, EventMark>();

function markOf(event: object): EventMark {
  let mark = markByEvent.get(event);
  if (!mark) {
    mark = { origin: undefined, emittedAt: undefined };
    markByEvent.set(event, mark);
  }
  return mark;
}

export function rememberEmitTime(event: unknown, at: number): void {
  if (event && typeof event === 'object') markOf(event).emittedAt = at;
}

/** Remembers both at once (the emit stage): one map write per event. */
export function rememberEmit(event: unknown, origin: Origin, at: number): void {
  if (event && typeof event === 'object') markByEvent.set(event, { origin, emittedAt: at });
}

/** The earliest emit time of these events, if the emit stage saw them. */
export function earliestEmitTime(events: readonly unknown[]): number | undefined {
  let earliest: number | undefined;
  for (const event of events) {
    const at = event && typeof event === 'object' ? markByEvent.get(event)?.emittedAt : undefined;
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
    const remembered = markByEvent.get(event)?.origin;
    if (remembered) return remembered;
  }
  return authorOrigin(event);
}

export function rememberOrigin(event: unknown, origin: Origin): void {
  if (event && typeof event === 'object') markOf(event).origin = origin;
}

/** The origin of most events in `counts` (the span's origin label). */
export function dominantOrigin(counts: Map<Origin, number>): Origin {
  let best: Origin = 'unknown';
  let bestCount = 0;
  for (const [origin, count] of counts) {
    if (count > bestCount) {
      best = origin;
      bestCount = count;
    }
  }
  return best;
}

/** What every stage needs to know about one events array, computed once per array and workflow mark. */
export interface BatchFacts {
  workflow: boolean;
  /** origin -> number of events */
  counts: Map<Origin, number>;
  dominant: Origin;
  /** The earliest emit time of the events, if the emit stage saw them (epoch ms). */
  emittedAt: number | undefined;
}

// The same events array goes through listen, publish, fanout and every stream of one process.
const factsByEvents = new WeakMap<readonly unknown[], BatchFacts>();

export function batchFacts(events: readonly unknown[], frame: Frame | undefined = storage.getStore()): BatchFacts {
  const workflow = frame?.workflow !== undefined;
  const cached = factsByEvents.get(events);
  if (cached && cached.workflow === workflow) return cached;
  const counts = new Map<Origin, number>();
  for (const event of events) {
    const origin = originOf(event, frame);
    counts.set(origin, (counts.get(origin) ?? 0) + 1);
  }
  const facts: BatchFacts = { workflow, counts, dominant: dominantOrigin(counts), emittedAt: earliestEmitTime(events) };
  factsByEvents.set(events, facts);
  return facts;
}

/** Groups a list of events by origin: origin -> count. */
export function countByOrigin(events: readonly unknown[], frame: Frame | undefined = storage.getStore()): Map<Origin, number> {
  return batchFacts(events, frame).counts;
}
