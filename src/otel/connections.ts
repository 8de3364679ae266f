import { Attributes, Histogram, Meter, ObservableResult } from '@opentelemetry/api';
import {
  ATTR,
  CLOSE_REASONS,
  CONNECTION_LIFETIME_BUCKETS,
  CloseReason,
  METRIC,
  Origin,
  RESUBSCRIBE_PREVIOUS,
  RESUBSCRIBE_WINDOW_SECONDS,
  ResubscribePrevious,
} from '../semconv';

/**
 * The SSE connections of event streams in one API server process: opened,
 * closed (and why), open now, how long they lived, streams coming back
 * (reconnects), and events handed to a connection that was already closing.
 *
 * One connection is one Redis subscription of one event stream, as
 * SubscriptionService.subscribeToEventStream hands it to the resolver; it
 * ends when that iterator is returned, thrown into, fails, or the server shuts
 * down. No stream, workspace or user id leaves the process: channel ids are
 * kept in memory only, to recognise a stream that comes back.
 */
export interface ConnectionRecord {
  readonly channelId: string | undefined;
  readonly openedAt: number;
  /** The resolver's iterator was asked to end (the client went away, or an error): the connection is on its way out. */
  closingCause: CloseReason | undefined;
  closed: boolean;
}

/** Exact counts since the process started (or the last resetTally of the telemetry), for the demo, the doctor's self-check and tests. */
export interface ConnectionSnapshot {
  opened: number;
  active: number;
  closed: Record<CloseReason, number>;
  resubscriptions: Record<ResubscribePrevious, number>;
  lateEvents: Partial<Record<Origin, number>>;
  /** Lifetimes (seconds) of the connections closed, by close reason, in close order; at most LIFETIME_SAMPLES kept per reason. */
  lifetimes: Record<CloseReason, number[]>;
}

/** Recent closes remembered to recognise a reconnect; the oldest go first beyond this. */
const MAX_RECENT_CLOSES = 10_000;
const LIFETIME_SAMPLES = 1_000;
const WINDOW_MS = RESUBSCRIBE_WINDOW_SECONDS * 1000;

function zeros<K extends string>(keys: readonly K[]): Record<K, number> {
  return Object.fromEntries(keys.map((key) => [key, 0])) as Record<K, number>;
}

export class ConnectionHealth {
  private readonly open = new Set<ConnectionRecord>();
  private readonly openPerChannel = new Map<string, number>();
  /** channel id -> when its last connection here closed; insertion order = close order. */
  private readonly recentCloses = new Map<string, number>();
  private shuttingDown = false;
  private opened = 0;
  private readonly closed = zeros(CLOSE_REASONS);
  private readonly resubscriptions = zeros(RESUBSCRIBE_PREVIOUS);
  private readonly lateEvents = new Map<Origin, number>();
  private readonly lifetimes = Object.fromEntries(CLOSE_REASONS.map((reason) => [reason, [] as number[]])) as Record<
    CloseReason,
    number[]
  >;
  private baseline:
    | {
        opened: number;
        closed: Record<CloseReason, number>;
        resubscriptions: Record<ResubscribePrevious, number>;
        lateEvents: Map<Origin, number>;
        lifetimeSamples: Record<CloseReason, number>;
      }
    | undefined;
  private lifetime: Histogram | undefined;
  private readonly closeAttributes = Object.fromEntries(
    CLOSE_REASONS.map((reason): [CloseReason, Attributes] => [reason, { [ATTR.CLOSE_REASON]: reason }]),
  ) as Record<CloseReason, Attributes>;

  constructor(
    /** Monotonic milliseconds. */
    private readonly now: () => number = () => performance.now(),
  ) {}

