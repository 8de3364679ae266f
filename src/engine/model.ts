import { AuthorOrigin, Facts, WorkflowMark } from './context';
import { EventIdentity, EventLedger } from './event-ledger';
import { PairOutcome } from './outcomes';

/**
 * What the engine needs to know about the instrumented app, and nothing more.
 * The engine knows stages, outcomes and origins; the app model (src/twenty)
 * knows class, method, argument and channel names, and each generation's
 * drop rules.
 */

/** One batch of record events as a stage method received it. */
export interface BatchView {
  /** The batch object itself: per-batch caches are keyed by it. */
  raw: object;
  events: readonly unknown[];
  /** Event name, e.g. `company.updated`. */
  name: string;
  objectName?: string;
  action?: string;
  workspaceId?: unknown;
}

/** One call of the per-stream method, read from its arguments. */
export interface StreamCall {
  channelId: string;
  batch: BatchView;
  /** The subscriber's id, raw (the engine hashes it per TWENTY_SSE_OTEL_CAPTURE_IDS). */
  subscriberId?: unknown;
  /** Whatever else the generation's drop rules read from the arguments. */
  inputs: unknown;
}

/** Everything one per-stream invocation saw, for the drop rules. */
export interface StreamObservation {
  call: StreamCall;
  /** Stream-wide helper results (by probe name). */
  facts: Facts;
  /** Batch-wide helper results of the enclosing fan-out, when there is one. */
  fanoutFacts: Facts | undefined;
  ledger: EventLedger;
  publishedItems: number;
  publishFailed: boolean;
  threw: boolean;
}

export interface FanoutObservation {
  facts: Facts;
  /** Channels a per-stream invocation accounted for. */
  accountedChannels: ReadonlySet<string>;
  threw: boolean;
}

export interface FanoutVerdict {
  /** The batch's outcome at the fan-out stage. */
  batch: PairOutcome;
  /** (event, stream) pairs of streams no per-stream invocation accounted for. */
  pairs: { channelId: string; outcome: PairOutcome }[];
  /** How many active streams the fan-out found, when the generation's code says it (span attribute only). */
  streamCount?: number;
}

/** A generation's stream handling: how to read the per-stream call and why pairs were dropped. */
export interface StreamRules {
  readStreamCall(args: unknown[]): StreamCall | undefined;
  /** One outcome per event of the batch, in batch order. */
  classifyStream(observation: StreamObservation): PairOutcome[];
  classifyFanout(observation: FanoutObservation): FanoutVerdict;
}

/** The items of a published payload and where a carrier may ride on it. */
export interface PayloadModel {
  items(payload: unknown): { shape: 'array' | 'object'; items: unknown[] } | undefined;
  /** The event inside one item. */
  itemEvent(item: unknown): unknown;
}

export interface WorkflowActionView {
  /** What the call's arguments say about the run and step (the rest comes from the enclosing step). */
  mark: Partial<WorkflowMark>;
  /** The action changes records (so it should cause events). */
  mutatesRecords: boolean;
  /** Its runtime class name, for the span name. */
  className: string;
}

export interface PublishView {
  workspaceId?: unknown;
  channelId?: string;
  payload: unknown;
}

export interface AppModel {
  authorOrigin: AuthorOrigin;
  eventIdentity: EventIdentity;
  /** A batch handed to listen/publish/fan-out. */
  readBatch(value: unknown): BatchView | undefined;
  /** The batch the emitter is asked to emit. */
  readEmit(args: unknown[]): BatchView | undefined;
  /** The open transaction an emit call's events wait on (undefined: emitted right away). */
  deferralHandle(args: unknown[]): object | undefined;
  /** A transaction handle passed to the emitter's rollback method. */
  deferralHandleOf(value: unknown): object | undefined;
  workflowRun(args: unknown[]): Partial<WorkflowMark>;
  workflowStep(args: unknown[]): Partial<WorkflowMark>;
  workflowAction(self: unknown, args: unknown[], declaredClass: string): WorkflowActionView;
  /** A resolved action result that reports a failure without throwing. */
  actionFailed(value: unknown): boolean;
  payload: PayloadModel;
  /** The event-stream publish: its input, and the arguments to call it with instead (carrier added). */
  readPublish(args: unknown[]): PublishView | undefined;
  withPayload(args: unknown[], payload: unknown): unknown[];
  eventStreamDestination: { name: string; template: string };
  /** The event-stream subscription of one SSE connection: which stream (channel id) it reads. */
  readSubscribe(args: unknown[]): { channelId?: string } | undefined;
  /** A publish to a legacy per-event channel, or undefined for any other publish. */
  readLegacyPublish(args: unknown[]): LegacyPublishInput | undefined;
}

/** What a legacy per-event channel publish tells: its channel, the channel's name template, the workspace. */
export interface LegacyPublishInput {
  channel: string;
  template: string;
  workspaceId?: unknown;
}
