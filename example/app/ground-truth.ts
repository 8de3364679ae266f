import { AsyncLocalStorage } from 'node:async_hooks';
import { appendFileSync } from 'node:fs';

import { Inject, Injectable } from '@nestjs/common';

import { EXAMPLE_CONFIG, type ExampleConfig } from './example-config';

// What really happened to every event, recorded by the Twenty-like code at each
// drop and delivery point, so tests can compare the instrumentation against it.
// Reason names are the closed set of design.md (`twenty.sse.drop.reason`).

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

export type GroundTruthOrigin =
  | 'workflow'
  | 'ui'
  | 'api_key'
  | 'application'
  | 'system'
  | 'unknown';

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

export type GroundTruthRecord =
  | GroundTruthEmitted
  | GroundTruthDropped
  | GroundTruthForwarded
  | GroundTruthFailed;

export const DEFAULT_REASON_BY_DROP_CODE: Record<
  GroundTruthDropCode,
  GroundTruthDropReason
> = {
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
  events: { recordId: string; userId?: string; workspaceMemberId?: string; apiKeyId?: string; applicationId?: string }[];
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

  emitted(batch: BatchLike): void {
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

export const readGroundTruthFile = (content: string): GroundTruthRecord[] =>
  content
    .split('\n')
    .filter((line) => line.trim().length > 0)
    .map((line) => JSON.parse(line) as GroundTruthRecord);
