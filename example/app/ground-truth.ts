import { AsyncLocalStorage } from 'node:async_hooks';
import { appendFileSync } from 'node:fs';

import { Inject, Injectable } from '@nestjs/common';

import { EXAMPLE_CONFIG, type ExampleConfig } from './example-config';

// What really happened to every event, recorded by the Twenty-like code at each
// drop and delivery point, so tests can compare the instrumentation against it.
// Reason names are the package's closed set of `twenty.sse.drop.reason` values.

export type GroundTruthDropCode =
  | 'D1'
  | 'D2'
  | 'D3'
  | 'D4'
  | "D4'"
  | 'D5'
  | 'D6'
  | 'D7'
  | 'D7b'
  | 'D8'
  // the September 2026 record-access gate (N-codes of the package's pipeline notes)
  | 'N1'
  | 'N2'
  | 'N4'
  | 'N5'
  | 'NOT_EMITTED'
  // a drop on a path Twenty's known conditions do not describe (an injected fault)
  | 'UNKNOWN';

export type GroundTruthDropReason =
  | 'no_active_streams'
  | 'stream_expired'
  | 'stream_without_queries'
  | 'subscriber_without_user_workspace'
  | 'subscriber_without_role'
  | 'subscriber_application_inactive'
  | 'object_not_readable'
  | 'restricted_fields_only'
  | 'record_share_denied'
  | 'record_access_denied'
  | 'no_matching_query'
  | 'not_emitted'
  | 'unattributed';

export type GroundTruthStage = 'fanout' | 'stream' | 'workflow_step';

export type GroundTruthOrigin = 'workflow' | 'ui' | 'api_key' | 'application' | 'system' | 'unknown';

type GroundTruthCommon = {
  generation: ExampleConfig['generation'];
  process: ExampleConfig['processName'];
  // Tells replicas of one process kind apart (several API servers or workers on one Redis).
  pid: number;
  workspaceId: string;
  eventName: string;
  recordIds: string[];
  count: number;
  origin: GroundTruthOrigin;
  workflowRunId?: string;
  stepId?: string;
  at: number;
};

// `monotonicAt`: ms on the machine's monotonic clock (process.hrtime), which every
// process on one machine shares, so it can be compared with a receipt time taken
// in another process (the end-to-end benchmark); `at` is wall-clock ms.
export type GroundTruthEmitted = GroundTruthCommon & { kind: 'emitted'; monotonicAt: number };

export type GroundTruthDropped = GroundTruthCommon & {
  kind: 'dropped';
  dCode: GroundTruthDropCode;
  reason: GroundTruthDropReason;
  stage: GroundTruthStage;
  streamChannelId?: string;
};

export type GroundTruthForwarded = GroundTruthCommon & {
  kind: 'forwarded';
  stage: 'stream';
  streamChannelId: string;
};

// An exception ended the stream's processing (V8's uncaught enrichment error, D10).
export type GroundTruthFailed = GroundTruthCommon & {
  kind: 'failed';
  stage: 'stream';
  streamChannelId: string;
  errorType: string;
  errorMessage: string;
};

// Redis handed an event-stream message to this process's pub/sub subscriber
// connection (API server): the publish reached a live subscriber. One record
// per message, with the events inside it; a publish no process receives has
// no such record. The receiver cannot tell a workflow from its author, so the
// origin is `unknown`: match a receipt to its `forwarded` record by stream
// channel and record ids.
export type GroundTruthReceived = GroundTruthCommon & {
  kind: 'received';
  stage: 'pubsub';
  streamChannelId: string;
};

export type GroundTruthRecord =
  GroundTruthEmitted | GroundTruthDropped | GroundTruthForwarded | GroundTruthFailed | GroundTruthReceived;

export const DEFAULT_REASON_BY_DROP_CODE: Record<GroundTruthDropCode, GroundTruthDropReason> = {
  D1: 'no_active_streams',
  D2: 'stream_expired',
  D3: 'stream_without_queries',
  D4: 'subscriber_without_user_workspace',
  "D4'": 'subscriber_without_role',
  D5: 'subscriber_without_role',
  D6: 'object_not_readable',
  D7: 'restricted_fields_only',
  D7b: 'record_share_denied',
  D8: 'no_matching_query',
  N1: 'no_matching_query',
  N2: 'record_access_denied',
  N4: 'record_access_denied',
  N5: 'restricted_fields_only',
  NOT_EMITTED: 'not_emitted',
  UNKNOWN: 'unattributed',
};

export type OriginContext = {
  origin: GroundTruthOrigin;
  workflowRunId?: string;
  stepId?: string;
};

type BatchLike = {
  name: string;
  workspaceId: string;
  events: {
    recordId: string;
    userId?: string;
    workspaceMemberId?: string;
    apiKeyId?: string;
    applicationId?: string;
  }[];
};

type EventLike = { recordId: string };

// Who caused a mutation, as the example app knows it (not inferred from the
// event author, which cannot tell an API key or a workflow apart in older versions).
const originStorage = new AsyncLocalStorage<OriginContext>();

