import {
  Attributes,
  Counter,
  diag,
  Histogram,
  Meter,
  MeterProvider,
  ObservableResult,
  Tracer,
  TracerProvider,
  metrics,
  trace,
} from '@opentelemetry/api';
import { DEFAULT_CONFIG, TwentySseConfig } from '../config';
import {
  ATTR,
  DROP_REASON_NAMES,
  DropReason,
  METRIC,
  ORIGINS,
  OUTCOMES,
  Origin,
  Outcome,
  SCOPE_NAME,
  STAGES,
  Stage,
} from '../semconv';
import { VERSION } from '../version';
import { ConnectionHealth } from './connections';
import { ExactHistogram, ExactHistogramProducer } from './histograms';

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
  /** A tracer / meter to use as they are (the instrumentation class passes the ones InstrumentationBase manages). */
  tracer?: Tracer;
  meter?: Meter;
  /** Where one-line messages go (startup report, config problems, faults). Default: stderr. */
  log?: (line: string) => void;
  /**
   * MetricProducers already attached to the package's own MetricReader(s). When given, the two
   * histograms are aggregated here and exported through them instead of the meter's sync Histogram.
   */
  histogramProducers?: ExactHistogramProducer[];
  /**
   * True only when the tracer's sampler is known to follow an unsampled parent (a parent-based sampler, or
   * always_off): stages under an unsampled parent then skip span creation. Leave unset for a tracer whose
   * sampler is unknown.
   */
  unsampledParentDecides?: boolean;
}

/** Cumulative count of one (stage, origin, outcome, reason), with its metric attributes built once. */
interface CountRow {
  stage: Stage;
  origin: Origin;
  outcome: Outcome;
  reason?: DropReason;
  count: number;
  /** `count` when resetTally() last ran: tallyRows() reports what came after. */
  baseline: number;
  attributes: Attributes;
}

function indexOf<T extends string>(names: readonly T[]): Record<string, number> {
  const index: Record<string, number> = Object.create(null);
  names.forEach((name, i) => {
    index[name] = i;
  });
  return index;
}

const STAGE_INDEX = indexOf(STAGES);
const ORIGIN_INDEX = indexOf(ORIGINS);
const OUTCOME_INDEX = indexOf(OUTCOMES);
// 0 = no reason (forwarded, failed); dropped units always carry one
const REASON_INDEX = indexOf(['', ...DROP_REASON_NAMES]);
const REASON_SLOTS = DROP_REASON_NAMES.length + 1;

/** A dense slot number for (stage, origin, outcome[, reason]), or -1 for a name outside semconv. */
function slotOf(stage: string, origin: string, outcome: string, reason: string): number {
  const s = STAGE_INDEX[stage];
  const o = ORIGIN_INDEX[origin];
  const out = OUTCOME_INDEX[outcome];
  const r = REASON_INDEX[reason];
  if (s === undefined || o === undefined || out === undefined || r === undefined) return -1;
  return ((s * ORIGINS.length + o) * OUTCOMES.length + out) * REASON_SLOTS + r;
}

const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
const DURATION_DEFINITION = {
  name: METRIC.STAGE_DURATION,
  description: 'Duration of one invocation of a pipeline stage.',
  unit: 's',
  boundaries: LATENCY_BUCKETS,
};
const LATENCY_DEFINITION = {
  name: METRIC.DELIVERY_LATENCY,
  description:
    'Time from the Redis publish of an event to its hand-over to an SSE connection, one observation per delivered event.',
  unit: 's',
  boundaries: LATENCY_BUCKETS,
};
const FAULT_LOG_INTERVAL_MS = 60_000;
const DIAG = diag.createComponentLogger({ namespace: SCOPE_NAME });

/**
 * The instruments and the exact tally. One instance per process, created by
 * the register entry, the Nest module or a test.
 */
