import { randomUUID } from 'node:crypto';
import { MeterProvider as ApiMeterProvider, TracerProvider as ApiTracerProvider } from '@opentelemetry/api';
import type * as MetricsJson from '@opentelemetry/exporter-metrics-otlp-http';
import type * as MetricsProto from '@opentelemetry/exporter-metrics-otlp-proto';
import type * as TracesJson from '@opentelemetry/exporter-trace-otlp-http';
import type * as TracesProto from '@opentelemetry/exporter-trace-otlp-proto';
import { core, metrics as sdkMetrics, resources, tracing } from '@opentelemetry/sdk-node';
import { withExportFailureReporting } from './export-reporting';
import { ExactHistogramProducer } from './histograms';
import { OtelEnvSettings } from './otel-env';
import { RESOURCE, SCOPE_NAME } from '../semconv';
import { requireFromSdkNode } from './sdk-deps';
import { SpanQueueDropReporter, withSpanDropCounting } from './span-drop-reporting';

// The OTLP exporters sdk-node itself depends on (see sdk-deps.ts).
const { OTLPMetricExporter: OTLPMetricExporterJson } = requireFromSdkNode<typeof MetricsJson>(
  '@opentelemetry/exporter-metrics-otlp-http',
);
const { OTLPMetricExporter: OTLPMetricExporterProto } = requireFromSdkNode<typeof MetricsProto>(
  '@opentelemetry/exporter-metrics-otlp-proto',
);
const { OTLPTraceExporter: OTLPTraceExporterJson } = requireFromSdkNode<typeof TracesJson>(
  '@opentelemetry/exporter-trace-otlp-http',
);
const { OTLPTraceExporter: OTLPTraceExporterProto } = requireFromSdkNode<typeof TracesProto>(
  '@opentelemetry/exporter-trace-otlp-proto',
);

/**
 * The package's own tracer and meter providers. They are deliberately NOT
 * registered as the global providers: Twenty registers its own global
 * MeterProvider (instrument.ts) and, with Sentry, its own tracer provider and
 * context manager. Registering first would silently break theirs; using our
 * own instances keeps both working.
 */
export interface SdkHandle {
  tracerProvider: ApiTracerProvider;
  meterProvider: ApiMeterProvider;
  /** Attached to every reader of meterProvider; empty when a reader without one was supplied. */
  histogramProducers: ExactHistogramProducer[];
  /** The tracer provider's sampler (from OTEL_TRACES_SAMPLER) never samples a child of an unsampled span. */
  unsampledParentDecides: boolean;
  forceFlush(): Promise<void>;
  shutdown(): Promise<void>;
}

/** A reader built by the caller around the producers the package exports its histograms through. */
export type MetricReaderFactory = (metricProducers: sdkMetrics.MetricProducer[]) => sdkMetrics.MetricReader;

export interface SdkOptions {
  settings: OtelEnvSettings;
  /** Default service name when OTEL_SERVICE_NAME is unset. */
  defaultServiceName: string;
  /** Where export failures are reported (once per interval). */
  log?: (line: string) => void;
  /** Test and demo hooks: replace the exporters. */
  spanExporter?: tracing.SpanExporter;
  /** A reader, or a factory that attaches the given producers (then the histograms take the cheap path). */
  metricReader?: sdkMetrics.MetricReader | MetricReaderFactory;
}

/**
 * Whether the sampler the SDK builds from OTEL_TRACES_SAMPLER (read as the SDK reads it) keeps an unsampled
 * parent's decision for its children. The parent-based samplers do (their delegates for an unsampled parent,
 * local or remote, are always-off, and the environment cannot change that); always_off samples nothing; an
 * unset or unknown value means parentbased_always_on. Only always_on and traceidratio decide on their own.
 */
export function samplerKeepsUnsampledParent(sampler: string | undefined): boolean {
  return sampler !== 'always_on' && sampler !== 'traceidratio';
}

export function defaultServiceName(argv: string[] = process.argv): string {
  return argv.some((arg) => /queue-worker/.test(arg)) ? 'twenty-worker' : 'twenty-server';
}

/**
 * What the resource holds when the environment says nothing else; detected
 * attributes (OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES) are merged over it
 * and win. Every process gets its own service.instance.id (a UUID v4, as the
 * semantic conventions recommend): replicas of one service would otherwise
 * export identical series, which Prometheus reads as one counter resetting.
 */