@Injectable()
export class GroundTruth {
  readonly records: GroundTruthRecord[] = [];

  constructor(@Inject(EXAMPLE_CONFIG) private readonly config: ExampleConfig) {}

  withOrigin<T>(context: OriginContext, fn: () => T): T {
    return originStorage.run(context, fn);
  }

  currentOrigin(): OriginContext | undefined {
    return originStorage.getStore();
  }

  // The ORM's '*.upserted' twin of a created/updated batch never goes to browsers: not an event a table should show.
  emitted(batch: BatchLike): void {
    if (batch.name.endsWith('.upserted')) return;
    this.push({ kind: 'emitted', ...this.common(batch, batch.events), monotonicAt: monotonicNowMs() });
  }

  // D1: the whole batch, once, at fan-out.
  fanoutDrop(batch: BatchLike): void {
    this.drop('D1', 'fanout', batch, batch.events);
  }

  // D2..D6 (and the publisher's D4'/D5'): every event of the batch, for one stream.
  streamDrop(
    dCode: GroundTruthDropCode,
    batch: BatchLike,
    streamChannelId: string,
    reason?: GroundTruthDropReason,
  ): void {
    this.drop(dCode, 'stream', batch, batch.events, streamChannelId, reason);
  }

  // D7, D7b, D8: one event, for one stream.
  eventDrop(
    dCode: GroundTruthDropCode,
    batch: BatchLike,
    streamChannelId: string,
    event: EventLike,
    reason?: GroundTruthDropReason,
  ): void {
    this.drop(dCode, 'stream', batch, [event], streamChannelId, reason);
  }

  forwarded(batch: BatchLike, streamChannelId: string, events: EventLike[]): void {
    this.push({
      kind: 'forwarded',
      stage: 'stream',
      streamChannelId,
      ...this.common(batch, events),
    });
  }

  // For `.catch(...)`: records the failure of these events on this stream and rethrows.
  rethrowAsFailed(batch: BatchLike, streamChannelId: string, events: EventLike[]) {
    return (error: unknown): never => {
      this.push({
        kind: 'failed',
        stage: 'stream',
        streamChannelId,
        errorType: error instanceof Error ? error.constructor.name : typeof error,
        errorMessage: error instanceof Error ? error.message : String(error),
        ...this.common(batch, events),
      });
      throw error;
    };
  }

  // An event-stream message arrived on the subscriber connection (`channel` is
  // EVENT_STREAM_CHANNEL:<workspaceId>:<channelId>, `message` the JSON payload).
  received(channel: string, message: string): void {
    const [prefix, workspaceId, streamChannelId] = channel.split(':');

    if (prefix !== SubscriptionChannelPrefix.EVENT_STREAM || !workspaceId || !streamChannelId) {
      return;
    }
    let events: { recordId?: string; objectNameSingular?: string; action?: string }[];

    try {
      events = eventsOfPayload(JSON.parse(message));
    } catch {
      return;
    }
    const first = events[0];

    this.push({
      kind: 'received',
      stage: 'pubsub',
      streamChannelId,
      generation: this.config.generation,
      process: this.config.processName,
      pid: process.pid,
      workspaceId,
      eventName: first?.objectNameSingular && first.action ? `${first.objectNameSingular}.${first.action}` : 'unknown',
      recordIds: events.map((event) => event.recordId ?? ''),
      count: events.length,
      origin: 'unknown',
      at: Date.now(),
    });
  }

  // A workflow step wrote records but the ORM produced no event for them.
  notEmitted(input: { workspaceId: string; eventName: string; recordIds: string[] }): void {
    if (input.recordIds.length === 0 || this.currentOrigin()?.origin !== 'workflow') {
      return;
    }
    const batch = {
      name: input.eventName,
      workspaceId: input.workspaceId,
      events: input.recordIds.map((recordId) => ({ recordId })),
    };

    this.drop('NOT_EMITTED', 'workflow_step', batch, batch.events);
  }

  clear(): void {
    this.records.length = 0;
  }

  private drop(
    dCode: GroundTruthDropCode,
    stage: GroundTruthStage,
    batch: BatchLike,
    events: EventLike[],
    streamChannelId?: string,
    reason?: GroundTruthDropReason,
  ): void {
    this.push({
      kind: 'dropped',
      dCode,
      reason: reason ?? DEFAULT_REASON_BY_DROP_CODE[dCode],
      stage,
      ...(streamChannelId !== undefined && { streamChannelId }),
      ...this.common(batch, events),
    });
  }

  private common(batch: BatchLike, events: EventLike[]): GroundTruthCommon {
    const originContext = this.currentOrigin();

    return {
      generation: this.config.generation,
      process: this.config.processName,
      pid: process.pid,
      workspaceId: batch.workspaceId,
      eventName: batch.name,
      recordIds: events.map((event) => event.recordId),
      count: events.length,
      origin: originContext?.origin ?? originFromAuthor(batch.events[0]),
      ...(originContext?.workflowRunId && { workflowRunId: originContext.workflowRunId }),
      ...(originContext?.stepId && { stepId: originContext.stepId }),
      at: Date.now(),
    };
  }

