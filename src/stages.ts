import {
  Attributes,
  Context,
  Link,
  Span,
  SpanKind,
  SpanStatusCode,
  context as otelContext,
  trace,
} from '@opentelemetry/api';
import { classifyStreamPairs, PairOutcome } from './classify';
import { attachCarrier, buildCarrier, detachCarrier, itemEvent, parseCarrier, payloadItems } from './carrier';
import {
  ActionScope,
  BatchFacts,
  FanoutScope,
  Frame,
  StreamScope,
  StreamStep,
  WorkflowMark,
  batchFacts,
  childFrame,
  currentFrame,
  dominantOrigin,
  originOf,
  rememberEmit,
  runInFrame,
  runWithFrame,
} from './context';
import { presentId } from './ids';
import { ATTR, DropReason, MESSAGING_SYSTEM_REDIS, Origin, Outcome, SPAN_EVENT_DROP, Stage } from './semconv';
import { Telemetry } from './telemetry';
import { Invocation, InvocationFactory } from './wrap';

/**
 * What each patched Twenty method does for the telemetry. A role is chosen
 * per (class, method) by the target table; the same roles back @TraceStage.
 */
export type Role =
  | 'workflow_run'
  | 'workflow_step'
  | 'workflow_action'
  | 'emit'
  | 'listen'
  | 'publish'
  | 'publish_fanout'
  | 'fanout'
  | 'stream'
  | 'pubsub'
  | 'legacy_pubsub'
  | 'deliver'
  | 'active_streams'
  | 'streams_data'
  | 'permissions_context'
  | 'role_ids'
  | 'objects_permissions'
  | 'record_share_gate'
  | 'filter_fields'
  | 'match_queries';

export const STAGE_OF_ROLE: Partial<Record<Role, Stage>> = {
  workflow_run: 'workflow_step',
  workflow_step: 'workflow_step',
  workflow_action: 'workflow_step',
  emit: 'emit',
  listen: 'listen',
  publish: 'publish',
  publish_fanout: 'publish',
  fanout: 'fanout',
  stream: 'stream',
  pubsub: 'pubsub',
  legacy_pubsub: 'legacy_pubsub',
  deliver: 'deliver',
};

const EVENT_STREAM_DESTINATION = 'EVENT_STREAM_CHANNEL';
const EVENT_STREAM_TEMPLATE = 'EVENT_STREAM_CHANNEL:{workspaceId}:{eventStreamChannelId}';
const PUBSUB_ATTRIBUTES: Attributes = {
  [ATTR.MESSAGING_SYSTEM]: MESSAGING_SYSTEM_REDIS,
  [ATTR.MESSAGING_OPERATION_NAME]: 'publish',
  [ATTR.MESSAGING_OPERATION_TYPE]: 'send',
  [ATTR.MESSAGING_DESTINATION_TEMPLATE]: EVENT_STREAM_TEMPLATE,
};

const DELIVER_ATTRIBUTES: Attributes = {
  [ATTR.MESSAGING_SYSTEM]: MESSAGING_SYSTEM_REDIS,
  [ATTR.MESSAGING_OPERATION_NAME]: 'process',
  [ATTR.MESSAGING_OPERATION_TYPE]: 'process',
  [ATTR.MESSAGING_DESTINATION_TEMPLATE]: EVENT_STREAM_TEMPLATE,
};

type Dict = Record<string, unknown>;

function asDict(value: unknown): Dict | undefined {
  return value && typeof value === 'object' && !Array.isArray(value) ? (value as Dict) : undefined;
}

function errorType(error: unknown): string {
  if (error && typeof error === 'object') {
    const name = (error as { constructor?: { name?: string } }).constructor?.name;
    if (name && name !== 'Object') return name;
  }
  return typeof error;
}

/** A Twenty record event batch ({ name, workspaceId, objectMetadata, events }), or undefined. */
export interface RecordBatch {
  name: string;
  workspaceId?: string;
  objectMetadata?: Dict;
  events: unknown[];
}

export function asRecordBatch(value: unknown): RecordBatch | undefined {
  const batch = asDict(value);
  if (!batch || !Array.isArray(batch.events) || typeof batch.name !== 'string') return undefined;
  if (batch.name.startsWith('metadata.')) return undefined;
  return batch as unknown as RecordBatch;
}

// One batch object travels through listen, publish, fanout and every stream: describe it once.
const attributesByBatch = new WeakMap<object, Attributes>();

function batchAttributes(telemetry: Telemetry, batch: RecordBatch): Attributes {
  const cached = attributesByBatch.get(batch);
  if (cached) return cached;
  const attributes = describeBatch(telemetry, batch);
  attributesByBatch.set(batch, attributes);
  return attributes;
}