export class Telemetry {
  readonly config: TwentySseConfig;
  /** Replaced by useTracer() when the instrumentation is given another tracer provider. */
  tracer: Tracer;
  meter: Meter;
  // Either the package's own aggregation (exported by its MetricProducers) or the meter's sync histograms.
  private readonly exactDuration: ExactHistogram | undefined;
  private readonly exactLatency: ExactHistogram | undefined;
  private stageDuration: Histogram | undefined;
  private deliveryLatency: Histogram | undefined;
  private readonly latencyAttributes = new Map<string, { slot: number; attributes: Attributes }>();
  private readonly extraDurationSlots = new Map<string, number>();
  private instrumentationErrors!: Counter;
  private unbindMeter: () => void = () => undefined;
  // The exact per-stage counts. twenty.sse.stage.events is observed from here at collection time, so the
  // hot path adds to a number instead of hashing an attribute set per measurement.
  private readonly rows: (CountRow | undefined)[] = [];
  private readonly rowList: CountRow[] = [];
  private readonly otherRows = new Map<string, CountRow>();
  private readonly durationAttributes: (Attributes | undefined)[] = [];
  private readonly targets = new Map<string, { className: string; method: string; status: TargetStatus }>();
  private readonly faultLoggedAt = new Map<string, number>();
  private readonly faultCounts = new Map<string, number>();
  readonly log: (line: string) => void;
  /** The SSE connections of event streams in this process (API server). */
  readonly connections = new ConnectionHealth();
  private noSubscriberCountNote: string | undefined;
  /** See TelemetryOptions.unsampledParentDecides; cleared when another tracer is put in (its sampler is unknown). */
  unsampledParentDecides: boolean;
  /** The Twenty generation in use, for the `twenty.generation` span attribute; set by whoever knows it. */
  generationName: () => string | undefined = () => undefined;

  constructor(options: TelemetryOptions = {}) {
    this.config = { ...DEFAULT_CONFIG, ...options.config };
    this.log = options.log ?? ((line) => process.stderr.write(`[twenty-sse-otel] ${line}\n`));
    this.tracer =
      options.tracer ?? (options.tracerProvider ?? trace.getTracerProvider()).getTracer(SCOPE_NAME, VERSION);
    this.unsampledParentDecides = options.unsampledParentDecides === true;
    const producers = options.histogramProducers ?? [];
    if (producers.length > 0) {
      this.exactDuration = new ExactHistogram(DURATION_DEFINITION);
      this.exactLatency = new ExactHistogram(LATENCY_DEFINITION);
      for (const producer of producers) producer.bind([this.exactDuration, this.exactLatency]);
    }
    this.meter = options.meter ?? (options.meterProvider ?? metrics.getMeterProvider()).getMeter(SCOPE_NAME, VERSION);
    this.useMeter(this.meter);
  }

  useTracer(tracer: Tracer): void {
    this.tracer = tracer;
    this.unsampledParentDecides = false;
  }

  /**
   * (Re)creates the instruments on `meter`. The counts live here, not in the
   * instruments, so nothing counted before is lost; the previous meter stops
   * observing them.
   */
  useMeter(meter: Meter): void {
    this.unbindMeter();
    this.meter = meter;
    const stageEvents = meter.createObservableCounter(METRIC.STAGE_EVENTS, {
      description:
        'Units that ended a pipeline stage, by outcome and drop reason (events; event x stream pairs for the stream stage).',
      unit: '{event}',
    });
    const observeStageEvents = (result: ObservableResult) => {
      for (const row of this.rowList) result.observe(row.count, row.attributes);
    };
    stageEvents.addCallback(observeStageEvents);
    if (!this.exactDuration) {
      const histogram = (definition: { name: string; description: string; unit: string; boundaries: number[] }) =>
        meter.createHistogram(definition.name, {
          description: definition.description,
          unit: definition.unit,
          advice: { explicitBucketBoundaries: [...definition.boundaries] },
        });
      this.stageDuration = histogram(DURATION_DEFINITION);
      this.deliveryLatency = histogram(LATENCY_DEFINITION);
    }
    this.instrumentationErrors = meter.createCounter(METRIC.INSTRUMENTATION_ERRORS, {
      description: 'Faults inside the instrumentation that were swallowed so Twenty kept working.',
    });
    const targets = meter.createObservableGauge(METRIC.INSTRUMENTATION_TARGETS, {
      description: 'Twenty methods the instrumentation looked for: 1 per class.method and status.',
    });
    const observeTargets = (result: ObservableResult) => {
      for (const target of this.targets.values()) {
        result.observe(1, {
          [ATTR.TARGET_CLASS]: target.className,
          [ATTR.TARGET_METHOD]: target.method,
          [ATTR.TARGET_STATUS]: target.status,
        });
      }
    };
    targets.addCallback(observeTargets);
    const unbindConnections = this.connections.bindMeter(meter);
    this.unbindMeter = () => {
      stageEvents.removeCallback(observeStageEvents);
      targets.removeCallback(observeTargets);
      unbindConnections();
    };
  }

  /**
   * Says once per process that the pub/sub client in use reports no
   * subscriber count for a publish, so the pubsub stage cannot tell
   * no_live_connection and counts every publish as forwarded.
   */
  noteNoSubscriberCount(clientName: string): void {
    if (this.noSubscriberCountNote) return;
    this.noSubscriberCountNote = `the pub/sub client (${clientName}) reports no subscriber count for a publish: the pubsub stage counts every event-stream publish as forwarded and cannot see no_live_connection (graphql-redis-subscriptions' RedisPubSub over ioredis can)`;
    this.log(this.noSubscriberCountNote);
  }