  private push(record: GroundTruthRecord): void {
    this.records.push(record);

    if (this.config.groundTruthFile) {
      appendFileSync(this.config.groundTruthFile, `${JSON.stringify(record)}\n`);
    }
  }
}

export const monotonicNowMs = (): number => Number(process.hrtime.bigint()) / 1e6;

const SubscriptionChannelPrefix = { EVENT_STREAM: 'EVENT_STREAM_CHANNEL' } as const;

type PayloadEvent = { recordId?: string; objectNameSingular?: string; action?: string };

// Both payload shapes: the bare array `[{ queryIds, event }]` (up to V6) and
// the object `{ objectRecordEventsWithQueryIds: [{ queryIds, objectRecordEvent }] }`.
const eventsOfPayload = (payload: unknown): PayloadEvent[] => {
  const items: unknown[] = Array.isArray(payload)
    ? payload
    : ((payload as { objectRecordEventsWithQueryIds?: unknown[] } | null)?.objectRecordEventsWithQueryIds ?? []);

  return items.map((item) => {
    const entry = item as { event?: PayloadEvent; objectRecordEvent?: PayloadEvent };

    return entry.event ?? entry.objectRecordEvent ?? {};
  });
};

const originFromAuthor = (event: BatchLike['events'][number] | undefined): GroundTruthOrigin => {
  if (!event) {
    return 'unknown';
  }
  if (event.userId || event.workspaceMemberId) {
    return 'ui';
  }
  if (event.apiKeyId) {
    return 'api_key';
  }
  if (event.applicationId) {
    return 'application';
  }

  return 'system';
};

// The publisher's resolveStreamRoleIds folds three situations into `[]`;
// this names which one applied, for the ground truth only.
export const reasonForEmptyStreamRoleIds = (
  subscriberAuthContext: { userWorkspaceId?: string; applicationId?: string },
  permissionsContext: {
    flatApplicationMaps: { byId: Record<string, { deletedAt: string | null } | undefined> };
  },
): GroundTruthDropReason => {
  if (!subscriberAuthContext.userWorkspaceId) {
    return 'subscriber_without_user_workspace';
  }
  const application = subscriberAuthContext.applicationId
    ? permissionsContext.flatApplicationMaps.byId[subscriberAuthContext.applicationId]
    : undefined;

  if (subscriberAuthContext.applicationId && (!application || application.deletedAt)) {
    return 'subscriber_application_inactive';
  }

  return 'subscriber_without_role';
};

// What the pubsub stage should report, from the ground truth of a deployment on
// Redis: each `forwarded` record (stream stage) is one publish of its events to
// one stream; it reached a live subscriber when an API server recorded the
// message as `received`. Receipts are matched by stream channel and record
// ids; with several servers subscribed to one channel each receives the same
// publishes, so per key the count is the most any one process received. A key
// published several times is matched oldest first.
export type PubsubOutcome = {
  origin: GroundTruthOrigin;
  outcome: 'forwarded' | 'dropped';
  reason?: 'no_live_connection';
  count: number;
};

export const pubsubOutcomes = (records: GroundTruthRecord[]): PubsubOutcome[] => {
  const keyOf = (channel: string, recordIds: string[]) => `${channel}|${recordIds.join(',')}`;
  const receivedPerProcess = new Map<string, Map<number, number>>();

  for (const record of records) {
    if (record.kind !== 'received') continue;
    const key = keyOf(record.streamChannelId, record.recordIds);
    const perProcess = receivedPerProcess.get(key) ?? new Map<number, number>();

    perProcess.set(record.pid, (perProcess.get(record.pid) ?? 0) + 1);
    receivedPerProcess.set(key, perProcess);
  }
  const unmatched = new Map<string, number>();

  for (const [key, perProcess] of receivedPerProcess) unmatched.set(key, Math.max(...perProcess.values()));
  const outcomes = new Map<string, PubsubOutcome>();

  for (const record of records) {
    if (record.kind !== 'forwarded') continue;
    const key = keyOf(record.streamChannelId, record.recordIds);
    const left = unmatched.get(key) ?? 0;

    unmatched.set(key, Math.max(0, left - 1));
    const reached = left > 0;
    const outcomeKey = `${record.origin}|${reached}`;
    const existing = outcomes.get(outcomeKey);

    if (existing) existing.count += record.count;
    else {
      outcomes.set(
        outcomeKey,
        reached
          ? { origin: record.origin, outcome: 'forwarded', count: record.count }
          : { origin: record.origin, outcome: 'dropped', reason: 'no_live_connection', count: record.count },
      );
    }
  }

  return [...outcomes.values()];
};

export const readGroundTruthFile = (content: string): GroundTruthRecord[] =>
  content
    .split('\n')
    .filter((line) => line.trim().length > 0)
    .map((line) => JSON.parse(line) as GroundTruthRecord);
