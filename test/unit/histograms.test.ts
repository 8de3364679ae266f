import { metrics as sdkMetrics } from '@opentelemetry/sdk-node';
import { ExactHistogram, ExactHistogramProducer } from '../../src/otel/histograms';
import { startSdk } from '../../src/otel/sdk';
import { readOtelEnv } from '../../src/otel/otel-env';
import { ATTR, METRIC } from '../../src/semconv';
import { Telemetry } from '../../src/otel/telemetry';

class Reader extends sdkMetrics.MetricReader {
  protected async onForceFlush(): Promise<void> {}
  protected async onShutdown(): Promise<void> {}
}

const BOUNDARIES = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
type Point = { attributes: Record<string, unknown>; value: sdkMetrics.Histogram };

async function points(reader: sdkMetrics.MetricReader, name: string): Promise<Point[]> {
  const { resourceMetrics, errors } = await reader.collect();
  expect(errors).toEqual([]);
  const found: Point[] = [];
  for (const scope of resourceMetrics.scopeMetrics) {
    for (const metric of scope.metrics) {
      if (metric.descriptor.name !== name) continue;
      expect(metric.dataPointType).toBe(sdkMetrics.DataPointType.HISTOGRAM);
      for (const point of metric.dataPoints)
        found.push({ attributes: point.attributes, value: point.value as sdkMetrics.Histogram });
    }
  }
  return found.sort((x, y) => JSON.stringify(x.attributes).localeCompare(JSON.stringify(y.attributes)));
}

function comparable(point: Point) {
  const { buckets, count, sum, min, max } = point.value;
  return {
    attributes: point.attributes,
    boundaries: buckets.boundaries,
    counts: buckets.counts,
    count,
    sum: Number(sum?.toFixed(9)),
    min,
    max,
  };
}

// Values on bucket edges, between them, zero, the overflow bucket, plus negatives and NaN that both must ignore.
function values(seed: number): number[] {
  let x = seed;
  const random = () => {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    return x / 2 ** 31;
  };
  const out = [0, ...BOUNDARIES, 45, -1, Number.NaN];
  for (let i = 0; i < 500; i++)
    out.push(random() < 0.1 ? BOUNDARIES[Math.floor(random() * BOUNDARIES.length)] : random() ** 3 * 40);
  return out;
}

function setUp(temporality: sdkMetrics.AggregationTemporality) {
  const selector = () => temporality;
  const sdkReader = new Reader({ aggregationTemporalitySelector: selector });
  const provider = new sdkMetrics.MeterProvider({ readers: [sdkReader] });
  const sdkHistogram = provider
    .getMeter('reference')
    .createHistogram('h', { unit: 's', advice: { explicitBucketBoundaries: BOUNDARIES } });

  const producer = new ExactHistogramProducer();
  const exactReader = new Reader({ aggregationTemporalitySelector: selector, metricProducers: [producer] });
  new sdkMetrics.MeterProvider({ readers: [exactReader] });
  producer.useTemporalityOf(exactReader);
  const exact = new ExactHistogram({ name: 'h', description: '', unit: 's', boundaries: BOUNDARIES });
  producer.bind([exact]);

  const series = [{ a: 'x' }, { a: 'y' }];
  const record = (list: number[]) =>
    list.forEach((value, i) => {
      const slot = i % 2;
      sdkHistogram.record(value, series[slot]);
      exact.record(slot, series[slot], value);
    });
  return { sdkReader, exactReader, record };
}

describe('exact histograms exported through a MetricProducer', () => {
  it('cumulative: the same buckets, count, sum, min and max as the SDK histogram, collection after collection', async () => {
    const { sdkReader, exactReader, record } = setUp(sdkMetrics.AggregationTemporality.CUMULATIVE);
    record(values(1));
    expect((await points(exactReader, 'h')).map(comparable)).toEqual((await points(sdkReader, 'h')).map(comparable));
    record(values(2));
    const exact = (await points(exactReader, 'h')).map(comparable);
    expect(exact).toEqual((await points(sdkReader, 'h')).map(comparable));
    // NaN and the negative value are ignored by both: 2 x 512 valid values over 2 series
    expect(exact.reduce((sum, point) => sum + point.count, 0)).toBe(2 * (values(1).length - 2));
  });

  it('delta: each collection holds only what was recorded since the previous one', async () => {
    const { sdkReader, exactReader, record } = setUp(sdkMetrics.AggregationTemporality.DELTA);
    record(values(3));
    const first = (await points(exactReader, 'h')).map(comparable);
    expect(first).toEqual((await points(sdkReader, 'h')).map(comparable));

    record(values(4).slice(0, 101));
    const withoutMinMax = (point: ReturnType<typeof comparable>) => ({ ...point, min: undefined, max: undefined });
    const second = (await points(exactReader, 'h')).map(comparable);
    expect(second.map(withoutMinMax)).toEqual((await points(sdkReader, 'h')).map(comparable).map(withoutMinMax));
    expect(second.reduce((sum, point) => sum + point.count, 0)).toBe(101 - 2);
    // later delta points leave min/max out (optional in OTLP) rather than report all-time extremes
    expect(second.every((point) => point.min === undefined && point.max === undefined)).toBe(true);

    // nothing new: no point at all, as the SDK
    expect(await points(exactReader, 'h')).toEqual([]);
    expect(await points(sdkReader, 'h')).toEqual([]);
  });
});

