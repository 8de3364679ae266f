import { metrics as sdkMetrics, tracing } from '@opentelemetry/sdk-node';
import { readOtelEnv } from '../../src/otel/otel-env';
import { startSdk } from '../../src/otel/sdk';
import { ATTR, ERROR_TYPE_QUEUE_FULL, SDK_METRIC } from '../../src/semconv';
import { SpanQueueDropReporter } from '../../src/otel/span-drop-reporting';

class Reader extends sdkMetrics.MetricReader {
  protected async onForceFlush(): Promise<void> {}
  protected async onShutdown(): Promise<void> {}
}

/** Answers every export after `delayMs`: a collector slower than the spans come. */
class SlowExporter implements tracing.SpanExporter {
  exported = 0;
  inFlight = 0;
  constructor(private readonly delayMs: number) {}
  export(spans: tracing.ReadableSpan[], done: (result: { code: number }) => void): void {
    this.inFlight++;
    setTimeout(() => {
      this.inFlight--;
      this.exported += spans.length;
      done({ code: 0 });
    }, this.delayMs);
  }
  async shutdown(): Promise<void> {}
}

async function processedByErrorType(reader: sdkMetrics.MetricReader): Promise<Map<string, number>> {
  const { resourceMetrics, errors } = await reader.collect();
  expect(errors).toEqual([]);
  const sums = new Map<string, number>();
  for (const scope of resourceMetrics.scopeMetrics) {
    for (const metric of scope.metrics) {
      if (metric.descriptor.name !== SDK_METRIC.SPAN_PROCESSED) continue;
      for (const point of metric.dataPoints) {
        const key = String(point.attributes[ATTR.ERROR_TYPE] ?? 'ok');
        sums.set(key, (sums.get(key) ?? 0) + (point.value as number));
      }
    }
  }
  return sums;
}

const droppedIn = (lines: string[]) =>
  lines
    .map((line) => /^(\d+) spans? dropped: the span queue was full/.exec(line))
    .reduce((sum, match) => sum + (match ? Number(match[1]) : 0), 0);

describe('spans dropped by a full span queue', () => {
  it('the package SDK counts them as otel.sdk.processor.span.processed{error.type=queue_full} and prints the count: offered - exported', async () => {
    const settings = readOtelEnv({}).settings;
    settings.bsp = { maxQueueSize: 16, maxExportBatchSize: 8, scheduledDelayMillis: 5, exportTimeoutMillis: 5_000 };
    const exporter = new SlowExporter(40);
    const lines: string[] = [];
    let reader: sdkMetrics.MetricReader | undefined;
    const sdk = startSdk({
      settings,
      defaultServiceName: 'test',
      spanExporter: exporter,
      metricReader: (metricProducers) => (reader = new Reader({ metricProducers })),
      log: (line) => lines.push(line),
    });
    const tracer = sdk.tracerProvider.getTracer('flood');

    // three bursts, each far larger than the queue, with time for some exports in between
    let offered = 0;
    for (let burst = 0; burst < 3; burst++) {
      for (let i = 0; i < 500; i++, offered++) tracer.startSpan(`span ${i}`).end();
      await new Promise((resolve) => setTimeout(resolve, 60));
    }
    await sdk.forceFlush();
    // forceFlush does not wait for an export the processor's timer had already started
    while (exporter.inFlight > 0) await new Promise((resolve) => setTimeout(resolve, 10));

    const sums = await processedByErrorType(reader!);
    const dropped = sums.get(ERROR_TYPE_QUEUE_FULL) ?? 0;
    expect(exporter.exported).toBeGreaterThan(0);
    expect(dropped).toBeGreaterThan(0);
    expect(dropped).toBe(offered - exporter.exported);
    expect(sums.get('ok')).toBe(exporter.exported);
    // the first drop is printed at once, the rest on flush: every dropped span is in a line, nothing else is
    expect(lines.length).toBeGreaterThanOrEqual(1);
    expect(droppedIn(lines)).toBe(dropped);
    expect(lines[lines.length - 1]).toContain(`${dropped} dropped since start`);
    await sdk.shutdown();
  });
});

describe('SpanQueueDropReporter', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('prints the first drop at once, then at most one line per interval with the drops since the last line', () => {
    const lines: string[] = [];
    const reporter = new SpanQueueDropReporter((line) => lines.push(line), 2048, 1_000);
    reporter.dropped(1);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^1 span dropped: the span queue was full \(2048 spans/);

    reporter.dropped(5);
    reporter.dropped(7);
    jest.advanceTimersByTime(999);
    expect(lines).toHaveLength(1);
    jest.advanceTimersByTime(1);
    expect(lines).toHaveLength(2);
    expect(lines[1]).toMatch(/^12 spans dropped/);
    expect(lines[1]).toContain('13 dropped since start');

    // a quiet interval prints nothing; the next drop after it is printed at once
    jest.advanceTimersByTime(5_000);
    expect(lines).toHaveLength(2);
    reporter.dropped(3);
    expect(lines).toHaveLength(3);
    expect(lines[2]).toMatch(/^3 spans dropped/);

    // flush prints what is pending without waiting for the interval
    reporter.dropped(4);
    expect(lines).toHaveLength(3);
    reporter.flush();
    expect(lines).toHaveLength(4);
    expect(lines[3]).toMatch(/^4 spans dropped/);
    expect(reporter.droppedTotal).toBe(20);
    jest.advanceTimersByTime(10_000);
    expect(lines).toHaveLength(4);
  });

  it('a log function that throws never reaches the caller', () => {
    const reporter = new SpanQueueDropReporter(() => {
      throw new Error('stderr closed');
    }, 8);
    expect(() => reporter.dropped(2)).not.toThrow();
    expect(reporter.droppedTotal).toBe(2);
  });
});
