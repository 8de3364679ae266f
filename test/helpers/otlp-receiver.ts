import { createServer, Server } from 'http';
import { AddressInfo } from 'net';

/**
 * A real OTLP/HTTP endpoint (JSON encoding) for tests: what the register entry
 * exports over the network lands here, decoded into plain spans and points.
 */
export interface ReceivedSpan {
  service: string;
  name: string;
  kind: number;
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  attributes: Record<string, unknown>;
  events: { name: string; attributes: Record<string, unknown> }[];
  links: { traceId: string; spanId: string }[];
}

export interface ReceivedPoint {
  service: string;
  metric: string;
  attributes: Record<string, unknown>;
  value: number;
  count?: number;
  /** Histograms: per-bucket counts (not cumulative) and their upper bounds. */
  bucketCounts?: number[];
  explicitBounds?: number[];
  timeUnixNano: string;
}

type OtlpValue = { stringValue?: string; intValue?: string | number; doubleValue?: number; boolValue?: boolean };

function decodeAttributes(list: { key: string; value: OtlpValue }[] | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const { key, value } of list ?? []) {
    out[key] =
      value.stringValue ??
      (value.intValue !== undefined ? Number(value.intValue) : (value.doubleValue ?? value.boolValue));
  }
  return out;
}

export class OtlpReceiver {
  readonly spans: ReceivedSpan[] = [];
  /** Every metric data point received; cumulative points repeat at each export. */
  readonly points: ReceivedPoint[] = [];
  requests = 0;
  /** Every request body as received, for scanning what left the process. */
  readonly raw: string[] = [];
  private server?: Server;

  /** `port` 0 picks a free one; `delayMs` makes it a slow collector. */
  async start(port = 0, delayMs = 0): Promise<string> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk) => chunks.push(chunk));
      req.on('end', () => {
        this.requests++;
        try {
          const text = Buffer.concat(chunks).toString('utf8');
          this.raw.push(text);
          const body = JSON.parse(text || '{}');
          if (req.url?.endsWith('/v1/traces')) this.ingestTraces(body);
          else if (req.url?.endsWith('/v1/metrics')) this.ingestMetrics(body);
        } catch {
          // not JSON (e.g. protobuf): counted but not decoded
        }
        const answer = () => {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end('{}');
        };
        if (delayMs > 0) setTimeout(answer, delayMs);
        else answer();
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(port, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server!.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections?.();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  private ingestTraces(body: {
    resourceSpans?: { resource?: { attributes?: [] }; scopeSpans?: { spans?: Record<string, unknown>[] }[] }[];
  }): void {
    for (const resourceSpans of body.resourceSpans ?? []) {
      const service = String(decodeAttributes(resourceSpans.resource?.attributes)['service.name'] ?? '');
      for (const scope of resourceSpans.scopeSpans ?? []) {
        for (const span of scope.spans ?? []) {
          this.spans.push({
            service,
            name: span.name as string,
            kind: span.kind as number,
            traceId: span.traceId as string,
            spanId: span.spanId as string,
            parentSpanId: (span.parentSpanId as string) || undefined,
            attributes: decodeAttributes(span.attributes as never),
            events: ((span.events as { name: string; attributes: never }[]) ?? []).map((e) => ({
              name: e.name,
              attributes: decodeAttributes(e.attributes),
            })),
            links: ((span.links as { traceId: string; spanId: string }[]) ?? []).map((l) => ({
              traceId: l.traceId,
              spanId: l.spanId,
            })),
          });
        }
      }
    }
  }

  private ingestMetrics(body: {
    resourceMetrics?: { resource?: { attributes?: [] }; scopeMetrics?: { metrics?: Record<string, unknown>[] }[] }[];
  }): void {
    for (const resourceMetrics of body.resourceMetrics ?? []) {
      const service = String(decodeAttributes(resourceMetrics.resource?.attributes)['service.name'] ?? '');
      for (const scope of resourceMetrics.scopeMetrics ?? []) {
        for (const metric of scope.metrics ?? []) {
          const data = (metric.sum ?? metric.gauge ?? metric.histogram) as
            { dataPoints?: Record<string, unknown>[] } | undefined;
          for (const point of data?.dataPoints ?? []) {
            this.points.push({
              service,
              metric: metric.name as string,
              attributes: decodeAttributes(point.attributes as never),
              value: Number(point.asInt ?? point.asDouble ?? point.sum ?? 0),
              count: point.count !== undefined ? Number(point.count) : undefined,
              ...(Array.isArray(point.bucketCounts) && {
                bucketCounts: (point.bucketCounts as unknown[]).map(Number),
                explicitBounds: ((point.explicitBounds ?? []) as unknown[]).map(Number),
              }),
              timeUnixNano: String(point.timeUnixNano),
            });
          }
        }
      }
    }
  }

  /** The latest cumulative point per (service, attributes) of `metric` that matches. */
  latestPoints(metric: string, match: Record<string, unknown> = {}, service?: string): ReceivedPoint[] {
    const latest = new Map<string, ReceivedPoint>();
    for (const point of this.points) {
      if (point.metric !== metric || (service && point.service !== service)) continue;
      if (!Object.entries(match).every(([k, v]) => point.attributes[k] === v)) continue;
      const key = `${point.service}|${JSON.stringify(Object.entries(point.attributes).sort())}`;
      const previous = latest.get(key);
      if (!previous || BigInt(point.timeUnixNano) >= BigInt(previous.timeUnixNano)) latest.set(key, point);
    }
    return [...latest.values()];
  }

  /** Latest cumulative value per (service, metric, attributes) summed over the matches. */
  latestSum(metric: string, match: Record<string, unknown> = {}, service?: string): number {
    const latest = new Map<string, ReceivedPoint>();
    for (const point of this.points) {
      if (point.metric !== metric || (service && point.service !== service)) continue;
      if (!Object.entries(match).every(([k, v]) => point.attributes[k] === v)) continue;
      const key = `${point.service}|${JSON.stringify(Object.entries(point.attributes).sort())}`;
      const previous = latest.get(key);
      if (!previous || BigInt(point.timeUnixNano) >= BigInt(previous.timeUnixNano)) latest.set(key, point);
    }
    let total = 0;
    for (const point of latest.values())
      total += point.count !== undefined && point.metric.includes('latency') ? point.count : point.value;
    return total;
  }
}
