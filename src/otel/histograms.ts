import { Attributes, HrTime, ValueType } from '@opentelemetry/api';
import { metrics as sdkMetrics, resources } from '@opentelemetry/sdk-node';
import { SCOPE_NAME } from '../semconv';
import { VERSION } from '../version';

/**
 * Explicit-bucket histograms aggregated in the package itself and exported
 * through a MetricProducer on the package's own MetricReader(s).
 *
 * Why: a sync Histogram of the SDK hashes the whole attribute set on every
 * record() (sort + JSON.stringify) to find its series. The stage duration is
 * recorded once per stage invocation and the delivery latency once per
 * delivered event, so that hashing was the largest single metric cost on the
 * hot path. Here the caller names the series by a small integer it already
 * has, and a record is a few array writes. The exported data is what the
 * SDK's explicit-bucket aggregation would produce for the same values (same
 * bucket rule, sum, count, min, max, cumulative or delta per reader): a test
 * feeds both the same values and compares.
 *
 * Used only when the package built the SDK (register entry, startInstrumentation
 * without providers). With an app-provided MeterProvider the package records
 * through the API instead, as before.
 */
export interface HistogramDefinition {
  name: string;
  description: string;
  unit: string;
  boundaries: readonly number[];
}

interface Series {
  attributes: Attributes;
  counts: number[];
  sum: number;
  count: number;
  min: number;
  max: number;
  startTime: HrTime;
}

/** Upper-inclusive bucket index, the rule of the SDK's explicit-bucket aggregation. */
function bucketIndex(boundaries: readonly number[], value: number): number {
  let lo = 0;
  let hi = boundaries.length - 1;
  let found = boundaries.length;
  while (hi >= lo) {
    const mid = (lo + hi) >>> 1;
    if (boundaries[mid] < value) lo = mid + 1;
    else {
      found = mid;
      hi = mid - 1;
    }
  }
  return found;
}

function nowHrTime(): HrTime {
  const ms = performance.timeOrigin + performance.now();
  const seconds = Math.floor(ms / 1000);
  return [seconds, Math.round((ms - seconds * 1000) * 1e6)];
}

export class ExactHistogram {
  private readonly series: (Series | undefined)[] = [];
  readonly list: Series[] = [];

  constructor(readonly definition: HistogramDefinition) {}

  /** Records `value` into the series numbered `slot`, whose attributes are `attributes` (used when the series is new). */
  record(slot: number, attributes: Attributes, value: number): void {
    if (!(value >= 0)) return; // NaN and negatives: dropped, as the SDK's histogram does
    let series = this.series[slot];
    if (!series) {
      series = {
        attributes,
        counts: new Array(this.definition.boundaries.length + 1).fill(0),
        sum: 0,
        count: 0,
        min: Infinity,
        max: -Infinity,
        startTime: nowHrTime(),
      };
      this.series[slot] = series;
      this.list.push(series);
    }
    series.count++;
    series.sum += value;
    if (value < series.min) series.min = value;
    if (value > series.max) series.max = value;
    series.counts[bucketIndex(this.definition.boundaries, value)]++;
  }
}

interface Snapshot {
  counts: number[];
  sum: number;
  count: number;
  time: HrTime;
}

/**
 * One per MetricReader: exports the histograms with that reader's temporality.
 * Cumulative points carry min and max. Delta points report what was recorded
 * since the previous collection, without min and max (optional in OTLP and
 * unused by Prometheus) except for a series' first interval, where the
 * all-time extremes are the interval's.
 */
export class ExactHistogramProducer implements sdkMetrics.MetricProducer {
  private histograms: ExactHistogram[] = [];
  private temporality: sdkMetrics.AggregationTemporality = sdkMetrics.AggregationTemporality.CUMULATIVE;
  private readonly previous = new Map<Series, Snapshot>();

  constructor(private readonly resource: resources.Resource = resources.emptyResource()) {}

  /** Reads the temporality the reader wants for histograms. */
  useTemporalityOf(reader: sdkMetrics.MetricReader): void {
    this.temporality = reader.selectAggregationTemporality(sdkMetrics.InstrumentType.HISTOGRAM);
  }

  bind(histograms: ExactHistogram[]): void {
    this.histograms = histograms;
  }

  get bound(): boolean {
    return this.histograms.length > 0;
  }

  async collect(): Promise<sdkMetrics.CollectionResult> {
    const endTime = nowHrTime();
    const metrics: sdkMetrics.HistogramMetricData[] = [];
    for (const histogram of this.histograms) {
      const dataPoints: sdkMetrics.DataPoint<sdkMetrics.Histogram>[] = [];
      for (const series of histogram.list) {
        const boundaries = histogram.definition.boundaries as number[];
        const point =
          this.temporality === sdkMetrics.AggregationTemporality.DELTA
            ? this.deltaPoint(series, boundaries, endTime)
            : cumulativePoint(series, boundaries, endTime);
        if (point) dataPoints.push(point);
      }
      if (dataPoints.length === 0) continue;
      metrics.push({
        descriptor: {
          name: histogram.definition.name,
          description: histogram.definition.description,
          unit: histogram.definition.unit,
          valueType: ValueType.DOUBLE,
        },
        aggregationTemporality: this.temporality,
        dataPointType: sdkMetrics.DataPointType.HISTOGRAM,
        dataPoints,
      });
    }
    return {
      resourceMetrics: {
        resource: this.resource,
        scopeMetrics: metrics.length > 0 ? [{ scope: { name: SCOPE_NAME, version: VERSION }, metrics }] : [],
      },
      errors: [],
    };
  }

  private deltaPoint(
    series: Series,
    boundaries: number[],
    endTime: HrTime,
  ): sdkMetrics.DataPoint<sdkMetrics.Histogram> | undefined {
    const before = this.previous.get(series);
    const count = series.count - (before?.count ?? 0);
    if (count <= 0) return undefined;
    const counts = series.counts.map((n, i) => n - (before?.counts[i] ?? 0));
    const sum = series.sum - (before?.sum ?? 0);
    this.previous.set(series, { counts: series.counts.slice(), sum: series.sum, count: series.count, time: endTime });
    const value: sdkMetrics.Histogram = { buckets: { boundaries, counts }, sum, count };
    if (!before) {
      value.min = series.min;
      value.max = series.max;
    }
    return { startTime: before?.time ?? series.startTime, endTime, attributes: series.attributes, value };
  }
}

function cumulativePoint(
  series: Series,
  boundaries: number[],
  endTime: HrTime,
): sdkMetrics.DataPoint<sdkMetrics.Histogram> | undefined {
  if (series.count === 0) return undefined;
  return {
    startTime: series.startTime,
    endTime,
    attributes: series.attributes,
    value: {
      buckets: { boundaries, counts: series.counts.slice() },
      sum: series.sum,
      count: series.count,
      min: series.min,
      max: series.max,
    },
  };
}
