import { CLOSE_REASONS, CloseReason, PROM, RESUBSCRIBE_PREVIOUS, ResubscribePrevious } from '../semconv';
import { FunnelReport } from './report';

/**
 * The doctor's last-mile lines: the API servers' SSE connections over the
 * window (opened, closed and why, open now, reconnects, lifetimes, late
 * events) and the share of event-stream publishes that reached no
 * subscriber (from the funnel's pubsub stage).
 */

export interface VectorSample {
  metric: Record<string, string>;
  value: [number, string];
}

export type VectorQuery = (expr: string) => Promise<VectorSample[]>;

export interface LifetimeBucket {
  /** Lower and upper bound in seconds (upper null: above the last boundary). */
  lower: number;
  upper: number | null;
  count: number;
}

export interface LastMileSummary {
  /** Undefined when no API server exports connection metrics (not instrumented, or an older package). */
  connections?: {
    opened: number;
    openNow: number;
    closed: Record<CloseReason, number>;
    resubscriptions: Record<ResubscribePrevious, number>;
    lateEvents: number;
    lifetimes: LifetimeBucket[];
  };
}

/** Growth of `metric` summed by `labels` over `since` (series born inside the window count from zero), as the funnel query does. */
export function growthQuery(metric: string, labels: readonly string[], since: string): string {
  const by = labels.length > 0 ? ` by (${labels.join(', ')})` : '';
  const now = `sum${by} (${metric})`;
  return `${now} - (sum${by} (${metric} offset ${since}) or ${now} * 0)`;
}

/** Samples that carry exactly the expected labels (anything else in the answer is not ours). */
function samplesWith(samples: VectorSample[], labels: readonly string[]): VectorSample[] {
  return samples.filter((sample) => {
    const keys = Object.keys(sample.metric ?? {}).filter((key) => key !== '__name__');
    return keys.length === labels.length && labels.every((label) => typeof sample.metric[label] === 'string');
  });
}

const valueOf = (sample: VectorSample | undefined): number => {
  const value = Math.round(Number(sample?.value?.[1]));
  return Number.isFinite(value) ? value : 0;
};

function countsBy<K extends string>(samples: VectorSample[], label: string, keys: readonly K[]): Record<K, number> {
  const counts = Object.fromEntries(keys.map((key) => [key, 0])) as Record<K, number>;
  for (const sample of samplesWith(samples, [label])) {
    const key = sample.metric[label] as K;
    if (keys.includes(key)) counts[key] += valueOf(sample);
  }
  return counts;
}

/** Per-bucket counts from cumulative `le` counts. */
export function lifetimeBuckets(samples: VectorSample[]): LifetimeBucket[] {
  const cumulative = samplesWith(samples, ['le'])
    .map((sample) => ({
      le: sample.metric.le === '+Inf' ? Infinity : Number(sample.metric.le),
      count: valueOf(sample),
    }))
    .filter((entry) => !Number.isNaN(entry.le))
    .sort((a, b) => a.le - b.le);
  const buckets: LifetimeBucket[] = [];
  let previous = { le: 0, count: 0 };
  for (const entry of cumulative) {
    buckets.push({
      lower: previous.le,
      upper: entry.le === Infinity ? null : entry.le,
      count: Math.max(0, entry.count - previous.count),
    });
    previous = entry;
  }
  return buckets;
}

