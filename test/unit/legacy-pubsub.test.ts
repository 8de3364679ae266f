/**
 * The legacy per-event channel publish (`legacy_pubsub`, generations v1 and
 * v5): every call is counted and timed exactly, a span is made only when the
 * call fails, and the wrapped method behaves as before either way.
 */
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, TraceFlags, trace } from '@opentelemetry/api';
import { core, metrics as sdkMetrics, tracing } from '@opentelemetry/sdk-node';
import { runInFrame } from '../../src/engine/context';
import { legacyPubsub } from '../../src/engine/roles/pubsub';
import { wrapFunction } from '../../src/engine/wrap';
import { Telemetry } from '../../src/otel/telemetry';
import { ATTR } from '../../src/semconv';
import { TWENTY_MODEL } from '../../src/twenty/model';

class CollectingReader extends sdkMetrics.MetricReader {
  protected async onForceFlush(): Promise<void> {}
  protected async onShutdown(): Promise<void> {}
}

class RedisDown extends Error {}

const PARENT = trace.setSpanContext(ROOT_CONTEXT, {
  traceId: '0af7651916cd43dd8448eb211c80319c',
  spanId: 'b7ad6b7169203331',
  traceFlags: TraceFlags.SAMPLED,
});

function setup(original: (input: unknown) => unknown) {
  const spans = new tracing.InMemorySpanExporter();
  const reader = new CollectingReader();
  const telemetry = new Telemetry({
    config: { enabled: true },
    tracerProvider: new tracing.BasicTracerProvider({ spanProcessors: [new tracing.SimpleSpanProcessor(spans)] }),
    meterProvider: new sdkMetrics.MeterProvider({ readers: [reader] }),
    log: () => undefined,
  });
  const factory = legacyPubsub({
    telemetry,
    model: TWENTY_MODEL,
    className: 'SubscriptionService',
    methodName: 'publish',
    rules: () => undefined,
  });
  const faults: unknown[] = [];
  const publish = wrapFunction(original, 'SubscriptionService.publish', factory, (_c, error) => faults.push(error));
  // as the v5 publisher calls it, inside the publish stage's frame
  const call = (input: unknown) => runInFrame({ otelContext: PARENT, publishOrigin: 'ui' }, () => publish(input));
  return { telemetry, spans, reader, call, faults };
}

async function durationCount(reader: CollectingReader, outcome: string): Promise<number> {
  const { resourceMetrics } = await reader.collect();
  let count = 0;
  for (const scope of resourceMetrics.scopeMetrics) {
    for (const metric of scope.metrics) {
      if (metric.descriptor.name !== 'twenty.sse.stage.duration') continue;
      for (const point of metric.dataPoints) {
        const attributes = point.attributes;
        if (attributes[ATTR.STAGE] === 'legacy_pubsub' && attributes[ATTR.OUTCOME] === outcome)
          count += (point.value as { count: number }).count;
      }
    }
  }
  return count;
}

const input = (channel = 'DATABASE_EVENT_CHANNEL') => ({ channel, payload: { recordId: 'r1' }, workspaceId: 'ws-1' });

describe('legacy_pubsub', () => {
  test('a publish that succeeds is counted and timed, with no span, and returns what the original returned', async () => {
    const { telemetry, spans, reader, call, faults } = setup(async () => 'sent');
    await expect(call(input())).resolves.toBe('sent');
    await expect(call(input())).resolves.toBe('sent');
    expect(spans.getFinishedSpans()).toHaveLength(0);
    expect(telemetry.tallyRows()).toEqual([{ stage: 'legacy_pubsub', origin: 'ui', outcome: 'forwarded', count: 2 }]);
    expect(await durationCount(reader, 'forwarded')).toBe(2);
    expect(faults).toEqual([]);
  });

  test('a publish that rejects gets a span from the start of the call, parented on the caller, with error.type', async () => {
    const { telemetry, spans, reader, call } = setup(async () => {
      await new Promise((resolve) => setTimeout(resolve, 30));
      throw new RedisDown('connection lost');
    });
    const error = await (call(input()) as Promise<unknown>).then(
      () => undefined,
      (thrown: unknown) => thrown,
    );
    expect(error).toBeInstanceOf(RedisDown);
    const finished = spans.getFinishedSpans();
    expect(finished).toHaveLength(1);
    const [span] = finished;
    expect(span.name).toBe('publish DATABASE_EVENT_CHANNEL');
    expect(span.kind).toBe(SpanKind.PRODUCER);
    expect(span.status).toEqual({ code: SpanStatusCode.ERROR, message: 'RedisDown' });
    expect(span.parentSpanContext?.spanId).toBe('b7ad6b7169203331');
    expect(span.spanContext().traceId).toBe('0af7651916cd43dd8448eb211c80319c');
    expect(span.attributes).toMatchObject({
      [ATTR.STAGE]: 'legacy_pubsub',
      [ATTR.ORIGIN]: 'ui',
      [ATTR.OUTCOME]: 'failed',
      [ATTR.EVENTS_IN]: 1,
      [ATTR.EVENTS_FAILED]: 1,
      [ATTR.ERROR_TYPE]: 'RedisDown',
      [ATTR.CODE_FUNCTION]: 'SubscriptionService.publish',
      [ATTR.MESSAGING_DESTINATION_TEMPLATE]: 'DATABASE_EVENT_CHANNEL:{workspaceId}',
    });
    expect(span.attributes[ATTR.WORKSPACE_ID]).not.toBe('ws-1'); // hashed by default
    // the span covers the call (30 ms of it), not just the moment of failure
    expect(core.hrTimeToMilliseconds(span.duration)).toBeGreaterThanOrEqual(25);
    expect(telemetry.tallyRows()).toEqual([{ stage: 'legacy_pubsub', origin: 'ui', outcome: 'failed', count: 1 }]);
    expect(await durationCount(reader, 'failed')).toBe(1);
  });

  test('a publish that throws synchronously throws the same error and gets its span', () => {
    const thrown = new RedisDown('not connected');
    const { telemetry, spans, call } = setup(() => {
      throw thrown;
    });
    expect(() => call(input())).toThrow(thrown);
    expect(spans.getFinishedSpans().map((span) => span.attributes[ATTR.ERROR_TYPE])).toEqual(['RedisDown']);
    expect(telemetry.tallyRows()).toEqual([{ stage: 'legacy_pubsub', origin: 'ui', outcome: 'failed', count: 1 }]);
  });

  test('a publish to any other channel is not a legacy_pubsub call', async () => {
    const { telemetry, spans, call } = setup(async () => 'sent');
    await expect(call(input('EVENT_STREAM_CHANNEL:ws-1:c1'))).resolves.toBe('sent');
    expect(spans.getFinishedSpans()).toHaveLength(0);
    expect(telemetry.tallyRows()).toEqual([]);
  });
});
