import { metrics as sdkMetrics, tracing } from '@opentelemetry/sdk-node';
import { TwentySseConfig } from '../../src/config';
import { ATTR, METRIC } from '../../src/semconv';
import { Telemetry } from '../../src/otel/telemetry';

class CollectingReader extends sdkMetrics.MetricReader {
  protected async onForceFlush(): Promise<void> {}
  protected async onShutdown(): Promise<void> {}
}

export interface TestTelemetry {
  telemetry: Telemetry;
  spans: tracing.InMemorySpanExporter;
  reader: sdkMetrics.MetricReader;
  tracerProvider: tracing.BasicTracerProvider;
  meterProvider: sdkMetrics.MeterProvider;
  logs: string[];
  /** Sum of twenty.sse.stage.events data points matching every given attribute. */
  stageEvents(match: Partial<Record<'stage' | 'origin' | 'outcome' | 'reason', string>>): Promise<number>;
  metricPoints(name: string): Promise<{ attributes: Record<string, unknown>; value: unknown }[]>;
}

export function makeTestTelemetry(config: Partial<TwentySseConfig> = {}): TestTelemetry {
  const spans = new tracing.InMemorySpanExporter();
  const tracerProvider = new tracing.BasicTracerProvider({ spanProcessors: [new tracing.SimpleSpanProcessor(spans)] });
  const reader = new CollectingReader();
  const meterProvider = new sdkMetrics.MeterProvider({ readers: [reader] });
  const logs: string[] = [];
  const telemetry = new Telemetry({
    config: { enabled: true, ...config },
    tracerProvider,
    meterProvider,
    log: (l) => logs.push(l),
  });
  const metricPoints = async (name: string) => {
    const { resourceMetrics } = await reader.collect();
    const points: { attributes: Record<string, unknown>; value: unknown }[] = [];
    for (const scope of resourceMetrics.scopeMetrics) {
      for (const metric of scope.metrics) {
        if (metric.descriptor.name !== name) continue;
        for (const point of metric.dataPoints) points.push({ attributes: point.attributes, value: point.value });
      }
    }
    return points;
  };
  return {
    telemetry,
    spans,
    reader,
    tracerProvider,
    meterProvider,
    logs,
    metricPoints,
    async stageEvents(match) {
      const keys: Record<string, string> = {
        stage: ATTR.STAGE,
        origin: ATTR.ORIGIN,
        outcome: ATTR.OUTCOME,
        reason: ATTR.DROP_REASON,
      };
      let total = 0;
      for (const point of await metricPoints(METRIC.STAGE_EVENTS)) {
        if (Object.entries(match).every(([k, v]) => point.attributes[keys[k]] === v)) total += point.value as number;
      }
      return total;
    },
  };
}
