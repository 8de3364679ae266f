import { diag, MeterProvider, TracerProvider } from '@opentelemetry/api';
import { metrics as sdkMetrics, tracing } from '@opentelemetry/sdk-node';
import { readConfigFromEnv, TwentySseConfig } from './config';
import { registerEsmHook } from './esm-hook';
import { TwentySseInstrumentation } from './instrumentation';
import { readOtelEnv } from './otel/otel-env';
import { SCOPE_NAME } from './semconv';
import { defaultServiceName, MetricReaderFactory, SdkHandle, startSdk } from './otel/sdk';
import { Instrumenter } from './twenty/instrumenter';
import { setActiveTelemetry, Telemetry } from './otel/telemetry';

/** Everything one process runs: telemetry, the instrumentation (and its instrumenter), optionally our SDK. */
export interface Runtime {
  telemetry: Telemetry;
  instrumentation: TwentySseInstrumentation;
  instrumenter: Instrumenter;
  sdk?: SdkHandle;
  /** Logs the startup report line (found/missing targets) and refreshes the targets metric. */
  report(): string;
  forceFlush(): Promise<void>;
  shutdown(): Promise<void>;
}

export interface StartOptions {
  env?: NodeJS.ProcessEnv;
  /** Overrides of the env-derived config (the Nest module and tests use this). */
  config?: Partial<TwentySseConfig>;
  /** Use these providers instead of building our own SDK from OTEL_* env. */
  tracerProvider?: TracerProvider;
  meterProvider?: MeterProvider;
  /** Keep our SDK but replace its exporters (demo, tests, bench). A factory gets the histogram producers to attach. */
  spanExporter?: tracing.SpanExporter;
  metricReader?: sdkMetrics.MetricReader | MetricReaderFactory;
  /** Enable the instrumentation's Nest module hook (zero-code path). */
  loadHook?: boolean;
  log?: (line: string) => void;
}

const RUNTIME_KEY = Symbol.for('opentelemetry-instrumentation-twenty-sse.runtime');
type GlobalWithRuntime = typeof globalThis & { [RUNTIME_KEY]?: Runtime };

export function activeRuntime(): Runtime | undefined {
  return (globalThis as GlobalWithRuntime)[RUNTIME_KEY];
}

/**
 * Starts the instrumentation once per process. Returns undefined when it is
 * disabled (TWENTY_SSE_OTEL_ENABLED unset/false, or OTEL_SDK_DISABLED=true):
 * then nothing is patched and nothing is registered. Never throws.
 */
export function startInstrumentation(options: StartOptions = {}): Runtime | undefined {
  const existing = activeRuntime();
  if (existing) return existing;
  const env = options.env ?? process.env;
  const log = options.log ?? ((line: string) => process.stderr.write(`[twenty-sse-otel] ${line}\n`));
  try {
    const { config, problems } = readConfigFromEnv(env);
    const merged: TwentySseConfig = { ...config, ...options.config };
    for (const problem of problems) log(problem.message);
    if (!merged.enabled) return undefined;
    // OTEL_* belong to everyone in the process: only judged once this package is on.
    const otel = readOtelEnv(env);
    for (const problem of otel.problems) log(problem.message);
    if (otel.settings.sdkDisabled && !options.tracerProvider) {
      log('OTEL_SDK_DISABLED=true: instrumentation stays off.');
      return undefined;
    }

    const sdk =
      options.tracerProvider && options.meterProvider
        ? undefined
        : startSdk({
            settings: otel.settings,
            defaultServiceName: defaultServiceName(),
            spanExporter: options.spanExporter,
            metricReader: options.metricReader,
            log,
          });
    const telemetry = new Telemetry({
      config: merged,
      tracerProvider: options.tracerProvider ?? sdk?.tracerProvider,
      meterProvider: options.meterProvider ?? sdk?.meterProvider,
      histogramProducers: options.meterProvider ? undefined : sdk?.histogramProducers,
      unsampledParentDecides: !options.tracerProvider && sdk?.unsampledParentDecides === true,
      log,
    });
    setActiveTelemetry(telemetry);
    // The same class NodeSDK users add, here with the private providers; hooks only on the zero-code path.
    const instrumentation = new TwentySseInstrumentation(
      { enabled: false, generation: merged.generation, captureIds: merged.captureIds },
      { telemetry, log },
    );
    if (options.loadHook) {
      instrumentation.enable();
      // ESM imports of @nestjs/core reach the same module hook through the loader.
      if (!registerEsmHook()) {
        diag.warn(
          `${SCOPE_NAME}: this Node has no module.register, ES module imports of @nestjs/core cannot be hooked (CommonJS apps are unaffected)`,
        );
      }
    }
    const runtime: Runtime = {
      telemetry,
      instrumentation,
      instrumenter: instrumentation.instrumenter,
      sdk,
      report: () => instrumentation.report(),
      forceFlush: async () => {
        await sdk?.forceFlush();
      },
      shutdown: async () => {
        telemetry.connections.shutdown();
        // Every patched method back as Twenty and Nest defined it.
        instrumentation.disable();
        await sdk?.shutdown();
        if ((globalThis as GlobalWithRuntime)[RUNTIME_KEY] === runtime)
          delete (globalThis as GlobalWithRuntime)[RUNTIME_KEY];
        setActiveTelemetry(undefined);
      },
    };
    (globalThis as GlobalWithRuntime)[RUNTIME_KEY] = runtime;
    return runtime;
  } catch (error) {
    log(
      `could not start (Twenty is unaffected, instrumentation stays off): ${error instanceof Error ? error.message : String(error)}`,
    );
    return undefined;
  }
}