function describeBatch(telemetry: Telemetry, batch: RecordBatch): Attributes {
  const attributes: Attributes = { [ATTR.EVENT_NAME]: batch.name };
  const dot = batch.name.lastIndexOf('.');
  if (dot > 0) {
    attributes[ATTR.OBJECT_NAME] = batch.name.slice(0, dot);
    attributes[ATTR.EVENT_ACTION] = batch.name.slice(dot + 1);
  }
  const workspaceId = presentId(batch.workspaceId, telemetry.config.captureIds);
  if (workspaceId) attributes[ATTR.WORKSPACE_ID] = workspaceId;
  return attributes;
}

/**
 * Merges attribute sets. Used instead of object spread on the hot path: on
 * Node 20 a literal that starts with a spread takes a slow generic path.
 */
function mergeAttributes(...parts: (Attributes | undefined)[]): Attributes {
  return Object.assign({}, ...parts) as Attributes;
}

const NO_ATTRIBUTES: Attributes = Object.freeze({}) as Attributes;
const attributesByMark = new WeakMap<WorkflowMark, Attributes>();

/** The workflow attributes of a mark (built once per mark; one mark covers a whole step). */
function workflowAttributes(mark: WorkflowMark | undefined): Attributes {
  if (!mark) return NO_ATTRIBUTES;
  let attributes = attributesByMark.get(mark);
  if (attributes) return attributes;
  attributes = {};
  if (mark.workflowRunId) attributes[ATTR.WORKFLOW_RUN_ID] = mark.workflowRunId;
  if (mark.stepId) attributes[ATTR.WORKFLOW_STEP_ID] = mark.stepId;
  if (mark.stepType) attributes[ATTR.WORKFLOW_STEP_TYPE] = mark.stepType;
  attributesByMark.set(mark, attributes);
  return attributes;
}

interface Tally {
  outcome: Outcome;
  origin: Origin;
  reason?: DropReason;
  count: number;
}

export interface StageRunOptions {
  kind?: SpanKind;
  parent?: Context;
  links?: Link[];
}

const NO_OPTIONS: StageRunOptions = {};


/**
 * One invocation of one stage: a span (when sampled) plus exact accounting of
 * the units that entered it. Every unit added here is counted once.
 *
 * The span starts with the stage and origin only; everything else is added
 * through describe(), which does nothing when the span is not recording.
 */
export class StageRun {
  readonly span: Span;
  readonly context: Context;
  readonly recording: boolean;
  private readonly startedAt = performance.now();
  // Nearly every invocation ends all its units one way: that one is kept inline, the rest in a list.
  private first: Tally | undefined;
  private rest: Tally[] | undefined;
  private ended = false;
  private errorTypeName: string | undefined;

  constructor(
    private readonly telemetry: Telemetry,
    readonly stage: Stage,
    spanName: string,
    private readonly origin: Origin,
    options: StageRunOptions = NO_OPTIONS,
    /** The caller's frame when it already has it (saves a second async-context lookup). */
    frame: Frame | undefined = currentFrame(),
  ) {
    const parent = options.parent ?? frame?.otelContext ?? otelContext.active();
    this.span = telemetry.tracer.startSpan(
      spanName,
      {
        kind: options.kind ?? SpanKind.INTERNAL,
        attributes: { [ATTR.STAGE]: stage, [ATTR.ORIGIN]: origin },
        links: options.links,
      },
      parent,
    );
    this.recording = this.span.isRecording();
    this.context = trace.setSpan(parent, this.span);
  }

  /** Sets span attributes, only when the span is sampled. */
  describe(a: Attributes, b?: Attributes, c?: Attributes, d?: Attributes): void {
    if (!this.recording) return;
    this.span.setAttributes(a);
    if (b) this.span.setAttributes(b);
    if (c) this.span.setAttributes(c);
    if (d) this.span.setAttributes(d);
  }

  add(outcome: Outcome, origin: Origin, count: number, reason?: DropReason): void {
    if (count <= 0) return;
    const first = this.first;
    if (!first) {
      this.first = { outcome, origin, reason, count };
      return;
    }
    if (first.outcome === outcome && first.origin === origin && first.reason === reason) {
      first.count += count;
      return;
    }
    const rest = (this.rest ??= []);
    for (const entry of rest) {
      if (entry.outcome === outcome && entry.origin === origin && entry.reason === reason) {
        entry.count += count;
        return;
      }
    }
    rest.push({ outcome, origin, reason, count });
  }

  addAll(outcome: Outcome, counts: Map<Origin, number>, reason?: DropReason): void {
    for (const [origin, count] of counts) this.add(outcome, origin, count, reason);
  }

  failWith(error: unknown): void {
    this.errorTypeName = errorType(error);
  }