describe('Telemetry histograms', () => {
  it('with the package SDK, the stage duration and delivery latency go through the producer; counters stay in the meter', async () => {
    let reader: sdkMetrics.MetricReader | undefined;
    const sdk = startSdk({
      settings: readOtelEnv({}).settings,
      defaultServiceName: 'test',
      spanExporter: { export: (_spans, done) => done({ code: 0 }), shutdown: async () => undefined },
      metricReader: (metricProducers) => (reader = new Reader({ metricProducers })),
    });
    expect(sdk.histogramProducers).toHaveLength(1);
    const telemetry = new Telemetry({
      config: { enabled: true },
      tracerProvider: sdk.tracerProvider,
      meterProvider: sdk.meterProvider,
      histogramProducers: sdk.histogramProducers,
      log: () => undefined,
    });
    telemetry.recordDuration('stream', 'workflow', 'forwarded', 0.003);
    telemetry.recordDuration('stream', 'workflow', 'forwarded', 0.2);
    telemetry.recordDuration('stream', 'ui', 'dropped', 0.0001);
    telemetry.recordDeliveryLatency('workflow', 1.5);
    telemetry.recordUnits('stream', 'workflow', 'forwarded', 3);

    const durations = await points(reader!, METRIC.STAGE_DURATION);
    expect(durations.map((p) => [p.attributes[ATTR.ORIGIN], p.attributes[ATTR.OUTCOME], p.value.count])).toEqual([
      ['ui', 'dropped', 1],
      ['workflow', 'forwarded', 2],
    ]);
    expect(durations[1].value.sum).toBeCloseTo(0.203, 9);
    expect(durations[1].value.buckets.counts[BOUNDARIES.indexOf(0.005)]).toBe(1);
    const latency = await points(reader!, METRIC.DELIVERY_LATENCY);
    expect(latency.map((p) => [p.attributes, p.value.count, p.value.max])).toEqual([
      [{ [ATTR.ORIGIN]: 'workflow' }, 1, 1.5],
    ]);
    const { resourceMetrics } = await reader!.collect();
    const names = resourceMetrics.scopeMetrics.flatMap((scope) =>
      scope.metrics.map((metric) => metric.descriptor.name),
    );
    expect(names.filter((name) => name === METRIC.STAGE_DURATION)).toHaveLength(1);
    expect(names).toContain(METRIC.STAGE_EVENTS);
    // the resource is the SDK's, not the producer's
    expect(resourceMetrics.resource.attributes['service.name']).toBe('test');
    await sdk.shutdown();
  });

  it('with an app-provided meter provider (or a plain reader), it records through the meter as before', async () => {
    const reader = new Reader();
    const telemetry = new Telemetry({
      config: { enabled: true },
      meterProvider: new sdkMetrics.MeterProvider({ readers: [reader] }),
      log: () => undefined,
    });
    telemetry.recordDuration('emit', 'ui', 'forwarded', 0.01);
    telemetry.recordDeliveryLatency('ui', 0.02);
    expect((await points(reader, METRIC.STAGE_DURATION)).map((p) => p.value.count)).toEqual([1]);
    expect((await points(reader, METRIC.DELIVERY_LATENCY)).map((p) => p.value.count)).toEqual([1]);

    const plain = new Reader();
    const sdk = startSdk({ settings: readOtelEnv({}).settings, defaultServiceName: 'test', metricReader: plain });
    expect(sdk.histogramProducers).toEqual([]);
    await sdk.shutdown();
  });
});
