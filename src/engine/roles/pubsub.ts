import { Attributes, SpanKind } from '@opentelemetry/api';
import { ATTR, MESSAGING_OPERATIONS, MESSAGING_SYSTEM_REDIS, Origin } from '../../semconv';
import { mergeAttributes, workflowAttributes } from '../attributes';
import { attachCarrier, buildCarrier } from '../carrier';
import { currentFrame, dominantOrigin, Frame, originOf, PublishReceipt } from '../context';
import { presentId } from '../ids';
import { frameFor, StageInvocation, StageRun, StageRunOptions } from '../stage-run';
import { Invocation, InvocationFactory } from '../wrap';
import type { Telemetry } from '../../otel/telemetry';
import type { LegacyPublishInput } from '../model';
import { RoleContext } from './types';

const PRODUCER: StageRunOptions = { kind: SpanKind.PRODUCER };

export function producerAttributes(template: string): Attributes {
  return {
    [ATTR.MESSAGING_SYSTEM]: MESSAGING_SYSTEM_REDIS,
    [ATTR.MESSAGING_OPERATION_NAME]: MESSAGING_OPERATIONS.pubsub.name,
    [ATTR.MESSAGING_OPERATION_TYPE]: MESSAGING_OPERATIONS.pubsub.type,
    [ATTR.MESSAGING_DESTINATION_TEMPLATE]: template,
  };
}

/**
 * The Redis publish of one stream's payload. Counts its items and sends a
 * copy of the payload with the carrier (trace context, origins, times).
 * Where the pub/sub client reports how many subscribers Redis delivered the
 * publish to (see last-mile.ts), a publish that reached none drops its items
 * as no_live_connection; otherwise they are forwarded.
 */
export function pubsub(ctx: RoleContext): InvocationFactory {
  const { telemetry, model } = ctx;
  const codeAttributes = { [ATTR.CODE_FUNCTION]: `${ctx.className}.${ctx.methodName}` };
  const destination = model.eventStreamDestination;
  const spanName = `${MESSAGING_OPERATIONS.pubsub.name} ${destination.name}`;
  const attributes = producerAttributes(destination.template);
  return (_self, args) => {
    const input = model.readPublish(args);
    const found = input && model.payload.items(input.payload);
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
        const origin = originOf(model.payload.itemEvent(items[i]), parentFrame, model.authorOrigin);
        origins[i] = origin;
        counts.set(origin, (counts.get(origin) ?? 0) + 1);
      }
    }
    const run = new StageRun(telemetry, 'pubsub', spanName, dominantOrigin(counts), PRODUCER, parentFrame);
    if (run.recording) {
      run.describe(codeAttributes, attributes, workflowAttributes(parentFrame?.workflow));
      run.span.setAttribute(ATTR.MESSAGING_BATCH_MESSAGE_COUNT, items.length);
      if (typeof input.channelId === 'string') run.span.setAttribute(ATTR.STREAM_CHANNEL_ID, input.channelId);
      const workspaceId = presentId(input.workspaceId, telemetry.config.captureIds);
      if (workspaceId) run.span.setAttribute(ATTR.WORKSPACE_ID, workspaceId);
    }
    const stream = parentFrame?.stream;
    const receipt: PublishReceipt = { replies: 0, subscribers: 0 };
    const frame = frameFor(run, parentFrame);
    frame.publishReceipt = receipt;
    const invocation = new StageInvocation(run, frame, (stageRun, threw) => {
      if (threw) stageRun.addAll('failed', counts);
      else if (receipt.replies > 0 && receipt.subscribers === 0)
        stageRun.addAll('dropped', counts, 'no_live_connection');
      else stageRun.addAll('forwarded', counts);
      if (receipt.replies > 0 && stageRun.recording)
        stageRun.span.setAttribute(ATTR.PUBSUB_SUBSCRIBERS, receipt.subscribers);
      if (stream) {
        if (threw) stream.publishFailed = true;
        else stream.publishedItems += items.length;
      }
    });
    const carrier = buildCarrier(run.context, origins, Date.now(), parentFrame?.emittedAt);
    invocation.args = model.withPayload(args, attachCarrier(input.payload, carrier, model.payload));
    return invocation;
  };
}

const legacyNames = new Map<string, { spanName: string; attributes: Attributes }>();

/** Span name and attributes of a legacy per-event channel publish, built once per channel. */
function legacyChannelNames(channel: string, template: string): { spanName: string; attributes: Attributes } {
  let names = legacyNames.get(channel);
  if (!names) {
    const attributes = mergeAttributes(producerAttributes(template));
    names = { spanName: `${MESSAGING_OPERATIONS.pubsub.name} ${channel}`, attributes };
    // a channel name holds no record data; bounded anyway, in case an app puts ids in it
    if (legacyNames.size < 64) legacyNames.set(channel, names);
  }
  return names;
}

/**
 * A publish of one event to a legacy per-event channel. Counted and timed
 * exactly, like every stage, but it makes a span only when it fails: older
 * generations publish once per event to a channel no current Twenty client
 * reads, and a producer span per event would be most of a batch's trace and
 * most of the tracing cost. No carrier either: its consumers are gone.
 */
export function legacyPubsub(ctx: RoleContext): InvocationFactory {
  const { telemetry, model } = ctx;
  const codeAttributes = { [ATTR.CODE_FUNCTION]: `${ctx.className}.${ctx.methodName}` };
  return (_self, args) => {
    const input = model.readLegacyPublish(args);
    if (!input) return undefined;
    const parentFrame = currentFrame();
    const origin: Origin = parentFrame?.workflow ? 'workflow' : (parentFrame?.publishOrigin ?? 'unknown');
    return new LegacyPublish(telemetry, codeAttributes, input, origin, parentFrame);
  };
}

/** One legacy-channel publish: runs the call in the caller's context; on failure, a span from its start to now. */
class LegacyPublish implements Invocation {
  private readonly startedAt = performance.now();

  constructor(
    private readonly telemetry: Telemetry,
    private readonly codeAttributes: Attributes,
    private readonly input: LegacyPublishInput,
    private readonly origin: Origin,
    private readonly parentFrame: Frame | undefined,
  ) {}

  run<T>(call: () => T): T {
    return call();
  }

  onReturn(): void {
    this.telemetry.recordUnits('legacy_pubsub', this.origin, 'forwarded', 1);
    this.telemetry.recordDuration(
      'legacy_pubsub',
      this.origin,
      'forwarded',
      (performance.now() - this.startedAt) / 1000,
    );
  }

  onThrow(error: unknown): void {
    const { telemetry, input } = this;
    const names = legacyChannelNames(input.channel, input.template);
    const run = new StageRun(
      telemetry,
      'legacy_pubsub',
      names.spanName,
      this.origin,
      { kind: SpanKind.PRODUCER, startedAt: this.startedAt },
      this.parentFrame,
    );
    if (run.recording) {
      run.describe(this.codeAttributes, names.attributes);
      const workspaceId = presentId(input.workspaceId, telemetry.config.captureIds);
      if (workspaceId) run.span.setAttribute(ATTR.WORKSPACE_ID, workspaceId);
    }
    run.failWith(error);
    run.add('failed', this.origin, 1);
    run.end();
  }
}