  end(): void {
    if (this.ended) return;
    this.ended = true;
    let forwarded = 0;
    let dropped = 0;
    let failed = 0;
    let reasons: Map<DropReason, number> | undefined;
    const rest = this.rest;
    for (let i = -1; i < (rest ? rest.length : 0); i++) {
      const entry = i < 0 ? this.first : (rest as Tally[])[i];
      if (!entry) break;
      this.telemetry.recordUnits(this.stage, entry.origin, entry.outcome, entry.count, entry.reason);
      if (entry.outcome === 'forwarded') forwarded += entry.count;
      else if (entry.outcome === 'failed') failed += entry.count;
      else {
        dropped += entry.count;
        const reason = entry.reason ?? 'unattributed';
        reasons ??= new Map();
        reasons.set(reason, (reasons.get(reason) ?? 0) + entry.count);
      }
    }
    const outcome: Outcome = failed > 0 || this.errorTypeName ? 'failed' : forwarded === 0 && dropped > 0 ? 'dropped' : 'forwarded';
    this.telemetry.recordDuration(this.stage, this.origin, outcome, (performance.now() - this.startedAt) / 1000);

    if (!this.recording) {
      this.span.end();
      return;
    }
    const attributes: Attributes = {
      [ATTR.OUTCOME]: outcome,
      [ATTR.EVENTS_IN]: forwarded + dropped + failed,
      [ATTR.EVENTS_FORWARDED]: forwarded,
      [ATTR.EVENTS_DROPPED]: dropped,
    };
    if (failed > 0) attributes[ATTR.EVENTS_FAILED] = failed;
    if (reasons) {
      let topReason: DropReason | undefined;
      let topCount = 0;
      for (const [reason, count] of reasons) {
        this.span.addEvent(SPAN_EVENT_DROP, { [ATTR.DROP_REASON]: reason, [ATTR.EVENTS_DROPPED]: count });
        if (count > topCount) {
          topReason = reason;
          topCount = count;
        }
      }
      if (topReason) attributes[ATTR.DROP_REASON] = topReason;
    }
    if (this.errorTypeName) {
      attributes[ATTR.ERROR_TYPE] = this.errorTypeName;
      // Only the type: exception messages can quote record values.
      this.span.setStatus({ code: SpanStatusCode.ERROR, message: this.errorTypeName });
    }
    this.span.setAttributes(attributes);
    this.span.end();
  }
}

/** The invocation of a stage method: runs the original inside the stage span's context and a child frame. */
class StageInvocation implements Invocation {
  args?: unknown[];
  constructor(
    readonly run_: StageRun,
    private readonly frame: Frame,
    private readonly finish: (run: StageRun, threw: boolean, valueOrError: unknown) => void,
  ) {}

  run<T>(call: () => T): T {
    return otelContext.with(this.run_.context, runWithFrame, undefined, this.frame, call) as T;
  }

  onReturn(value: unknown): void {
    try {
      this.finish(this.run_, false, value);
    } finally {
      this.run_.end();
    }
  }

  onThrow(error: unknown): void {
    this.run_.failWith(error);
    try {
      this.finish(this.run_, true, error);
    } finally {
      this.run_.end();
    }
  }
}

/** The frame a stage's original runs in: the caller's, with the stage's span context. */
function frameFor(run: StageRun, parent: Frame | undefined): Frame {
  const frame = childFrame(parent);
  frame.otelContext = run.context;
  return frame;
}

function noFinish(): void {}

export interface RoleContext {
  telemetry: Telemetry;
  className: string;
  methodName: string;
}

const RECORD_ACTION = /^(Create|Update|Delete|Upsert|Restore|Destroy|CreateOrUpdate)Records?WorkflowAction$/;
const LEGACY_CHANNEL = 'DATABASE_EVENT_CHANNEL';

// Steps are immutable: share them instead of allocating one per helper call.
const FILTER_STEPS: Record<'kept' | 'emptied', StreamStep> = {
  kept: { kind: 'filter', emptiedUpdatedFields: false },
  emptied: { kind: 'filter', emptiedUpdatedFields: true },
};
const MATCH_STEPS: StreamStep[] = Array.from({ length: 16 }, (_, matched) => ({ kind: 'match', matched }));

function matchStep(matched: number): StreamStep {
  return MATCH_STEPS[matched] ?? { kind: 'match', matched };
}