  /**
   * Creates the instruments on `meter`; returns what stops that meter from
   * observing them (the counts live here, so a new meter loses nothing).
   */
  bindMeter(meter: Meter): () => void {
    const opened = meter.createObservableCounter(METRIC.CONNECTIONS_OPENED, {
      description:
        'SSE connections of event streams opened on this API server (one per Redis subscription of a stream).',
      unit: '{connection}',
    });
    const observeOpened = (result: ObservableResult) => result.observe(this.opened);
    const closed = meter.createObservableCounter(METRIC.CONNECTIONS_CLOSED, {
      description: 'SSE connections of event streams that ended, by why: client_gone, server_shutdown, error.',
      unit: '{connection}',
    });
    const observeClosed = (result: ObservableResult) => {
      for (const reason of CLOSE_REASONS)
        if (this.closed[reason] > 0) result.observe(this.closed[reason], this.closeAttributes[reason]);
    };
    const active = meter.createObservableUpDownCounter(METRIC.CONNECTIONS_ACTIVE, {
      description: 'SSE connections of event streams open on this API server now.',
      unit: '{connection}',
    });
    const observeActive = (result: ObservableResult) => result.observe(this.open.size);
    const resubscriptions = meter.createObservableCounter(METRIC.STREAM_RESUBSCRIPTIONS, {
      description: `Event streams subscribed again by the same browser stream id (a reconnect), by where the earlier connection was; "closed_here" counts within ${RESUBSCRIBE_WINDOW_SECONDS} s of the close.`,
      unit: '{connection}',
    });
    const observeResubscriptions = (result: ObservableResult) => {
      for (const previous of RESUBSCRIBE_PREVIOUS) {
        if (this.resubscriptions[previous] > 0)
          result.observe(this.resubscriptions[previous], { [ATTR.RESUBSCRIBE_PREVIOUS]: previous });
      }
    };
    const late = meter.createObservableCounter(METRIC.CONNECTION_LATE_EVENTS, {
      description:
        'Events the Redis subscription handed to an SSE connection that was already closing: they never reach the browser.',
      unit: '{event}',
    });
    const observeLate = (result: ObservableResult) => {
      for (const [origin, count] of this.lateEvents) result.observe(count, { [ATTR.ORIGIN]: origin });
    };
    opened.addCallback(observeOpened);
    closed.addCallback(observeClosed);
    active.addCallback(observeActive);
    resubscriptions.addCallback(observeResubscriptions);
    late.addCallback(observeLate);
    this.lifetime = meter.createHistogram(METRIC.CONNECTION_LIFETIME, {
      description:
        'How long an SSE connection of an event stream lived, from its Redis subscription to its end, by close reason.',
      unit: 's',
      advice: { explicitBucketBoundaries: [...CONNECTION_LIFETIME_BUCKETS] },
    });
    return () => {
      opened.removeCallback(observeOpened);
      closed.removeCallback(observeClosed);
      active.removeCallback(observeActive);
      resubscriptions.removeCallback(observeResubscriptions);
      late.removeCallback(observeLate);
    };
  }

  /** A connection's Redis subscription exists. `streamWasRegistered`: the resolver found the stream already in Redis. */
  connectionOpened(channelId: string | undefined, streamWasRegistered: boolean | undefined): ConnectionRecord {
    const at = this.now();
    let previous: ResubscribePrevious | undefined;
    if (channelId !== undefined) {
      const closedAt = this.recentCloses.get(channelId);
      if ((this.openPerChannel.get(channelId) ?? 0) > 0) previous = 'open_here';
      else if (closedAt !== undefined && at - closedAt <= WINDOW_MS) previous = 'closed_here';
      this.recentCloses.delete(channelId);
      this.openPerChannel.set(channelId, (this.openPerChannel.get(channelId) ?? 0) + 1);
    }
    if (!previous && streamWasRegistered) previous = 'registered';
    if (previous) this.resubscriptions[previous]++;
    this.opened++;
    const record: ConnectionRecord = { channelId, openedAt: at, closingCause: undefined, closed: false };
    this.open.add(record);
    return record;
  }

