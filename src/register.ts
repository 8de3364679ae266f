/**
 * Zero-code entry for Twenty's two processes, CommonJS or ESM builds alike:
 *
 *   NODE_OPTIONS="--require opentelemetry-instrumentation-twenty-sse/register"
 *   (or "--import opentelemetry-instrumentation-twenty-sse/register")
 *   TWENTY_SSE_OTEL_ENABLED=true
 *
 * With TWENTY_SSE_OTEL_ENABLED unset or false this file patches nothing and
 * registers nothing (no hook, no provider); it only prints one line saying so,
 * once per process. Loading it twice is harmless. It acts on the main thread
 * only: Node 20 also runs preloads in its module-loader thread, where there is
 * no app to instrument.
 */
import { isMainThread } from 'worker_threads';
import { readConfigFromEnv } from './config';
import type { Runtime } from './runtime';
import { ENV } from './semconv';

const FLUSH_TIMEOUT_MS = 2_000;

// Only the tiny config reader is loaded up front: the SDK and everything else
// are required only when enabled (or when a variable needs its one-line report).
const { config, problems } = readConfigFromEnv();
const runtime: Runtime | undefined =
  isMainThread && (config.enabled || problems.length > 0)
    ? (require('./runtime') as typeof import('./runtime')).startInstrumentation({ loadHook: true })
    : undefined;

// Loaded but off is easy to miss (nothing happens and nothing says why): one line on stderr, once per
// process even when two copies of the package load it. A bad value of the variable already got its own line.
const DISABLED_NOTICE_KEY = Symbol.for('opentelemetry-instrumentation-twenty-sse.disabled-notice');
type GlobalWithNotice = typeof globalThis & { [DISABLED_NOTICE_KEY]?: true };
if (
  isMainThread &&
  !config.enabled &&
  !problems.some((problem) => problem.variable === ENV.ENABLED) &&
  !(globalThis as GlobalWithNotice)[DISABLED_NOTICE_KEY]
) {
  (globalThis as GlobalWithNotice)[DISABLED_NOTICE_KEY] = true;
  const value = process.env[ENV.ENABLED];
  const state = value === undefined ? ' is not set' : `=${JSON.stringify(value)}`;
  process.stderr.write(
    `[twenty-sse-otel] loaded but disabled (${ENV.ENABLED}${state}): nothing is instrumented; set ${ENV.ENABLED}=true to enable it.\n`,
  );
}

if (runtime) {
  const bounded = (work: Promise<void>) =>
    Promise.race([work, new Promise<void>((resolve) => setTimeout(resolve, FLUSH_TIMEOUT_MS).unref())]);
  const flush = () => bounded(runtime.forceFlush());

  // When the event loop drains: flush, then stop our exporters so their timers never keep the process alive.
  process.once('beforeExit', () => {
    void flush().finally(() => bounded(runtime.shutdown()));
  });

  // On SIGTERM/SIGINT, flush, then let the signal do what it would have done
  // without us: the app's own handlers still run; if there are none, the
  // process still ends by that signal.
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    const onSignal = () => {
      const othersListen = process.listenerCount(signal) > 0;
      // SSE connections still open are ended by this shutdown: count them now, so the flush carries them.
      runtime.telemetry.connections.shutdown();
      void flush().finally(() => {
        if (!othersListen) process.kill(process.pid, signal);
      });
    };
    process.once(signal, onSignal);
  }
}