/** Builds the per-call factory for a role. */
export function invocationFactory(role: Role, ctx: RoleContext): InvocationFactory {
  const { telemetry } = ctx;
  const spanName = `${ctx.className}.${ctx.methodName}`;
  const codeAttributes: Attributes = { [ATTR.CODE_FUNCTION]: spanName };

  switch (role) {
    case 'workflow_run':
      return (_self, args) => {
        const input = asDict(args[0]);
        const parentFrame = currentFrame();
        const parent = parentFrame?.workflow;
        const mark: WorkflowMark = { ...parent, workflowRunId: stringOr(input?.workflowRunId, parent?.workflowRunId) };
        const run = new StageRun(telemetry, 'workflow_step', spanName, 'workflow', NO_OPTIONS, parentFrame);
        run.describe(codeAttributes, workflowAttributes(mark));
        const frame = frameFor(run, parentFrame);
        frame.workflow = mark;
        return new StageInvocation(run, frame, noFinish);
      };

    case 'workflow_step':
      return (_self, args) => {
        const input = asDict(args[0]);
        const step = asDict(input?.step);
        const parentFrame = currentFrame();
        const parent = parentFrame?.workflow;
        const mark: WorkflowMark = {
          workflowRunId: stringOr(input?.workflowRunId, parent?.workflowRunId),
          stepId: stringOr(step?.id, parent?.stepId),
          stepType: stringOr(step?.type, parent?.stepType),
        };
        const run = new StageRun(telemetry, 'workflow_step', spanName, 'workflow', NO_OPTIONS, parentFrame);
        run.describe(codeAttributes, workflowAttributes(mark));
        const frame = frameFor(run, parentFrame);
        frame.workflow = mark;
        return new StageInvocation(run, frame, noFinish);
      };

    case 'workflow_action':
      return (self, args) => {
        const input = asDict(args[0]);
        const runInfo = asDict(input?.runInfo);
        const parentFrame = currentFrame();
        const parent = parentFrame?.workflow;
        const mark: WorkflowMark = {
          workflowRunId: stringOr(runInfo?.workflowRunId, parent?.workflowRunId),
          stepId: stringOr(input?.currentStepId, parent?.stepId),
          stepType: parent?.stepType,
        };
        const runtimeClass = (self as { constructor?: { name?: string } })?.constructor?.name ?? ctx.className;
        if (!RECORD_ACTION.test(runtimeClass)) {
          return new PassThroughFrame({ workflow: mark });
        }
        const action: ActionScope = { emittedEvents: 0 };
        const name = `${runtimeClass}.${ctx.methodName}`;
        const run = new StageRun(telemetry, 'workflow_step', name, 'workflow', NO_OPTIONS, parentFrame);
        run.describe({ [ATTR.CODE_FUNCTION]: name }, workflowAttributes(mark));
        const frame = frameFor(run, parentFrame);
        frame.workflow = mark;
        frame.action = action;
        return new StageInvocation(run, frame, (stageRun, threw, value) => {
          if (threw) stageRun.add('failed', 'workflow', 1);
          else if (asDict(value)?.error !== undefined && asDict(value)?.error !== null) {
            stageRun.failWith({ constructor: { name: 'WorkflowActionError' } });
            stageRun.add('failed', 'workflow', 1);
          } else if (action.emittedEvents > 0) stageRun.add('forwarded', 'workflow', 1);
          else stageRun.add('dropped', 'workflow', 1, 'not_emitted');
        });
      };

    case 'emit':
      return (_self, args) => {
        const input = asDict(args[0]);
        if (!input || !Array.isArray(input.events) || input.events.length === 0) return undefined;
        const events = input.events as unknown[];
        const parentFrame = currentFrame();
        const counts = new Map<Origin, number>();
        const now = Date.now();
        for (const event of events) {
          const origin = originOf(event, parentFrame);
          rememberEmit(event, origin, now);
          counts.set(origin, (counts.get(origin) ?? 0) + 1);
        }
        if (parentFrame?.action) parentFrame.action.emittedEvents += events.length;
        const run = new StageRun(telemetry, 'emit', spanName, dominantOrigin(counts), NO_OPTIONS, parentFrame);
        if (run.recording) {
          const name =
            typeof input.objectMetadataNameSingular === 'string' && typeof input.action === 'string'
              ? `${input.objectMetadataNameSingular}.${input.action}`
              : 'unknown';
          run.describe(codeAttributes, describeBatch(telemetry, { name, workspaceId: input.workspaceId as string, events }), workflowAttributes(parentFrame?.workflow));
        }
        return new StageInvocation(run, frameFor(run, parentFrame), (stageRun, threw) => stageRun.addAll(threw ? 'failed' : 'forwarded', counts));
      };

    case 'listen':
    case 'publish': {
      const stage = STAGE_OF_ROLE[role] as Stage;
      return (_self, args) => {
        const batch = asRecordBatch(args[0]);
        if (!batch) return undefined;
        const parentFrame = currentFrame();
        const facts = batchFacts(batch.events, parentFrame);
        const run = new StageRun(telemetry, stage, spanName, facts.dominant, NO_OPTIONS, parentFrame);
        run.describe(codeAttributes, batchAttributes(telemetry, batch), workflowAttributes(parentFrame?.workflow));
        const frame = frameFor(run, parentFrame);
        frame.publishOrigin = facts.dominant;
        return new StageInvocation(run, frame, (stageRun, threw) => stageRun.addAll(threw ? 'failed' : 'forwarded', facts.counts));
      };
    }

    case 'fanout':
    case 'publish_fanout': {
      const fanoutName = role === 'publish_fanout' ? `${spanName} fanout` : spanName;
      return (_self, args) => {
        const batch = asRecordBatch(args[0]);
        if (!batch) return undefined;
        const parentFrame = currentFrame();
        const facts = batchFacts(batch.events, parentFrame);
        const { counts, dominant: origin } = facts;
        const described = batchAttributes(telemetry, batch);
        const workflow = workflowAttributes(parentFrame?.workflow);
        let publishRun: StageRun | undefined;
        if (role === 'publish_fanout') {
          publishRun = new StageRun(telemetry, 'publish', spanName, origin, NO_OPTIONS, parentFrame);
          publishRun.describe(codeAttributes, described, workflow);
        }
        const fanoutRun = new StageRun(telemetry, 'fanout', fanoutName, origin, publishRun ? { parent: publishRun.context } : NO_OPTIONS, parentFrame);
        fanoutRun.describe(codeAttributes, described, workflow);
        const scope: FanoutScope = { accountedChannels: new Set() };
        const frame = frameFor(fanoutRun, parentFrame);
        frame.fanout = scope;
        frame.publishOrigin = origin;
        return new StageInvocation(fanoutRun, frame, (stageRun, threw, valueOrError) => {
          try {
            finishFanout(telemetry, stageRun, scope, batch, counts, threw, valueOrError, spanName);
          } finally {
            if (publishRun) {
              if (threw) publishRun.failWith(valueOrError);
              publishRun.addAll(threw ? 'failed' : 'forwarded', counts);
              publishRun.end();
            }
          }
        });
      };
    }

    case 'stream':
      return (_self, args) => {
        const streamArgs = readStreamArgs(args);
        if (!streamArgs) return undefined;
        const { channelId, streamData, batch } = streamArgs;
        const parentFrame = currentFrame();
        parentFrame?.fanout?.accountedChannels.add(channelId);
        const scope: StreamScope = {
          steps: [],
          objectsPermissionsSeen: false,
          permissionsContext: streamArgs.permissionsContext ?? parentFrame?.fanout?.permissionsContext,
          publishedItems: 0,
          explicitDrops: [],
        };
        const facts = batchFacts(batch.events, parentFrame);
        if (facts.counts.size === 1) scope.singleOrigin = facts.dominant;
        const run = new StageRun(telemetry, 'stream', spanName, facts.dominant, NO_OPTIONS, parentFrame);
        if (run.recording) {
          run.describe(codeAttributes, batchAttributes(telemetry, batch), subscriberAttributes(telemetry, streamData), workflowAttributes(parentFrame?.workflow));
          run.span.setAttribute(ATTR.STREAM_CHANNEL_ID, channelId);
        }
        const frame = frameFor(run, parentFrame);
        frame.stream = scope;
        frame.emittedAt = facts.emittedAt;
        return new StageInvocation(run, frame, (stageRun, threw) => {
          const outcomes = classifyStreamPairs({
            eventCount: batch.events.length,
            steps: scope.steps,
            publishedItems: scope.publishedItems,
            publishFailed: scope.publishFailed === true,
            threw,
            subscriberAuthContext: asDict(asDict(streamData)?.authContext),
            queryCount: queryCount(streamData),
            permissionsContext: scope.permissionsContext,
            objectMetadataId: stringOr(batch.objectMetadata?.id, undefined),
            roleIds: scope.roleIds,
            objectsPermissions: scope.objectsPermissions,
            objectsPermissionsSeen: scope.objectsPermissionsSeen,
            recordShareGate: scope.recordShareGate,
          });
          applyPairOutcomes(stageRun, batch.events, outcomes, parentFrame, facts, scope.explicitDrops);
        });
      };

    case 'pubsub':
      return (_self, args) => {
        const input = asDict(args[0]);
        const found = payloadItems(input?.payload);
        if (!input || !found || found.items.length === 0) return undefined;
        const parentFrame = currentFrame();
        const items = found.items;
        const origins: Origin[] = new Array(items.length);
        const counts = new Map<Origin, number>();
        // inside a per-stream invocation whose batch has one origin, every item has it
        const single = parentFrame?.stream?.singleOrigin;
        if (single) {
          origins.fill(single);
          counts.set(single, items.length);
        } else {
          for (let i = 0; i < items.length; i++) {
            const origin = originOf(itemEvent(items[i]), parentFrame);
            origins[i] = origin;
            counts.set(origin, (counts.get(origin) ?? 0) + 1);
          }
        }
        const run = new StageRun(telemetry, 'pubsub', PUBSUB_SPAN_NAME, dominantOrigin(counts), PRODUCER, parentFrame);
        if (run.recording) {
          run.describe(codeAttributes, PUBSUB_ATTRIBUTES, workflowAttributes(parentFrame?.workflow));
          run.span.setAttribute(ATTR.MESSAGING_BATCH_MESSAGE_COUNT, items.length);
          if (typeof input.eventStreamChannelId === 'string') run.span.setAttribute(ATTR.STREAM_CHANNEL_ID, input.eventStreamChannelId);
          const workspaceId = presentId(input.workspaceId, telemetry.config.captureIds);
          if (workspaceId) run.span.setAttribute(ATTR.WORKSPACE_ID, workspaceId);
        }
        const stream = parentFrame?.stream;
        const invocation = new StageInvocation(run, frameFor(run, parentFrame), (stageRun, threw) => {
          stageRun.addAll(threw ? 'failed' : 'forwarded', counts);
          if (stream) {
            if (threw) stream.publishFailed = true;
            else stream.publishedItems += items.length;
          }
        });
        const carrier = buildCarrier(run.context, origins, Date.now(), parentFrame?.emittedAt);
        const callArgs = args.slice();
        callArgs[0] = Object.assign({}, input, { payload: attachCarrier(input.payload, carrier) });
        invocation.args = callArgs;
        return invocation;
      };

    case 'legacy_pubsub':
      return (_self, args) => {
        const input = asDict(args[0]);
        const channel = input?.channel;
        if (!input || typeof channel !== 'string' || !channel.startsWith(LEGACY_CHANNEL)) return undefined;
        const parentFrame = currentFrame();
        const origin: Origin = parentFrame?.workflow ? 'workflow' : parentFrame?.publishOrigin ?? 'unknown';
        const names = legacyChannelNames(channel);
        const run = new StageRun(telemetry, 'legacy_pubsub', names.spanName, origin, PRODUCER, parentFrame);
        if (run.recording) {
          run.describe(codeAttributes, names.attributes);
          const workspaceId = presentId(input.workspaceId, telemetry.config.captureIds);
          if (workspaceId) run.span.setAttribute(ATTR.WORKSPACE_ID, workspaceId);
        }
        return new StageInvocation(run, frameFor(run, parentFrame), (stageRun, threw) => stageRun.add(threw ? 'failed' : 'forwarded', origin, 1));
      };

    case 'deliver':
      return () => ({
        run: (call) => call(),
        onReturn: () => undefined,
        onThrow: () => undefined,
        mapResult: (value) => wrapDeliveryIterator(value, telemetry, spanName),
      });

    case 'active_streams':
      return () => {
        const fanout = currentFrame()?.fanout;
        if (!fanout || fanout.activeStreamIds) return undefined;
        return (value: unknown) => {
          if (Array.isArray(value)) fanout.activeStreamIds = value.map(String);
        };
      };

    case 'streams_data':
      return () => {
        const fanout = currentFrame()?.fanout;
        if (!fanout || fanout.streamsData) return undefined;
        return (value: unknown) => {
          if (value instanceof Map) fanout.streamsData = value as Map<string, unknown>;
        };
      };

    case 'permissions_context':
      return () => {
        const frame = currentFrame();
        const target: { permissionsContext?: Dict } | undefined = frame?.stream ?? frame?.fanout;
        if (!target) return undefined;
        return (value: unknown) => {
          const dict = asDict(value);
          const permissions = dict && 'userWorkspaceRoleMap' in dict ? dict : asDict(dict?.permissionsContext);
          if (permissions) target.permissionsContext = permissions;
        };
      };

    case 'role_ids':
      return () => {
        const stream = currentFrame()?.stream;
        if (!stream) return undefined;
        return (value: unknown) => {
          stream.roleIds = value;
        };
      };

    case 'objects_permissions':
      return () => {
        const stream = currentFrame()?.stream;
        if (!stream) return undefined;
        return (value: unknown) => {
          stream.objectsPermissionsSeen = true;
          stream.objectsPermissions = value;
        };
      };

    case 'record_share_gate':
      return () => {
        const stream = currentFrame()?.stream;
        if (!stream) return undefined;
        return (value: unknown) => {
          stream.recordShareGate = value;
        };
      };

    case 'filter_fields':
      return () => {
        const stream = currentFrame()?.stream;
        if (!stream) return undefined;
        return (value: unknown) => {
          const updatedFields = asDict(asDict(value)?.properties)?.updatedFields;
          stream.steps.push(Array.isArray(updatedFields) && updatedFields.length === 0 ? FILTER_STEPS.emptied : FILTER_STEPS.kept);
        };
      };

    case 'match_queries':
      return () => {
        const stream = currentFrame()?.stream;
        if (!stream) return undefined;
        return (value: unknown) => {
          stream.steps.push(matchStep(Array.isArray(value) ? value.length : value ? 1 : 0));
        };
      };
  }
}