export function defaultResourceAttributes(serviceName: string): Record<string, string> {
  return {
    [RESOURCE.SERVICE_NAME]: serviceName,
    [RESOURCE.SERVICE_INSTANCE_ID]: randomUUID(),
    [RESOURCE.TELEMETRY_DISTRO_NAME]: SCOPE_NAME,
  };
}

export function startSdk(options: SdkOptions): SdkHandle {
  const { settings } = options;
  const detected = resources.detectResources({
    detectors: [resources.envDetector, resources.processDetector, resources.hostDetector],
  });
  const resource = resources
    .resourceFromAttributes(defaultResourceAttributes(options.defaultServiceName))
    .merge(detected);

  const endpoint = (signal: 'traces' | 'metrics') =>
    settings.defaultEndpointForced ? { url: `http://localhost:4318/v1/${signal}` } : {};
  const spanProcessors: tracing.SpanProcessor[] = [];
  const spanExporter =
    options.spanExporter ??
    (settings.tracesExporter === 'none'
      ? undefined
      : settings.tracesExporter === 'console'
        ? new tracing.ConsoleSpanExporter()
        : settings.protocol === 'http/json'
          ? new OTLPTraceExporterJson()
          : new OTLPTraceExporterProto());
  const log = options.log ?? (() => undefined);
  const readers: sdkMetrics.MetricReader[] = [];
  const histogramProducers: ExactHistogramProducer[] = [];
  let plainReader = false;
  const withProducer = (build: MetricReaderFactory) => {
    const producer = new ExactHistogramProducer(resource);
    const reader = build([producer]);
    producer.useTemporalityOf(reader);
    readers.push(reader);
    histogramProducers.push(producer);
  };
  if (typeof options.metricReader === 'function') withProducer(options.metricReader);
  else if (options.metricReader) {
    readers.push(options.metricReader);
    plainReader = true;
  } else if (settings.metricsExporter !== 'none') {
    const exporter =
      settings.metricsExporter === 'console'
        ? new sdkMetrics.ConsoleMetricExporter()
        : settings.protocol === 'http/json'
          ? new OTLPMetricExporterJson(endpoint('metrics'))
          : new OTLPMetricExporterProto(endpoint('metrics'));
    withProducer(
      (metricProducers) =>
        new sdkMetrics.PeriodicExportingMetricReader({
          exporter: withExportFailureReporting(exporter, 'metrics', log),
          exportIntervalMillis: settings.metricExportIntervalMs,
          exportTimeoutMillis: Math.min(30_000, settings.metricExportIntervalMs),
          metricProducers,
        }),
    );
  }
  const meterProvider = new sdkMetrics.MeterProvider({ resource, readers });

  // The processor counts the spans it drops on a full queue into our meter (exported with our metrics); the line makes them visible without a backend.
  const spanDrops = new SpanQueueDropReporter(log, settings.bsp.maxQueueSize);
  if (spanExporter) {
    const processorConfig: tracing.BufferConfig & { selfObsMeterProvider: ApiMeterProvider } = {
      ...settings.bsp,
      selfObsMeterProvider: withSpanDropCounting(meterProvider, (count) => spanDrops.dropped(count)),
    };
    spanProcessors.push(
      new tracing.BatchSpanProcessor(withExportFailureReporting(spanExporter, 'traces', log), processorConfig),
    );
  }
  const tracerProvider = new tracing.BasicTracerProvider({ resource, spanProcessors });

  return {
    tracerProvider,
    meterProvider,
    histogramProducers: plainReader ? [] : histogramProducers,
    unsampledParentDecides: samplerKeepsUnsampledParent(core.getStringFromEnv('OTEL_TRACES_SAMPLER')),
    // Drops are printed before waiting on an exporter that may hang, and again for any that happened meanwhile.
    async forceFlush() {
      spanDrops.flush();
      await Promise.allSettled([
        tracerProvider.forceFlush().finally(() => spanDrops.flush()),
        meterProvider.forceFlush(),
      ]);
    },
    async shutdown() {
      spanDrops.flush();
      await Promise.allSettled([tracerProvider.shutdown().finally(() => spanDrops.flush()), meterProvider.shutdown()]);
    },
  };
}
