/**
 * The OTLP/HTTP endpoint of the end-to-end benchmark (bench/e2e.ts): accepts
 * what the instrumented processes export (protobuf, the register entry's
 * default), counts requests, bytes and spans, keeps nothing. It runs in its
 * own process so that receiving exports never delays the benchmark's SSE
 * receipt timestamps.
 *
 *   node dist/bench/otlp-sink.js      # prints "listening <port>"; GET /stats -> JSON
 */
import { createServer } from 'node:http';
import { type AddressInfo } from 'node:net';

export interface SinkStats {
  requests: number;
  traceBytes: number;
  metricBytes: number;
  spans: number;
}

/** Reads a protobuf varint at `offset`; returns [value, next offset]. */
function varint(buffer: Buffer, offset: number): [number, number] {
  let value = 0;
  let factor = 1;
  for (;;) {
    if (offset >= buffer.length) throw new Error('truncated varint');
    const byte = buffer[offset++];
    value += (byte & 0x7f) * factor;
    if (byte < 0x80) return [value, offset];
    factor *= 128;
  }
}

/** Calls `onField` for each length-delimited field of the message in buffer[start, end); skips the others. */
function eachMessageField(
  buffer: Buffer,
  start: number,
  end: number,
  onField: (field: number, from: number, to: number) => void,
): void {
  let offset = start;
  while (offset < end) {
    const [tag, afterTag] = varint(buffer, offset);
    offset = afterTag;
    const wireType = tag & 7;
    if (wireType === 0) offset = varint(buffer, offset)[1];
    else if (wireType === 1) offset += 8;
    else if (wireType === 5) offset += 4;
    else if (wireType === 2) {
      const [length, afterLength] = varint(buffer, offset);
      onField(tag >>> 3, afterLength, afterLength + length);
      offset = afterLength + length;
    } else throw new Error(`unsupported wire type ${wireType}`);
  }
}

/** Spans in an ExportTraceServiceRequest: resource_spans (1) -> scope_spans (2) -> spans (2). */
export function countSpans(body: Buffer): number {
  let spans = 0;
  eachMessageField(body, 0, body.length, (field, from, to) => {
    if (field !== 1) return;
    eachMessageField(body, from, to, (inner, innerFrom, innerTo) => {
      if (inner !== 2) return;
      eachMessageField(body, innerFrom, innerTo, (leaf) => {
        if (leaf === 2) spans++;
      });
    });
  });
  return spans;
}

function main(): void {
  const stats: SinkStats = { requests: 0, traceBytes: 0, metricBytes: 0, spans: 0 };
  const server = createServer((req, res) => {
    if (req.method === 'GET' && req.url === '/stats') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(stats));
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      stats.requests++;
      if (req.url?.endsWith('/v1/traces')) {
        stats.traceBytes += body.length;
        try {
          stats.spans += countSpans(body);
        } catch {
          // not protobuf (http/json): bytes only
        }
      } else if (req.url?.endsWith('/v1/metrics')) stats.metricBytes += body.length;
      // an empty body is a valid, empty Export*ServiceResponse
      res.writeHead(200, { 'content-type': 'application/x-protobuf' });
      res.end();
    });
  });
  server.listen(0, '127.0.0.1', () => {
    process.stdout.write(`listening ${(server.address() as AddressInfo).port}\n`);
  });
  process.on('SIGTERM', () => server.close(() => process.exit(0)));
}

if (require.main === module) main();