const PUBSUB_SPAN_NAME = `send ${EVENT_STREAM_DESTINATION}`;
const PRODUCER: StageRunOptions = { kind: SpanKind.PRODUCER };

const legacyNames = new Map<string, { spanName: string; attributes: Attributes }>();

/** Span name and attributes of a legacy DATABASE_EVENT_CHANNEL publish, built once per channel. */
function legacyChannelNames(channel: string): { spanName: string; attributes: Attributes } {
  let names = legacyNames.get(channel);
  if (!names) {
    const attributes = mergeAttributes(PUBSUB_ATTRIBUTES);
    attributes[ATTR.MESSAGING_DESTINATION_TEMPLATE] = `${channel}:{workspaceId}`;
    names = { spanName: `send ${channel}`, attributes };
    // a channel name holds no record data; bounded anyway, in case an app puts ids in it
    if (legacyNames.size < 64) legacyNames.set(channel, names);
  }
  return names;
}

/** Marks the frame without a span (workflow actions that mutate no record). */
class PassThroughFrame implements Invocation {
  constructor(private readonly patch: Partial<Frame>) {}
  run<T>(call: () => T): T {
    return runInFrame(this.patch, call);
  }
  onReturn(): void {}
  onThrow(): void {}
}

function stringOr(value: unknown, fallback: string | undefined): string | undefined {
  return typeof value === 'string' && value.length > 0 ? value : fallback;
}

