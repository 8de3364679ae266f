import {
  Attributes,
  Context,
  Link,
  Span,
  SpanKind,
  SpanOptions,
  SpanStatusCode,
  TraceFlags,
  context as otelContext,
  isSpanContextValid,
  trace,
} from '@opentelemetry/api';
import { Telemetry } from '../otel/telemetry';
import { ATTR, DropReason, Origin, Outcome, SPAN_EVENT_DROP, Stage } from '../semconv';
import { Frame, childFrame, currentFrame, runInFrame, runWithFrame } from './context';
import { Invocation } from './wrap';

export function errorType(error: unknown): string {
  if (error && typeof error === 'object') {
    const name = (error as { constructor?: { name?: string } }).constructor?.name;
    if (name && name !== 'Object') return name;
  }
  return typeof error;
}

interface Tally {
  outcome: Outcome;
  origin: Origin;
  reason?: DropReason;
  count: number;
}

export interface StageRunOptions {
  kind?: SpanKind;
  parent?: Context;
  links?: Link[];
  /** When the stage's call began (a `performance.now()` reading), for a run made after the fact; default: now. */
  startedAt?: number;
}

export const NO_OPTIONS: StageRunOptions = {};

// The start options of a span without links depend on kind, stage and origin only: built once each.
// (The SDK copies the attributes it is given, so sharing them is safe.)
const startOptionsCache = new Map<SpanKind, Map<Stage, Map<Origin, SpanOptions>>>();

function startOptions(kind: SpanKind, stage: Stage, origin: Origin): SpanOptions {
  let byStage = startOptionsCache.get(kind);
  if (!byStage) startOptionsCache.set(kind, (byStage = new Map()));
  let byOrigin = byStage.get(stage);
  if (!byOrigin) byStage.set(stage, (byOrigin = new Map()));
  let options = byOrigin.get(origin);
  if (!options) {
    options = Object.freeze({
      kind,
      attributes: Object.freeze({ [ATTR.STAGE]: stage, [ATTR.ORIGIN]: origin }),
    }) as SpanOptions;
    byOrigin.set(origin, options);
  }
  return options;
}

/**
 * One invocation of one stage: a span (when sampled) plus exact accounting of
 * the units that entered it. Every unit added here is counted once.
 *
 * The span starts with the stage and origin only; everything else is added
 * through describe(), which does nothing when the span is not recording.
 */
export class StageRun {
  readonly span: Span;
  readonly context: Context;
  readonly recording: boolean;
  private readonly startedAt: number;
  // Nearly every invocation ends all its units one way: that one is kept inline, the rest in a list.
  private first: Tally | undefined;
  private rest: Tally[] | undefined;
  private ended = false;
  private errorTypeName: string | undefined;

  constructor(
    private readonly telemetry: Telemetry,
    readonly stage: Stage,
    spanName: string,
    private readonly origin: Origin,
    options: StageRunOptions = NO_OPTIONS,
    /** The caller's frame when it already has it (saves a second async-context lookup). */
    frame: Frame | undefined = currentFrame(),
  ) {
    this.startedAt = options.startedAt ?? performance.now();
    const parent = options.parent ?? frame?.otelContext ?? otelContext.active();
    if (telemetry.unsampledParentDecides) {
      // The sampler follows the parent's decision: a child of an unsampled span is never sampled. Asking the SDK
      // would cost a span id, a sampler call and a context per invocation for a span nobody sees; the parent's
      // context is kept as it is (the carrier then propagates the parent's unsampled span context).
      const parentSpanContext = trace.getSpanContext(parent);
      if (
        parentSpanContext !== undefined &&
        (parentSpanContext.traceFlags & TraceFlags.SAMPLED) === 0 &&
        isSpanContextValid(parentSpanContext)
      ) {
        this.span = trace.wrapSpanContext(parentSpanContext);
        this.recording = false;
        this.context = parent;
        return;
      }
    }
    const kind = options.kind ?? SpanKind.INTERNAL;
    this.span = telemetry.tracer.startSpan(
      spanName,
      options.links || options.startedAt !== undefined
        ? {
            kind,
            attributes: { [ATTR.STAGE]: stage, [ATTR.ORIGIN]: origin },
            links: options.links,
            // the SDK reads a number at or before performance.now() as a performance timestamp
            startTime: options.startedAt,
          }
        : startOptions(kind, stage, origin),
      parent,
    );
    this.recording = this.span.isRecording();
    this.context = trace.setSpan(parent, this.span);
  }

  /** Sets span attributes, only when the span is sampled. */
  describe(a: Attributes, b?: Attributes, c?: Attributes, d?: Attributes): void {
    if (!this.recording) return;
    this.span.setAttributes(a);
    if (b) this.span.setAttributes(b);
    if (c) this.span.setAttributes(c);
    if (d) this.span.setAttributes(d);
  }

