/**
 * Exporter failures are otherwise silent (the SDK only reports them through
 * diag, which Twenty does not install). This wraps an exporter so a failure is
 * logged once per interval per signal, and the recovery once, without ever
 * touching what the SDK sees.
 */
export interface ExportResultLike {
  code: number;
  error?: Error;
}

interface ExporterLike<T> {
  export(items: T, resultCallback: (result: ExportResultLike) => void): void;
}

export const EXPORT_FAILURE_LOG_INTERVAL_MS = 60_000;

export function withExportFailureReporting<E extends ExporterLike<unknown>>(
  exporter: E,
  signal: 'traces' | 'metrics',
  log: (line: string) => void,
  intervalMs = EXPORT_FAILURE_LOG_INTERVAL_MS,
): E {
  let lastLoggedAt = -Infinity;
  let failing = false;
  let suppressed = 0;
  const report = (result: ExportResultLike) => {
    try {
      if (result.code === 0) {
        if (failing)
          log(`${signal} export recovered${suppressed > 0 ? ` after ${suppressed} more failed exports` : ''}.`);
        failing = false;
        suppressed = 0;
        return;
      }
      failing = true;
      const now = Date.now();
      if (now - lastLoggedAt >= intervalMs) {
        lastLoggedAt = now;
        log(
          `${signal} export failed (Twenty unaffected; data is buffered up to the queue limits, then dropped): ${result.error?.message ?? 'unknown error'}`,
        );
        suppressed = 0;
      } else suppressed++;
    } catch {
      // never let reporting reach the SDK
    }
  };
  return new Proxy(exporter, {
    get(target, property, receiver) {
      if (property === 'export') {
        return (items: unknown, resultCallback: (result: ExportResultLike) => void) =>
          target.export(items, (result) => {
            report(result);
            resultCallback(result);
          });
      }
      const value = Reflect.get(target, property, receiver);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}
