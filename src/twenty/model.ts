import { BatchView } from '../engine/model';
import { AppModel } from '../engine/model';
import { Origin } from '../semconv';
import {
  asDict,
  DATABASE_EVENT_CHANNEL,
  Dict,
  EVENT_STREAM_CHANNEL,
  EVENT_STREAM_CHANNEL_TEMPLATE,
  NON_SSE_ACTIONS,
  nonEmptyString,
  RECORD_WORKFLOW_ACTION,
} from './facts';

/**
 * How Twenty's arguments, events and payloads look, for the engine: the
 * shapes every generation shares.
 */

/** A batch `{ name, workspaceId, objectMetadata, events }` as the listener and the publishers receive it (metadata batches excluded). */
export function readRecordBatch(value: unknown): BatchView | undefined {
  const batch = asDict(value);
  if (!batch || !Array.isArray(batch.events) || typeof batch.name !== 'string') return undefined;
  if (batch.name.startsWith('metadata.')) return undefined;
  return view(batch, batch.name, batch.events as unknown[], batch.workspaceId);
}

// The same batch object is read by several stages and every stream: read it once.
const views = new WeakMap<object, BatchView>();

function view(raw: Dict, name: string, events: unknown[], workspaceId: unknown): BatchView {
  const cached = views.get(raw);
  if (cached && cached.events === events) return cached;
  const dot = name.lastIndexOf('.');
  const batch: BatchView = { raw, events, name, workspaceId };
  if (dot > 0) {
    batch.objectName = name.slice(0, dot);
    batch.action = name.slice(dot + 1);
  }
  views.set(raw, batch);
  return batch;
}

/** The object metadata id of a record batch (`objectMetadata.id`). */
export function batchObjectId(batch: BatchView): string | undefined {
  return nonEmptyString(asDict(asDict(batch.raw)?.objectMetadata)?.id);
}

/** Who authored an event, from the author fields Twenty sets on it. */
export function authorOrigin(event: unknown): Origin {
  const e = asDict(event);
  if (!e) return 'unknown';
  if (nonEmptyString(e.userId) || nonEmptyString(e.workspaceMemberId) || nonEmptyString(e.userWorkspaceId)) return 'ui';
  if (nonEmptyString(e.apiKeyId)) return 'api_key';
  if (nonEmptyString(e.applicationId)) return 'application';
  return 'system';
}

/**
 * The event a per-event helper was called with: the first argument when it is
 * an event (`filterRestrictedFieldsFromEvent(event, ...)`), its `event` key
 * when it is an options object (`getMatchingObjectRecordQueryIds({ event, ... })`),
 * else the first argument that looks like an event (`matchQueriesWithEvent(queries, event)`).
 */
export function eventArgument(args: unknown[]): unknown {
  const first = asDict(args[0]);
  if (first && 'recordId' in first) return first;
  if (first && asDict(first.event)) return first.event;
  for (const arg of args) {
    const dict = asDict(arg);
    if (dict && 'recordId' in dict) return dict;
  }
  return undefined;
}

/** The items of an event-stream payload: a bare array up to V6, `objectRecordEventsWithQueryIds` from V7 on. */
function payloadItems(payload: unknown): { shape: 'array' | 'object'; items: unknown[] } | undefined {
  if (Array.isArray(payload)) return { shape: 'array', items: payload };
  const items = asDict(payload)?.objectRecordEventsWithQueryIds;
  return Array.isArray(items) ? { shape: 'object', items } : undefined;
}

/** The event object of one payload item: `event` (up to V6) or `objectRecordEvent` (V7+). */
function itemEvent(item: unknown): unknown {
  const record = asDict(item);
  return record ? (record.objectRecordEvent ?? record.event) : undefined;
}

export const TWENTY_MODEL: AppModel = {
  authorOrigin,
  eventIdentity: {
    // Twenty hands helpers `{ action, objectNameSingular, ...event }`: the copy shares the event's `properties`.
    handles(event) {
      const dict = asDict(event);
      if (!dict) return [];
      const properties = asDict(dict.properties);
      return properties ? [dict, properties] : [dict];
    },
    key: (event) => nonEmptyString(asDict(event)?.recordId),
  },
  readBatch: readRecordBatch,
  readEmit(args) {
    const input = asDict(args[0]);
    if (!input || !Array.isArray(input.events)) return undefined;
    // the ORM's `upserted` twin of a created/updated batch: not an SSE event (NON_SSE_ACTIONS)
    if (typeof input.action === 'string' && NON_SSE_ACTIONS.includes(input.action)) return undefined;
    const name =
      typeof input.objectMetadataNameSingular === 'string' && typeof input.action === 'string'
        ? `${input.objectMetadataNameSingular}.${input.action}`
        : 'unknown';
    return view(input, name, input.events as unknown[], input.workspaceId);
  },
  // The after-commit emitter (PR #25174) takes a TypeORM QueryRunner: its events wait while `isTransactionActive`.
  deferralHandle(args) {
    const queryRunner = asDict(args[1]);
    return queryRunner && queryRunner.isTransactionActive === true ? queryRunner : undefined;
  },
  deferralHandleOf: (value) => asDict(value),
  workflowRun: (args) => ({ workflowRunId: nonEmptyString(asDict(args[0])?.workflowRunId) }),
  workflowStep(args) {
    const input = asDict(args[0]);
    const step = asDict(input?.step);
    return {
      workflowRunId: nonEmptyString(input?.workflowRunId),
      stepId: nonEmptyString(step?.id),
      stepType: nonEmptyString(step?.type),
    };
  },
  workflowAction(self, args, declaredClass) {
    const input = asDict(args[0]);
    const className = (self as { constructor?: { name?: string } })?.constructor?.name ?? declaredClass;
    return {
      mark: {
        workflowRunId: nonEmptyString(asDict(input?.runInfo)?.workflowRunId),
        stepId: nonEmptyString(input?.currentStepId),
      },
      className,
      mutatesRecords: RECORD_WORKFLOW_ACTION.test(className),
    };
  },
  actionFailed(value) {
    const error = asDict(value)?.error;
    return error !== undefined && error !== null;
  },
  payload: { items: payloadItems, itemEvent },
  readPublish(args) {
    const input = asDict(args[0]);
    if (!input) return undefined;
    return {
      workspaceId: input.workspaceId,
      channelId: nonEmptyString(input.eventStreamChannelId),
      payload: input.payload,
    };
  },
  withPayload(args, payload) {
    const callArgs = args.slice();
    callArgs[0] = Object.assign({}, args[0], { payload });
    return callArgs;
  },
  eventStreamDestination: { name: EVENT_STREAM_CHANNEL, template: EVENT_STREAM_CHANNEL_TEMPLATE },
  readSubscribe(args) {
    const input = asDict(args[0]);
    return input ? { channelId: nonEmptyString(input.eventStreamChannelId) } : undefined;
  },
  readLegacyPublish(args) {
    const input = asDict(args[0]);
    const channel = input?.channel;
    if (!input || typeof channel !== 'string' || !channel.startsWith(DATABASE_EVENT_CHANNEL)) return undefined;
    return { channel, template: `${channel}:{workspaceId}`, workspaceId: input.workspaceId };
  },
};