  /** The line noteNoSubscriberCount() logged, if it did. */
  get subscriberCountNote(): string | undefined {
    return this.noSubscriberCountNote;
  }

  /** Adds `count` units that ended `stage` with `outcome`. Exact: independent of span sampling. */
  recordUnits(stage: Stage, origin: Origin, outcome: Outcome, count: number, reason?: DropReason): void {
    if (count <= 0) return;
    const why = outcome === 'dropped' ? (reason ?? 'unattributed') : '';
    const slot = slotOf(stage, origin, outcome, why);
    let row = slot >= 0 ? this.rows[slot] : this.otherRows.get(`${stage}|${origin}|${outcome}|${why}`);
    if (!row) row = this.addRow(slot, stage, origin, outcome, why);
    row.count += count;
  }

  private addRow(slot: number, stage: Stage, origin: Origin, outcome: Outcome, why: string): CountRow {
    const attributes: Attributes = { [ATTR.STAGE]: stage, [ATTR.ORIGIN]: origin, [ATTR.OUTCOME]: outcome };
    if (why) attributes[ATTR.DROP_REASON] = why;
    const row: CountRow = { stage, origin, outcome, count: 0, baseline: 0, attributes };
    if (why) row.reason = why as DropReason;
    if (slot >= 0) this.rows[slot] = row;
    else this.otherRows.set(`${stage}|${origin}|${outcome}|${why}`, row);
    this.rowList.push(row);
    return row;
  }

  recordDuration(stage: Stage, origin: Origin, outcome: Outcome, seconds: number): void {
    let slot = slotOf(stage, origin, outcome, '');
    if (slot < 0) slot = this.extraSlot(`${stage}|${origin}|${outcome}`);
    let attributes = this.durationAttributes[slot];
    if (!attributes) {
      attributes = { [ATTR.STAGE]: stage, [ATTR.ORIGIN]: origin, [ATTR.OUTCOME]: outcome };
      this.durationAttributes[slot] = attributes;
    }
    if (this.exactDuration) this.exactDuration.record(slot, attributes, seconds);
    else this.stageDuration?.record(seconds, attributes);
  }

  recordDeliveryLatency(origin: Origin, seconds: number): void {
    let series = this.latencyAttributes.get(origin);
    if (!series) {
      series = { slot: this.latencyAttributes.size, attributes: { [ATTR.ORIGIN]: origin } };
      this.latencyAttributes.set(origin, series);
    }
    if (this.exactLatency) this.exactLatency.record(series.slot, series.attributes, seconds);
    else this.deliveryLatency?.record(seconds, series.attributes);
  }

  // Series numbers past the dense range, for names outside semconv (a decorator's custom stage, say).
  private extraSlot(key: string): number {
    let slot = this.extraDurationSlots.get(key);
    if (slot === undefined) {
      slot = STAGES.length * ORIGINS.length * OUTCOMES.length * REASON_SLOTS + this.extraDurationSlots.size;
      this.extraDurationSlots.set(key, slot);
    }
    return slot;
  }

  /**
   * Counts a swallowed instrumentation fault and reports it through OpenTelemetry's `diag` (seen with
   * OTEL_LOG_LEVEL=warn or any diag logger the app installed), at most once a minute per component.
   */
  fault(component: string, error: unknown): void {
    try {
      this.instrumentationErrors.add(1, { [ATTR.COMPONENT]: component });
      this.faultCounts.set(component, (this.faultCounts.get(component) ?? 0) + 1);
      const now = Date.now();
      const last = this.faultLoggedAt.get(component) ?? 0;
      if (now - last >= FAULT_LOG_INTERVAL_MS) {
        this.faultLoggedAt.set(component, now);
        const message = error instanceof Error ? error.message : String(error);
        DIAG.warn(`instrumentation fault in ${component} (swallowed, Twenty unaffected): ${message}`);
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
    const rows: TallyRow[] = [];
    for (const row of this.rowList) {
      const count = row.count - row.baseline;
      if (count <= 0) continue;
      const copy: TallyRow = { stage: row.stage, origin: row.origin, outcome: row.outcome, count };
      if (row.reason) copy.reason = row.reason;
      rows.push(copy);
    }
    return rows;
  }

  /** Starts the tally view over (tests, the demo); the exported counter stays cumulative. */
  resetTally(): void {
    for (const row of this.rowList) row.baseline = row.count;
    this.connections.resetSnapshot();
  }
}

let active: Telemetry | undefined;

export function setActiveTelemetry(telemetry: Telemetry | undefined): void {
  active = telemetry;
}

export function getActiveTelemetry(): Telemetry | undefined {
  return active;
}