  /** The resolver's iterator was told to end: events handed over from now on are late. */
  connectionClosing(record: ConnectionRecord, cause: CloseReason): void {
    if (!record.closed && record.closingCause === undefined) record.closingCause = cause;
  }

  /**
   * The connection ended. `cause` is what the Redis iterator saw; a close the
   * resolver announced first, or a shutdown in progress, takes precedence.
   */
  connectionClosed(record: ConnectionRecord, cause: CloseReason): void {
    if (record.closed) return;
    const reason: CloseReason = this.shuttingDown ? 'server_shutdown' : (record.closingCause ?? cause);
    this.close(record, reason, this.now());
  }

  /** `count` events of `origin` reached a connection that was already closing or closed. */
  lateEventsHandedOver(record: ConnectionRecord, origin: Origin, count: number): boolean {
    if (record.closingCause === undefined && !record.closed) return false;
    this.lateEvents.set(origin, (this.lateEvents.get(origin) ?? 0) + count);
    return true;
  }

  /**
   * The process is stopping: every open connection is counted as closed by
   * the shutdown now, so the final export (made right after) includes them.
   */
  shutdown(): void {
    if (this.shuttingDown) return;
    this.shuttingDown = true;
    const at = this.now();
    for (const record of [...this.open]) this.close(record, 'server_shutdown', at);
  }

  snapshot(): ConnectionSnapshot {
    const base = this.baseline;
    const lateEvents: Partial<Record<Origin, number>> = {};
    for (const [origin, count] of this.lateEvents) {
      const delta = count - (base?.lateEvents.get(origin) ?? 0);
      if (delta > 0) lateEvents[origin] = delta;
    }
    const closed = zeros(CLOSE_REASONS);
    const lifetimes = {} as Record<CloseReason, number[]>;
    for (const reason of CLOSE_REASONS) {
      closed[reason] = this.closed[reason] - (base?.closed[reason] ?? 0);
      lifetimes[reason] = this.lifetimes[reason].slice(base?.lifetimeSamples[reason] ?? 0);
    }
    const resubscriptions = zeros(RESUBSCRIBE_PREVIOUS);
    for (const previous of RESUBSCRIBE_PREVIOUS)
      resubscriptions[previous] = this.resubscriptions[previous] - (base?.resubscriptions[previous] ?? 0);
    return {
      opened: this.opened - (base?.opened ?? 0),
      active: this.open.size,
      closed,
      resubscriptions,
      lateEvents,
      lifetimes,
    };
  }

  /** Starts snapshot() over; the exported metrics stay cumulative. */
  resetSnapshot(): void {
    this.baseline = {
      opened: this.opened,
      closed: { ...this.closed },
      resubscriptions: { ...this.resubscriptions },
      lateEvents: new Map(this.lateEvents),
      lifetimeSamples: Object.fromEntries(
        CLOSE_REASONS.map((reason) => [reason, this.lifetimes[reason].length]),
      ) as Record<CloseReason, number>,
    };
  }

  private close(record: ConnectionRecord, reason: CloseReason, at: number): void {
    record.closed = true;
    this.open.delete(record);
    this.closed[reason]++;
    const seconds = Math.max(0, at - record.openedAt) / 1000;
    this.lifetime?.record(seconds, this.closeAttributes[reason]);
    const samples = this.lifetimes[reason];
    if (samples.length < LIFETIME_SAMPLES) samples.push(seconds);
    const channelId = record.channelId;
    if (channelId === undefined) return;
    const stillOpen = (this.openPerChannel.get(channelId) ?? 1) - 1;
    if (stillOpen > 0) {
      this.openPerChannel.set(channelId, stillOpen);
      return;
    }
    this.openPerChannel.delete(channelId);
    this.recentCloses.delete(channelId);
    this.recentCloses.set(channelId, at);
    for (const [oldest, closedAt] of this.recentCloses) {
      if (this.recentCloses.size <= MAX_RECENT_CLOSES && at - closedAt <= WINDOW_MS) break;
      this.recentCloses.delete(oldest);
    }
  }
}