export async function queryLastMile(query: VectorQuery, since: string): Promise<LastMileSummary> {
  const [opened, openNow, closed, resubscriptions, late, lifetimes] = await Promise.all([
    query(growthQuery(PROM.CONNECTIONS_OPENED, [], since)),
    query(`sum(${PROM.CONNECTIONS_ACTIVE})`),
    query(growthQuery(PROM.CONNECTIONS_CLOSED, [PROM.LABEL_CLOSE_REASON], since)),
    query(growthQuery(PROM.STREAM_RESUBSCRIPTIONS, [PROM.LABEL_RESUBSCRIBE_PREVIOUS], since)),
    query(growthQuery(PROM.CONNECTION_LATE_EVENTS, [], since)),
    query(growthQuery(PROM.CONNECTION_LIFETIME_BUCKET, ['le'], since)),
  ]);
  const total = samplesWith(opened, [])[0];
  if (!total && samplesWith(openNow, []).length === 0) return {};
  return {
    connections: {
      opened: valueOf(total),
      openNow: valueOf(samplesWith(openNow, [])[0]),
      closed: countsBy(closed, PROM.LABEL_CLOSE_REASON, CLOSE_REASONS),
      resubscriptions: countsBy(resubscriptions, PROM.LABEL_RESUBSCRIBE_PREVIOUS, RESUBSCRIBE_PREVIOUS),
      lateEvents: valueOf(samplesWith(late, [])[0]),
      lifetimes: lifetimeBuckets(lifetimes),
    },
  };
}

/** A bucket holding at least this share of the closes (and at least SPIKE_MIN of them) reads as connections cut at one age. */
const SPIKE_SHARE = 0.5;
const SPIKE_MIN = 5;

const percent = (part: number, whole: number) => `${((100 * part) / whole).toFixed(1)}%`;

const listed = <K extends string>(counts: Record<K, number>): string =>
  (Object.entries(counts) as [K, number][])
    .filter(([, count]) => count > 0)
    .map(([key, count]) => `${key} ${count}`)
    .join(', ');

/** Plain-text lines, after the funnel. */
export function renderLastMile(summary: LastMileSummary, report: FunnelReport, since: string): string[] {
  const lines = [`Last mile (last ${since}):`];
  const pubsub = report.stages.find((entry) => entry.stage === 'pubsub');
  if (pubsub) {
    let entered = 0;
    let noLive = 0;
    for (const cell of Object.values(pubsub.byOrigin)) {
      entered += cell?.entered ?? 0;
      noLive += cell?.dropsByReason.no_live_connection ?? 0;
    }
    if (entered > 0)
      lines.push(
        `- event-stream publishes that reached no subscriber (no_live_connection): ${noLive} of ${entered} (${percent(noLive, entered)})`,
      );
  }
  const connections = summary.connections;
  if (!connections) {
    lines.push(
      `- no SSE connection metrics (${PROM.CONNECTIONS_OPENED}, ${PROM.CONNECTIONS_ACTIVE}): the API servers run without this package or an older version of it`,
    );
    return lines;
  }
  const closedTotal = CLOSE_REASONS.reduce((sum, reason) => sum + connections.closed[reason], 0);
  lines.push(
    `- SSE connections: ${connections.opened} opened, ${closedTotal} closed${closedTotal > 0 ? ` (${listed(connections.closed)})` : ''}, ${connections.openNow} open now`,
  );
  const again = RESUBSCRIBE_PREVIOUS.reduce((sum, previous) => sum + connections.resubscriptions[previous], 0);
  if (connections.opened > 0) {
    lines.push(
      `- reconnects: ${again} of ${connections.opened} connections were a stream coming back (${percent(again, connections.opened)})${again > 0 ? `: ${listed(connections.resubscriptions)}` : ''}`,
    );
  }
  const ended = connections.lifetimes.reduce((sum, bucket) => sum + bucket.count, 0);
  const peak = connections.lifetimes.reduce<LifetimeBucket | undefined>(
    (best, bucket) => (!best || bucket.count > best.count ? bucket : best),
    undefined,
  );
  if (peak && ended > 0) {
    const range = peak.upper === null ? `after ${peak.lower} s` : `between ${peak.lower} and ${peak.upper} s`;
    const spike = peak.upper !== null && peak.count >= SPIKE_MIN && peak.count >= SPIKE_SHARE * ended;
    lines.push(
      `- lifetimes: ${peak.count} of ${ended} connections ended ${range}` +
        (spike
          ? ': something (a proxy or load balancer timeout?) cuts SSE connections at that age; events published while the browser reconnects reach nobody'
          : ''),
    );
  }
  lines.push(`- events handed to a connection that was already closing: ${connections.lateEvents}`);
  return lines;
}