function queryCount(streamData: unknown): number | undefined {
  const queries = asDict(asDict(streamData)?.queries);
  return queries ? Object.keys(queries).length : undefined;
}

function subscriberAttributes(telemetry: Telemetry, streamData: unknown): Attributes {
  const auth = asDict(asDict(streamData)?.authContext);
  const id = presentId(auth?.userWorkspaceId, telemetry.config.captureIds);
  return id ? { [ATTR.SUBSCRIBER_USER_WORKSPACE_ID]: id } : {};
}

/** Normalizes processStreamEvents(channelId, streamData, batch, permissionsContext?, ...) and processObjectRecordStreamEvents({ ... }). */
export function readStreamArgs(
  args: unknown[],
): { channelId: string; streamData: unknown; batch: RecordBatch; permissionsContext?: Dict } | undefined {
  if (typeof args[0] === 'string') {
    const batch = asRecordBatch(args[2]);
    if (!batch) return undefined;
    const maybePermissions = asDict(args[3]);
    return {
      channelId: args[0],
      streamData: args[1],
      batch,
      permissionsContext: maybePermissions && 'userWorkspaceRoleMap' in maybePermissions ? maybePermissions : undefined,
    };
  }
  const input = asDict(args[0]);
  if (!input || typeof input.streamChannelId !== 'string') return undefined;
  const batch = asRecordBatch(input.workspaceEventBatch ?? input.eventBatch ?? input.batch);
  if (!batch) return undefined;
  return {
    channelId: input.streamChannelId,
    streamData: input.streamData,
    batch,
    permissionsContext: asDict(input.permissionsContext),
  };
}

