import { Context } from '@opentelemetry/api';
import { AsyncLocalStorage } from 'async_hooks';
import { DropReason, Origin } from '../semconv';
import type { ConnectionRecord } from '../otel/connections';
import type { EventLedger } from './event-ledger';

/** What a workflow step marks on the async context so that everything it causes counts as origin=workflow. */
export interface WorkflowMark {
  workflowRunId?: string;
  stepId?: string;
  stepType?: string;
}

/** One record-mutating workflow action in progress: counts the events emitted while it runs. */
export interface ActionScope {
  emittedEvents: number;
  /** Events the app holds back until its transaction commits. */
  deferredEvents: number;
  /** Set while the action has returned but its deferred events are neither emitted nor discarded. */
  settle?: (outcome: 'emitted' | 'discarded') => void;
}

/** Who raised an event the app held back until COMMIT: it may be emitted outside that async context. */
export interface Deferral {
  workflow: WorkflowMark | undefined;
  action: ActionScope | undefined;
}

const deferrals = new WeakMap<object, Deferral>();
const actionsByHandle = new WeakMap<object, Set<ActionScope>>();

export function rememberDeferral(event: unknown, handle: object, deferral: Deferral): void {
  if (!event || typeof event !== 'object') return;
  deferrals.set(event, deferral);
  if (!deferral.action) return;
  let actions = actionsByHandle.get(handle);
  if (!actions) actionsByHandle.set(handle, (actions = new Set()));
  actions.add(deferral.action);
}

export function deferralOf(event: unknown): Deferral | undefined {
  return event && typeof event === 'object' ? deferrals.get(event) : undefined;
}

/** The actions whose events wait on this transaction handle; forgets them. */
export function takeActionsDeferredOn(handle: object): ActionScope[] {
  const actions = actionsByHandle.get(handle);
  actionsByHandle.delete(handle);
  return actions ? [...actions] : [];
}

/**
 * Results of the app's helper methods that one invocation observed, by probe
 * name (see roles/probes.ts). A Map, so "called, returned undefined" differs
 * from "never called".
 */
export type Facts = Map<string, unknown>;

/** Streams seen by one fan-out. */
export interface FanoutScope {
  facts: Facts;
  /** Channels whose (event, stream) pairs were already accounted by a stream-stage invocation. */
  accountedChannels: Set<string>;
}

/** The observations made inside one per-stream invocation. */
export interface StreamScope {
  /** Stream-wide helper results. */
  facts: Facts;
  /** Per-event helper results, each tied to the event it was called with. */
  ledger: EventLedger;
  /** Number of payload items published to this stream. */
  publishedItems: number;
  publishFailed?: boolean;
  explicitDrops: { reason: DropReason; count: number }[];
  /** The origin of every event of the stream's batch, when they all share one. */
  singleOrigin?: Origin;
}

/**
 * Filled by the pub/sub client's publish while a `pubsub` invocation runs:
 * the number of subscribers Redis reported for the publish(es) it made.
 */
export interface PublishReceipt {
  /** Publishes whose reply arrived (0 when the client gives no count). */
  replies: number;
  subscribers: number;
}

/** The SSE subscription a resolver call is setting up (see roles/connection.ts). */
export interface ConnectionScope {
  /** The resolver found the stream already registered in Redis before it (re)created it. */
  streamWasRegistered?: boolean;
  /** Set once the Redis iterator exists: the connection's record. */
  record?: ConnectionRecord;
}

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
  publishReceipt?: PublishReceipt;
  connection?: ConnectionScope;
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
      publishReceipt: undefined,
      connection: undefined,
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
    publishReceipt: parent.publishReceipt,
    connection: parent.connection,
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
export interface EventMark {
  origin: Origin | undefined;
  emittedAt: number | undefined;
}

// Per event only where the emit stage knew more than the event itself tells (a workflow on the context, or a
// deferral): routine events need no entry. An entry per event would grow the WeakMap's table with the event rate
// (its dead entries only go at a full GC), which showed as a heap step of about 2 MB under load.
const markByEvent = new WeakMap<object, EventMark>();
// The emit time of every emitted events array: one entry per batch. The stages after emit see the same array.
const emitTimeByEvents = new WeakMap<readonly unknown[], number>();

/**
 * Remembers what the emit stage learnt about one event, when the event alone
 * would not tell it (`origin` differs from what its author says): one map write
 * per such event. Marks are read-only, so events of one emit with the same
 * origin share one: pass the mark this returned for the previous event.
 */
export function rememberEmit(
  event: unknown,
  origin: Origin,
  authored: Origin,
  at: number,
  previous?: EventMark,
): EventMark | undefined {
  if (origin === authored || !event || typeof event !== 'object') return previous;
  const mark =
    previous && previous.origin === origin && previous.emittedAt === at ? previous : { origin, emittedAt: at };
  markByEvent.set(event, mark);
  return mark;
}

/** Remembers when an events array was emitted (once per batch). */
export function rememberEmitTime(events: readonly unknown[], at: number): void {
  emitTimeByEvents.set(events, at);
}

/** When these events were emitted: the array's emit time, else the earliest mark of its events, if the emit stage saw them. */
export function earliestEmitTime(events: readonly unknown[]): number | undefined {
  const batchTime = emitTimeByEvents.get(events);
  if (batchTime !== undefined) return batchTime;
  let earliest: number | undefined;
  for (const event of events) {
    const at = event && typeof event === 'object' ? markByEvent.get(event)?.emittedAt : undefined;
    if (at !== undefined && (earliest === undefined || at < earliest)) earliest = at;
  }
  return earliest;
}

/** How the app tells who authored an event (supplied by the app model; the engine knows no field names). */
export type AuthorOrigin = (event: unknown) => Origin;

/**
 * The origin of one event: workflow when a workflow step is on the async
 * context (it wins over the author, so a manual run acting as a user still
 * counts as workflow), else what the emit stage remembered, else the author.
 */
export function originOf(event: unknown, frame: Frame | undefined, author: AuthorOrigin): Origin {
  if (frame?.workflow) return 'workflow';
  return rememberedOrigin(event) ?? author(event);
}

/** The origin an earlier stage learnt for this event beyond what its author tells (emit mark, deferral by a workflow). */
export function rememberedOrigin(event: unknown): Origin | undefined {
  if (!event || typeof event !== 'object') return undefined;
  const remembered = markByEvent.get(event)?.origin;
  if (remembered) return remembered;
  return deferrals.get(event)?.workflow ? 'workflow' : undefined;
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

export function batchFacts(events: readonly unknown[], frame: Frame | undefined, author: AuthorOrigin): BatchFacts {
  const workflow = frame?.workflow !== undefined;
  const cached = factsByEvents.get(events);
  if (cached && cached.workflow === workflow) return cached;
  const counts = new Map<Origin, number>();
  for (const event of events) {
    const origin = originOf(event, frame, author);
    counts.set(origin, (counts.get(origin) ?? 0) + 1);
  }
  const facts: BatchFacts = {
    workflow,
    counts,
    dominant: dominantOrigin(counts),
    // a stage that got a new array of the emitted events still runs in the emit's async context
    emittedAt: earliestEmitTime(events) ?? frame?.emittedAt,
  };
  factsByEvents.set(events, facts);
  return facts;
}
