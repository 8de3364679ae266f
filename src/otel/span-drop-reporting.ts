/**
 * The BatchSpanProcessor drops a finished span when its queue is full (spans
 * end faster than the exporter sends them, e.g. every span sampled under a
 * burst). The SDK only reports that through diag, which Twenty does not
 * install, so the loss would be silent.
 *
 * The SDK counts those drops itself when given a "self-observability" meter
 * provider: `otel.sdk.processor.span.processed` with `error.type=queue_full`
 * (OpenTelemetry semantic conventions for SDK metrics). The package hands it
 * its own MeterProvider, so that metric is exported with the package's, and
 * listens to the adds on that one counter to print a line with the count.
 */
import type { Attributes, Counter, Meter, MeterProvider, MeterOptions, MetricOptions } from '@opentelemetry/api';
import { ATTR, ERROR_TYPE_QUEUE_FULL, SDK_METRIC } from '../semconv';

export const SPAN_DROP_LOG_INTERVAL_MS = 60_000;

/** Sums drops and logs them at most once per interval: the first at once, the rest at the interval's end. */
export class SpanQueueDropReporter {
  private total = 0;
  private pending = 0;
  private lastLoggedAt = -Infinity;
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly log: (line: string) => void,
    private readonly maxQueueSize: number,
    private readonly intervalMs = SPAN_DROP_LOG_INTERVAL_MS,
  ) {}

  /** Spans dropped since the process started. */
  get droppedTotal(): number {
    return this.total;
  }

  dropped(count: number): void {
    if (!(count > 0)) return;
    this.total += count;
    this.pending += count;
    if (this.timer) return;
    const wait = this.lastLoggedAt + this.intervalMs - Date.now();
    if (wait <= 0) this.report();
    else {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.report();
      }, wait);
      // a pending line must not keep the process alive; flush() prints it on the way out
      this.timer.unref?.();
    }
  }

  /** Prints what is pending now (flush and shutdown: the last drops of a process are never silent). */
  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.report();
  }

  private report(): void {
    if (this.pending === 0) return;
    this.lastLoggedAt = Date.now();
    const count = this.pending;
    this.pending = 0;
    try {
      this.log(
        `${count} span${count === 1 ? '' : 's'} dropped: the span queue was full (${this.maxQueueSize} spans; spans ended faster than the exporter sent them). ` +
          `Counters stay exact and Twenty is unaffected; only traces are incomplete. ` +
          `Sample fewer spans (OTEL_TRACES_SAMPLER_ARG), raise OTEL_BSP_MAX_QUEUE_SIZE or check the collector. ` +
          `${this.total} dropped since start (${SDK_METRIC.SPAN_PROCESSED}{${ATTR.ERROR_TYPE}="${ERROR_TYPE_QUEUE_FULL}"}); ` +
          `further drops are summed and reported at most once every ${Math.round(this.intervalMs / 1000)} s.`,
      );
    } catch {
      // reporting must never reach the SDK
    }
  }
}

/**
 * A MeterProvider for the span processor's self-metrics: everything goes to
 * `provider` unchanged, and every add of `queue_full` on
 * `otel.sdk.processor.span.processed` is also passed to `onDrop`.
 */
export function withSpanDropCounting(provider: MeterProvider, onDrop: (count: number) => void): MeterProvider {
  const watch = (counter: Counter): Counter => ({
    add(value: number, attributes?: Attributes, context?: Parameters<Counter['add']>[2]) {
      counter.add(value, attributes, context);
      try {
        if (attributes?.[ATTR.ERROR_TYPE] === ERROR_TYPE_QUEUE_FULL) onDrop(value);
      } catch {
        // never let reporting reach the SDK
      }
    },
  });
  return {
    getMeter(name: string, version?: string, options?: MeterOptions): Meter {
      const meter = provider.getMeter(name, version, options);
      return new Proxy(meter, {
        get(target, property, receiver) {
          if (property === 'createCounter') {
            return (counterName: string, counterOptions?: MetricOptions) => {
              const counter = target.createCounter(counterName, counterOptions);
              return counterName === SDK_METRIC.SPAN_PROCESSED ? watch(counter) : counter;
            };
          }
          const value = Reflect.get(target, property, receiver);
          return typeof value === 'function' ? value.bind(target) : value;
        },
      });
    },
  };
}