function applyPairOutcomes(
  run: StageRun,
  events: unknown[],
  outcomes: PairOutcome[],
  frame: Frame | undefined,
  facts: BatchFacts,
  explicitDrops: { reason: DropReason; count: number }[],
): void {
  const pending = explicitDrops.length > 0 ? explicitDrops.map((drop) => ({ reason: drop.reason, count: drop.count })) : undefined;
  // one origin for the whole batch (the common case): no per-event lookup
  const single = facts.counts.size === 1 ? facts.dominant : undefined;
  for (let index = 0; index < outcomes.length; index++) {
    const pair = outcomes[index];
    const origin = single ?? originOf(events[index], frame);
    if (pending && pair.outcome === 'dropped' && pair.reason === 'unattributed') {
      const declared = pending.find((drop) => drop.count > 0);
      if (declared) {
        declared.count--;
        run.add('dropped', origin, 1, declared.reason);
        continue;
      }
    }
    run.add(pair.outcome, origin, 1, pair.outcome === 'dropped' ? pair.reason : undefined);
  }
}

function finishFanout(
  telemetry: Telemetry,
  run: StageRun,
  scope: FanoutScope,
  batch: RecordBatch,
  counts: Map<Origin, number>,
  threw: boolean,
  error: unknown,
  spanName: string,
): void {
  if (scope.activeStreamIds === undefined) {
    if (threw) run.addAll('failed', counts);
    else if (scope.accountedChannels.size > 0) run.addAll('forwarded', counts);
    else run.addAll('dropped', counts, 'unattributed');
    return;
  }
  if (scope.activeStreamIds.length === 0) {
    run.addAll('dropped', counts, 'no_active_streams');
    return;
  }
  run.addAll('forwarded', counts);
  if (batch.events.length === 0) return;

  // (event, stream) pairs that never reached a per-stream invocation: D2, D3, or skipped after an error (D10).
  const channelIds = scope.streamsData ? [...scope.streamsData.keys()] : scope.activeStreamIds;
  for (const channelId of channelIds) {
    if (scope.accountedChannels.has(channelId)) continue;
    let reason: DropReason | undefined;
    let outcome: Outcome = 'dropped';
    if (scope.streamsData) {
      const data = asDict(scope.streamsData.get(channelId));
      if (!data) reason = 'stream_expired';
      else if (!asDict(data.queries) || Object.keys(asDict(data.queries) ?? {}).length === 0) reason = 'stream_without_queries';
    }
    if (!reason) {
      if (threw) outcome = 'failed';
      else reason = 'unattributed';
    }
    const pairRun = new StageRun(telemetry, 'stream', `${spanName} stream`, dominantOrigin(counts), { parent: run.context });
    pairRun.describe({ [ATTR.CODE_FUNCTION]: spanName }, batchAttributes(telemetry, batch), { [ATTR.STREAM_CHANNEL_ID]: channelId });
    if (outcome === 'failed') pairRun.failWith(error);
    pairRun.addAll(outcome, counts, reason);
    pairRun.end();
  }
}