  add(outcome: Outcome, origin: Origin, count: number, reason?: DropReason): void {
    if (count <= 0) return;
    const first = this.first;
    if (!first) {
      this.first = { outcome, origin, reason, count };
      return;
    }
    if (first.outcome === outcome && first.origin === origin && first.reason === reason) {
      first.count += count;
      return;
    }
    const rest = (this.rest ??= []);
    for (const entry of rest) {
      if (entry.outcome === outcome && entry.origin === origin && entry.reason === reason) {
        entry.count += count;
        return;
      }
    }
    rest.push({ outcome, origin, reason, count });
  }

  addAll(outcome: Outcome, counts: Map<Origin, number>, reason?: DropReason): void {
    for (const [origin, count] of counts) this.add(outcome, origin, count, reason);
  }

  failWith(error: unknown): void {
    this.errorTypeName = errorType(error);
  }

  end(): void {
    if (this.ended) return;
    this.ended = true;
    let forwarded = 0;
    let dropped = 0;
    let failed = 0;
    let reasons: Map<DropReason, number> | undefined;
    const rest = this.rest;
    for (let i = -1; i < (rest ? rest.length : 0); i++) {
      const entry = i < 0 ? this.first : (rest as Tally[])[i];
      if (!entry) break;
      this.telemetry.recordUnits(this.stage, entry.origin, entry.outcome, entry.count, entry.reason);
      if (entry.outcome === 'forwarded') forwarded += entry.count;
      else if (entry.outcome === 'failed') failed += entry.count;
      else {
        dropped += entry.count;
        const reason = entry.reason ?? 'unattributed';
        reasons ??= new Map();
        reasons.set(reason, (reasons.get(reason) ?? 0) + entry.count);
      }
    }
    const outcome: Outcome =
      failed > 0 || this.errorTypeName ? 'failed' : forwarded === 0 && dropped > 0 ? 'dropped' : 'forwarded';
    this.telemetry.recordDuration(this.stage, this.origin, outcome, (performance.now() - this.startedAt) / 1000);

    if (!this.recording) {
      this.span.end();
      return;
    }
    const attributes: Attributes = {
      [ATTR.OUTCOME]: outcome,
      [ATTR.EVENTS_IN]: forwarded + dropped + failed,
      [ATTR.EVENTS_FORWARDED]: forwarded,
      [ATTR.EVENTS_DROPPED]: dropped,
    };
    if (failed > 0) attributes[ATTR.EVENTS_FAILED] = failed;
    const generation = this.telemetry.generationName();
    if (generation) attributes[ATTR.GENERATION] = generation;
    if (reasons) {
      let topReason: DropReason | undefined;
      let topCount = 0;
      for (const [reason, count] of reasons) {
        this.span.addEvent(SPAN_EVENT_DROP, { [ATTR.DROP_REASON]: reason, [ATTR.EVENTS_DROPPED]: count });
        if (count > topCount) {
          topReason = reason;
          topCount = count;
        }
      }
      if (topReason) attributes[ATTR.DROP_REASON] = topReason;
    }
    if (this.errorTypeName) {
      attributes[ATTR.ERROR_TYPE] = this.errorTypeName;
      // Only the type: exception messages can quote record values.
      this.span.setStatus({ code: SpanStatusCode.ERROR, message: this.errorTypeName });
    }
    this.span.setAttributes(attributes);
    this.span.end();
  }
}

/** The invocation of a stage method: runs the original inside the stage span's context and a child frame. */
export class StageInvocation implements Invocation {
  args?: unknown[];
  constructor(
    readonly run_: StageRun,
    /** Undefined for a leaf stage that gives what it calls nothing to read: only the span context is made active. */
    private readonly frame: Frame | undefined,
    /** Accounts the units; returns 'pending' when they end later (the caller then ends the run). */
    private readonly finish: (run: StageRun, threw: boolean, valueOrError: unknown) => void | 'pending',
  ) {}

  run<T>(call: () => T): T {
    if (!this.frame) return otelContext.with(this.run_.context, call);
    return otelContext.with(this.run_.context, runWithFrame, undefined, this.frame, call) as T;
  }

  onReturn(value: unknown): void {
    let pending = false;
    try {
      pending = this.finish(this.run_, false, value) === 'pending';
    } finally {
      if (!pending) this.run_.end();
    }
  }

  onThrow(error: unknown): void {
    this.run_.failWith(error);
    try {
      this.finish(this.run_, true, error);
    } finally {
      this.run_.end();
    }
  }
}

/** The frame a stage's original runs in: the caller's, with the stage's span context. */
export function frameFor(run: StageRun, parent: Frame | undefined): Frame {
  const frame = childFrame(parent);
  frame.otelContext = run.context;
  return frame;
}

export function noFinish(): void {}

/** Marks the frame without a span (e.g. a workflow action that mutates no record). */
export class PassThroughFrame implements Invocation {
  constructor(private readonly patch: Partial<Frame>) {}
  run<T>(call: () => T): T {
    return runInFrame(this.patch, call);
  }
  onReturn(): void {}
  onThrow(): void {}
}
