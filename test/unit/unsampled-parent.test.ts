/**
 * A stage under an unsampled parent skips span creation, but only where the
 * sampler is known to keep the parent's decision: the package's own SDK with a
 * parent-based (or always_off) OTEL_TRACES_SAMPLER. The rule is checked here
 * against what the real SDK does for every sampler the environment can name,
 * so an SDK that changed its parent-based delegates would fail this file.
 */
import { Context, ROOT_CONTEXT, TraceFlags, trace } from '@opentelemetry/api';
import { metrics as sdkMetrics, tracing } from '@opentelemetry/sdk-node';
import { readOtelEnv } from '../../src/otel/otel-env';
import { samplerKeepsUnsampledParent, startSdk } from '../../src/otel/sdk';
import { Telemetry } from '../../src/otel/telemetry';
import { StageRun } from '../../src/engine/stage-run';

// A trace id every ratio sampler with a ratio above 0 samples (its low bits are the smallest possible).
const LOW_TRACE_ID = '00000000000000000000000000000001';

function parentContext(flags: TraceFlags, isRemote: boolean): Context {
  return trace.setSpanContext(ROOT_CONTEXT, {
    traceId: LOW_TRACE_ID,
    spanId: '00000000000000aa',
    traceFlags: flags,
    isRemote,
  });
}

const SAMPLER_VALUES: (string | undefined)[] = [
  undefined,
  'always_on',
  'always_off',
  'traceidratio',
  'parentbased_always_on',
  'parentbased_always_off',
  'parentbased_traceidratio',
  'not_a_sampler',
  ' always_on',
];

describe('the unsampled-parent shortcut follows the SDK sampler', () => {
  const saved = { sampler: process.env.OTEL_TRACES_SAMPLER, arg: process.env.OTEL_TRACES_SAMPLER_ARG };
  afterEach(() => {
    for (const [key, value] of [
      ['OTEL_TRACES_SAMPLER', saved.sampler],
      ['OTEL_TRACES_SAMPLER_ARG', saved.arg],
    ] as const) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  });

  test.each(SAMPLER_VALUES.map((value) => [String(value), value]))(
    'OTEL_TRACES_SAMPLER=%s: the flag is set exactly when the SDK never samples a child of an unsampled parent',
    async (_label, value) => {
      if (value === undefined) delete process.env.OTEL_TRACES_SAMPLER;
      else process.env.OTEL_TRACES_SAMPLER = value;
      process.env.OTEL_TRACES_SAMPLER_ARG = '0.5';
      const sdk = startSdk({
        settings: readOtelEnv({ OTEL_METRICS_EXPORTER: 'none' }).settings,
        defaultServiceName: 'twenty-server',
        spanExporter: new tracing.InMemorySpanExporter(),
        log: () => undefined,
      });
      try {
        const tracer = sdk.tracerProvider.getTracer('sampler-probe');
        const childRecorded = [false, true].map((isRemote) =>
          tracer.startSpan('child', {}, parentContext(TraceFlags.NONE, isRemote)).isRecording(),
        );
        expect(sdk.unsampledParentDecides).toBe(samplerKeepsUnsampledParent(value));
        if (sdk.unsampledParentDecides) expect(childRecorded).toEqual([false, false]);
        else {
          // always_on and traceidratio decide on their own: an unsampled parent does not stop them
          expect(childRecorded).toEqual([true, true]);
        }
      } finally {
        await sdk.shutdown();
      }
    },
  );
});

class CollectingReader extends sdkMetrics.MetricReader {
  protected async onForceFlush(): Promise<void> {}
  protected async onShutdown(): Promise<void> {}
}

function telemetryWith(sampler: tracing.Sampler, unsampledParentDecides: boolean) {
  const spans = new tracing.InMemorySpanExporter();
  const tracerProvider = new tracing.BasicTracerProvider({
    sampler,
    spanProcessors: [new tracing.SimpleSpanProcessor(spans)],
  });
  const telemetry = new Telemetry({
    config: { enabled: true },
    tracerProvider,
    meterProvider: new sdkMetrics.MeterProvider({ readers: [new CollectingReader()] }),
    unsampledParentDecides,
    log: () => undefined,
  });
  return { telemetry, spans };
}

describe('a stage run under an unsampled parent', () => {
  const parentBased = new tracing.ParentBasedSampler({ root: new tracing.AlwaysOnSampler() });

  test('keeps the parent context, records no span and still counts every unit', () => {
    const { telemetry, spans } = telemetryWith(parentBased, true);
    const parent = parentContext(TraceFlags.NONE, false);
    const run = new StageRun(telemetry, 'stream', 'stream', 'workflow', { parent });
    expect(run.recording).toBe(false);
    expect(run.context).toBe(parent);
    expect(trace.getSpanContext(run.context)).toMatchObject({ traceId: LOW_TRACE_ID, spanId: '00000000000000aa' });
    run.add('forwarded', 'workflow', 3);
    run.add('dropped', 'workflow', 2, 'no_matching_query');
    run.end();
    expect(spans.getFinishedSpans()).toHaveLength(0);
    expect(telemetry.tallyRows()).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ stage: 'stream', origin: 'workflow', outcome: 'forwarded', count: 3 }),
        expect.objectContaining({
          stage: 'stream',
          origin: 'workflow',
          outcome: 'dropped',
          reason: 'no_matching_query',
          count: 2,
        }),
      ]),
    );
  });

  test('under a sampled parent, or without a parent, the span is created as before', () => {
    const { telemetry, spans } = telemetryWith(parentBased, true);
    const sampledParent = parentContext(TraceFlags.SAMPLED, false);
    const child = new StageRun(telemetry, 'stream', 'stream', 'ui', { parent: sampledParent });
    const root = new StageRun(telemetry, 'emit', 'emit', 'ui', { parent: ROOT_CONTEXT });
    expect([child.recording, root.recording]).toEqual([true, true]);
    expect(child.context).not.toBe(sampledParent);
    child.end();
    root.end();
    const finished = spans.getFinishedSpans();
    expect(finished.map((span) => span.name).sort()).toEqual(['emit', 'stream']);
    const stream = finished.find((span) => span.name === 'stream');
    expect(stream?.spanContext().traceId).toBe(LOW_TRACE_ID);
    expect(stream?.parentSpanContext?.spanId).toBe('00000000000000aa');
  });

  test('without the flag, a sampler that ignores the parent still samples the child', () => {
    const { telemetry, spans } = telemetryWith(new tracing.AlwaysOnSampler(), false);
    const run = new StageRun(telemetry, 'stream', 'stream', 'ui', { parent: parentContext(TraceFlags.NONE, false) });
    expect(run.recording).toBe(true);
    run.end();
    expect(spans.getFinishedSpans()).toHaveLength(1);
  });

  test('a tracer put in later (sampler unknown) turns the shortcut off', () => {
    const { telemetry } = telemetryWith(parentBased, true);
    const other = new tracing.BasicTracerProvider({ sampler: new tracing.AlwaysOnSampler() });
    telemetry.useTracer(other.getTracer('other'));
    expect(telemetry.unsampledParentDecides).toBe(false);
    const run = new StageRun(telemetry, 'stream', 'stream', 'ui', { parent: parentContext(TraceFlags.NONE, false) });
    expect(run.recording).toBe(true);
    run.end();
  });
});
