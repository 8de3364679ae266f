import {
  Attributes,
  Counter,
  Histogram,
  Meter,
  MeterProvider,
  Tracer,
  TracerProvider,
  metrics,
  trace,
} from '@opentelemetry/api';
import { DEFAULT_CONFIG, TwentySseConfig } from './config';
import { ATTR, DropReason, METRIC, Origin, Outcome, SCOPE_NAME, Stage } from './semconv';
import { VERSION } from './version';

export type TargetStatus = 'found' | 'missing';

/** One line of the exact in-process tally: how many units of a stage ended in one outcome. */
export interface TallyRow {
  stage: Stage;
  origin: Origin;
  outcome: Outcome;
  reason?: DropReason;
  count: number;
}

export interface TelemetryOptions {
  config?: Partial<TwentySseConfig>;
  tracerProvider?: TracerProvider;
  meterProvider?: MeterProvider;
  /** Where one-line messages go (startup report, config problems, faults). Default: stderr. */
  log?: (line: string) => void;
}

const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
const FAULT_LOG_INTERVAL_MS = 60_000;

/**
 * The instruments and the exact tally. One instance per process, created by
 * the register entry, the Nest module or a test.
 */
export class Telemetry {
  readonly config: TwentySseConfig;
  readonly tracer: Tracer;
  readonly meter: Meter;
  private readonly stageEvents: Counter;
  private readonly stageDuration: Histogram;
  private readonly deliveryLatency: Histogram;
  private readonly instrumentationErrors: Counter;
  private readonly tally = new Map<string, TallyRow>();
  private readonly targets = new Map<string, { className: string; method: string; status: TargetStatus }>();
  private readonly faultLoggedAt = new Map<string, number>();
  private readonly faultCounts = new Map<string, number>();
  readonly log: (line: string) => void;

  constructor(options: TelemetryOptions = {}) {
    this.config = { ...DEFAULT_CONFIG, ...options.config };
    this.log = options.log ?? ((line) => process.stderr.write(`[twenty-sse-otel] ${line}\n`));
    const tracerProvider = options.tracerProvider ?? trace.getTracerProvider();
    const meterProvider = options.meterProvider ?? metrics.getMeterProvider();
    this.tracer = tracerProvider.getTracer(SCOPE_NAME, VERSION);
    this.meter = meterProvider.getMeter(SCOPE_NAME, VERSION);
    this.stageEvents = this.meter.createCounter(METRIC.STAGE_EVENTS, {
      description: 'Units that ended a pipeline stage, by outcome and drop reason (events; event x stream pairs for the stream stage).',
      unit: '{event}',
    });
    this.stageDuration = this.meter.createHistogram(METRIC.STAGE_DURATION, {
      description: 'Duration of one invocation of a pipeline stage.',
      unit: 's',
      advice: { explicitBucketBoundaries: LATENCY_BUCKETS },
    });
    this.deliveryLatency = this.meter.createHistogram(METRIC.DELIVERY_LATENCY, {
      description: 'Time from the Redis publish of an event to its hand-over to an SSE connection, one observation per delivered event.',
      unit: 's',
      advice: { explicitBucketBoundaries: LATENCY_BUCKETS },
    });
    this.instrumentationErrors = this.meter.createCounter(METRIC.INSTRUMENTATION_ERRORS, {
      description: 'Faults inside the instrumentation that were swallowed so Twenty kept working.',
    });
    this.meter
      .createObservableGauge(METRIC.INSTRUMENTATION_TARGETS, {
        description: 'Twenty methods the instrumentation looked for: 1 per class.method and status.',
      })
      .addCallback((result) => {
        for (const target of this.targets.values()) {
          result.observe(1, {
            [ATTR.TARGET_CLASS]: target.className,
            [ATTR.TARGET_METHOD]: target.method,
            [ATTR.TARGET_STATUS]: target.status,
          });
        }
      });
  }

  /** Adds `count` units that ended `stage` with `outcome`. Exact: independent of span sampling. */
  recordUnits(stage: Stage, origin: Origin, outcome: Outcome, count: number, reason?: DropReason): void {
    if (count <= 0) return;
    const attributes: Attributes = {
      [ATTR.STAGE]: stage,
      [ATTR.ORIGIN]: origin,
      [ATTR.OUTCOME]: outcome,
    };
    if (outcome === 'dropped') attributes[ATTR.DROP_REASON] = reason ?? 'unattributed';
    this.stageEvents.add(count, attributes);
    const key = `${stage}|${origin}|${outcome}|${outcome === 'dropped' ? reason ?? 'unattributed' : ''}`;
    const row = this.tally.get(key);
    if (row) row.count += count;
    else
      this.tally.set(key, {
        stage,
        origin,
        outcome,
        ...(outcome === 'dropped' ? { reason: reason ?? 'unattributed' } : {}),
        count,
      });
  }

  recordDuration(stage: Stage, origin: Origin, outcome: Outcome, seconds: number): void {
    this.stageDuration.record(seconds, { [ATTR.STAGE]: stage, [ATTR.ORIGIN]: origin, [ATTR.OUTCOME]: outcome });
  }

  recordDeliveryLatency(origin: Origin, seconds: number): void {
    this.deliveryLatency.record(seconds, { [ATTR.ORIGIN]: origin });
  }

  /** Counts a swallowed instrumentation fault; logs it at most once a minute per component. */
  fault(component: string, error: unknown): void {
    try {
      this.instrumentationErrors.add(1, { [ATTR.COMPONENT]: component });
      this.faultCounts.set(component, (this.faultCounts.get(component) ?? 0) + 1);
      const now = Date.now();
      const last = this.faultLoggedAt.get(component) ?? 0;
      if (now - last >= FAULT_LOG_INTERVAL_MS) {
        this.faultLoggedAt.set(component, now);
        const message = error instanceof Error ? error.message : String(error);
        this.log(`instrumentation fault in ${component} (swallowed, Twenty unaffected): ${message}`);
      }
    } catch {
      // the last line of defence: never let telemetry reach the app
    }
  }

  faultCount(component?: string): number {
    if (component) return this.faultCounts.get(component) ?? 0;
    let total = 0;
    for (const count of this.faultCounts.values()) total += count;
    return total;
  }

  setTargetStatus(className: string, method: string, status: TargetStatus): void {
    const key = `${className}.${method}`;
    const existing = this.targets.get(key);
    if (existing?.status === 'found') return;
    this.targets.set(key, { className, method, status });
  }

  targetStatuses(): { className: string; method: string; status: TargetStatus }[] {
    return [...this.targets.values()];
  }

  /** A copy of the exact tally, for the demo, the doctor's self-check and tests. */
  tallyRows(): TallyRow[] {
    return [...this.tally.values()].map((row) => ({ ...row }));
  }

  resetTally(): void {
    this.tally.clear();
  }
}

let active: Telemetry | undefined;

export function setActiveTelemetry(telemetry: Telemetry | undefined): void {
  active = telemetry;
}

export function getActiveTelemetry(): Telemetry | undefined {
  return active;
}