/**
 * Wraps the AsyncIterator that SubscriptionService.subscribeToEventStream
 * returns (the Redis subscription of one SSE connection, in the API server):
 * each payload pulled from it is one `deliver` invocation. The carrier is
 * removed before the payload goes on; everything else (return, throw,
 * Symbol.asyncIterator, other properties) behaves as the original.
 */
export function wrapDeliveryIterator(value: unknown, telemetry: Telemetry, spanName: string): unknown {
  if (!value || typeof value !== 'object' || typeof (value as { next?: unknown }).next !== 'function') return value;
  const target = value as AsyncIterator<unknown> & Record<PropertyKey, unknown>;
  const proxy: AsyncIterator<unknown> = new Proxy(target, {
    get(obj, property) {
      if (property === 'next') {
        return (...nextArgs: [] | [unknown]) => {
          const pending = obj.next(...nextArgs);
          if (!pending || typeof (pending as Promise<unknown>).then !== 'function') return pending;
          return (pending as Promise<IteratorResult<unknown>>).then((result) => deliver(result, telemetry, spanName));
        };
      }
      if (property === Symbol.asyncIterator) return () => proxy;
      const member = Reflect.get(obj, property, obj);
      return typeof member === 'function' ? member.bind(obj) : member;
    },
  });
  return proxy;
}

function deliver(result: IteratorResult<unknown>, telemetry: Telemetry, spanName: string): IteratorResult<unknown> {
  if (!result || result.done) return result;
  let detached: ReturnType<typeof detachCarrier>;
  try {
    detached = detachCarrier(result.value);
  } catch (error) {
    telemetry.fault('deliver.detach', error);
    return result;
  }
  const clean: IteratorResult<unknown> = detached.present ? { ...result, value: detached.payload } : result;
  try {
    const found = payloadItems(detached.payload);
    if (!found || found.items.length === 0) return clean;
    const now = Date.now();
    const parsed = parseCarrier(detached.raw, found.items.length, now);
    const origins: Origin[] = parsed.origins ?? found.items.map(() => 'unknown' as Origin);
    const counts = new Map<Origin, number>();
    for (const origin of origins) counts.set(origin, (counts.get(origin) ?? 0) + 1);
    const producer = parsed.context ? trace.getSpanContext(parsed.context) : undefined;
    const run = new StageRun(telemetry, 'deliver', `process ${EVENT_STREAM_DESTINATION}`, dominantOrigin(counts), {
      kind: SpanKind.CONSUMER,
      // Single-payload processing: the producer's context is the parent (one trace from worker to browser) and also a link.
      parent: parsed.context ?? otelContext.active(),
      links: producer ? [{ context: producer }] : undefined,
    });
    run.describe(DELIVER_ATTRIBUTES, { [ATTR.CODE_FUNCTION]: spanName, [ATTR.MESSAGING_BATCH_MESSAGE_COUNT]: found.items.length });
    run.addAll('forwarded', counts);
    const since = parsed.emittedAt ?? parsed.publishedAt;
    if (since !== undefined) {
      const seconds = Math.max(0, now - since) / 1000;
      for (const origin of origins) telemetry.recordDeliveryLatency(origin, seconds);
    }
    run.end();
  } catch (error) {
    telemetry.fault('deliver', error);
  }
  return clean;
}
