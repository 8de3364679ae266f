import { SpanStatusCode, type Attributes } from '@opentelemetry/api';
import { metrics as sdkMetrics, tracing } from '@opentelemetry/sdk-node';

import { type TraceView } from '../src/cli/html-report';
import { startInstrumentation, type Runtime } from '../src/runtime';
import { ATTR, METRIC, STAGES, type Origin, type Stage } from '../src/semconv';

// Span attribute values as the report shows them (arrays joined).
const plainAttributes = (attributes: Attributes): Record<string, string | number | boolean> =>
  Object.fromEntries(
    Object.entries(attributes)
      .filter(([, value]) => value !== undefined && value !== null)
      .map(([key, value]) => [key, Array.isArray(value) ? value.join(', ') : (value as string | number | boolean)]),
  );

/** A metric reader that only exports when asked: the demo reads the counters once, at the end. */
class OnDemandMetricReader extends sdkMetrics.MetricReader {
  protected async onForceFlush(): Promise<void> {}
  protected async onShutdown(): Promise<void> {}
}

export type InProcessTelemetry = {
  runtime: Runtime;
  spans: tracing.InMemorySpanExporter;
  /** Lines the instrumentation logged (startup report, faults), in order. */
  logs: string[];
  /** Sum of every twenty.sse.stage.events data point, read through the OTel metrics SDK. */
  stageEventsCounterTotal: () => Promise<number>;
  /** Trace ids of traces in which events of `origin` were dropped or failed, in the order they ended. */
  lossTraceIds: (origin: Origin) => Promise<string[]>;
  /**
   * Where events of `origin` failed (an exception, not a drop): per trace the
   * innermost failed stage, since the exception then fails every enclosing
   * stage too. The funnel report counts failures but names no method for them.
   */
  failures: (origin: Origin) => Promise<FailureSummary[]>;
  /** Every finished span of one trace, for the HTML report's waterfall. */
  trace: (traceId: string) => Promise<TraceView>;
};

export type FailureSummary = {
  stage: Stage;
  method: string;
  errorType: string;
  events: number;
  /** The enclosing stages the exception propagated through and failed too, innermost first. */
  propagatedTo: Stage[];
};

/**
 * Starts the package in this process with in-memory exporters, before the
 * Twenty-like app is bootstrapped, and hooks Nest's DependenciesScanner (the
 * same hook the register entry installs) so every Twenty provider is patched
 * as Nest registers it. Configuration comes from here, not from the caller's
 * TWENTY_SSE_OTEL_* / OTEL_* environment, so the demo behaves the same everywhere.
 */
export const startInProcessTelemetry = (): InProcessTelemetry => {
  const spans = new tracing.InMemorySpanExporter();
  let reader: OnDemandMetricReader | undefined;
  const logs: string[] = [];
  const runtime = startInstrumentation({
    env: {},
    config: { enabled: true, generation: 'auto', captureIds: 'hashed' },
    spanExporter: spans,
    // the package's histograms are exported through producers attached to the reader, as in production
    metricReader: (metricProducers) => (reader = new OnDemandMetricReader({ metricProducers })),
    log: (line) => logs.push(line),
  });

  if (!runtime) {
    throw new Error(`the instrumentation did not start: ${logs.join('; ') || 'no reason given'}`);
  }
  runtime.instrumentation.instrumentNestCore(
    require('@nestjs/core'),
    (require('@nestjs/core/package.json') as { version: string }).version,
  );

  return {
    runtime,
    spans,
    logs,
    trace: async (traceId) => {
      await runtime.forceFlush();
      const micros = ([seconds, nanos]: [number, number]) => seconds * 1e6 + Math.round(nanos / 1e3);

      return {
        traceId,
        source: 'the in-memory span exporter of this demo run',
        spans: spans
          .getFinishedSpans()
          .filter((span) => span.spanContext().traceId === traceId)
          .map((span) => ({
            spanId: span.spanContext().spanId,
            parentSpanId: span.parentSpanContext?.spanId,
            name: span.name,
            service: String(span.resource.attributes['service.name'] ?? 'unknown'),
            startUs: micros(span.startTime),
            durationUs: micros(span.duration),
            attributes: plainAttributes(span.attributes),
            events: span.events.map((event) => ({
              name: event.name,
              timeUs: micros(event.time),
              attributes: plainAttributes(event.attributes ?? {}),
            })),
            error: span.status.code === SpanStatusCode.ERROR,
          })),
      };
    },
    stageEventsCounterTotal: async () => {
      if (!reader) throw new Error('the metric reader was not built');
      const { resourceMetrics } = await reader.collect();
      let total = 0;

      for (const scope of resourceMetrics.scopeMetrics) {
        for (const metric of scope.metrics) {
          if (metric.descriptor.name !== METRIC.STAGE_EVENTS) continue;
          for (const point of metric.dataPoints) total += point.value as number;
        }
      }

      return total;
    },
    lossTraceIds: async (origin) => {
      await runtime.forceFlush();
      const traceIds = new Set<string>();

      for (const span of spans.getFinishedSpans()) {
        const lost =
          Number(span.attributes[ATTR.EVENTS_DROPPED] ?? 0) + Number(span.attributes[ATTR.EVENTS_FAILED] ?? 0);

        if (span.attributes[ATTR.ORIGIN] === origin && lost > 0) {
          traceIds.add(span.spanContext().traceId);
        }
      }

      return [...traceIds];
    },
    failures: async (origin) => {
      await runtime.forceFlush();
      const failedByTrace = new Map<string, tracing.ReadableSpan[]>();

      for (const span of spans.getFinishedSpans()) {
        if (span.attributes[ATTR.ORIGIN] !== origin || span.attributes[ATTR.OUTCOME] !== 'failed') continue;
        const traceId = span.spanContext().traceId;

        failedByTrace.set(traceId, [...(failedByTrace.get(traceId) ?? []), span]);
      }
      const summaries = new Map<string, FailureSummary>();
      const stageIndex = (span: tracing.ReadableSpan) => STAGES.indexOf(span.attributes[ATTR.STAGE] as Stage);

      for (const failed of failedByTrace.values()) {
        const innermost = failed.reduce((deepest, span) => (stageIndex(span) > stageIndex(deepest) ? span : deepest));
        const stage = innermost.attributes[ATTR.STAGE] as Stage;
        const method = String(innermost.attributes[ATTR.CODE_FUNCTION] ?? innermost.name);
        const errorType = String(innermost.attributes[ATTR.ERROR_TYPE] ?? 'unknown');
        const key = `${stage}|${method}|${errorType}`;
        const summary = summaries.get(key) ?? { stage, method, errorType, events: 0, propagatedTo: [] };

        summary.events += Number(innermost.attributes[ATTR.EVENTS_FAILED] ?? 0);
        for (const span of failed) {
          const outer = span.attributes[ATTR.STAGE] as Stage;

          const countedFailed = Number(span.attributes[ATTR.EVENTS_FAILED] ?? 0) > 0;

          if (countedFailed && outer !== stage && !summary.propagatedTo.includes(outer))
            summary.propagatedTo.push(outer);
        }
        summary.propagatedTo.sort((a, b) => STAGES.indexOf(b) - STAGES.indexOf(a));
        summaries.set(key, summary);
      }

      return [...summaries.values()];
    },
  };
};
