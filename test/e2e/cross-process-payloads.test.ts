/**
 * Odd, forged and huge payloads on the event-stream channel are delivered
 * unchanged (minus the carrier) and never break the stream.
 *
 * Two layers:
 * 1. `wrapDeliveryIterator` (src/engine/roles/deliver.ts) on a fake async iterator: exact
 *    equality of what comes out for every kind of value (non-objects, forged
 *    carriers, `__proto__` keys, 2 MB), the carrier and only the carrier
 *    removed, the input never mutated; return()/throw() pass through and
 *    Symbol.asyncIterator returns the wrapped iterator.
 * 2. The real API server, instrumented (register entry) next to an
 *    uninstrumented one, on the same Redis: the test publishes the payloads
 *    straight to each stream's Redis channel with ioredis (as RedisPubSub
 *    would: JSON text) and reads both SSE responses byte for byte: the
 *    instrumented server sends exactly what the uninstrumented one sends,
 *    message for message, and a sentinel published last still arrives.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { SpanKind, trace } from '@opentelemetry/api';
import IORedis from 'ioredis';

import { startTwentyLikeApp, type TwentyLikeApp } from '../../example/harness';
import { ATTR, CARRIER_KEY, METRIC } from '../../src/semconv';
import { wrapDeliveryIterator as wrapWithModel } from '../../src/engine/roles';
import { TWENTY_MODEL } from '../../src/twenty/model';

const wrapDeliveryIterator = (value: unknown, telemetry: Parameters<typeof wrapWithModel>[1], spanName: string) =>
  wrapWithModel(value, telemetry, spanName, TWENTY_MODEL);
import { OtlpReceiver } from '../helpers/otlp-receiver';
import {
  type Generation,
  pollUntil,
  redisUrlWithDb,
  type ServerProcess,
  startServer,
  stopAllProcesses,
} from '../helpers/processes';
import { makeTestTelemetry } from '../helpers/telemetry';
import { openRawSse, type RawSse, waitForSubscriber } from './cross-process-sse';

jest.setTimeout(60_000);

const VALID_TRACEPARENT = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
const TWO_MB = 2 * 1024 * 1024;

const recordEvent = (recordId: string, extra: Record<string, unknown> = {}) => ({
  action: 'updated',
  objectNameSingular: 'company',
  recordId,
  userId: null,
  workspaceMemberId: null,
  properties: {
    updatedFields: ['name'],
    before: { name: 'a' },
    after: { name: 'b', ...extra },
    diff: { name: { before: 'a', after: 'b' } },
  },
});

type Shape = 'array' | 'object';

/** A payload of the generation's shape with `items` record events, the carrier (if any) where that shape carries it. */
function payloadOf(shape: Shape, recordIds: string[], carrier?: unknown, extra: Record<string, unknown> = {}): unknown {
  if (shape === 'array') {
    const items: Record<string, unknown>[] = recordIds.map((id) => ({
      queryIds: ['q'],
      event: recordEvent(id, extra),
    }));
    if (carrier !== undefined && items.length > 0) items[0] = { ...items[0], [CARRIER_KEY]: carrier };
    return items;
  }
  return {
    objectRecordEventsWithQueryIds: recordIds.map((id) => ({
      queryIds: ['q'],
      objectRecordEvent: recordEvent(id, extra),
    })),
    metadataEvents: [],
    ...(carrier !== undefined && { [CARRIER_KEY]: carrier }),
  };
}

interface Case {
  name: string;
  /** The message as published on Redis (RedisPubSub JSON-encodes; a non-JSON text arrives as a string). */
  wire: string;
}

/** Every odd payload, as wire text. `now` makes publishedAt plausible where a case needs it. */
function oddCases(shape: Shape, now: number): Case[] {
  const json = (name: string, value: unknown): Case => ({ name, wire: JSON.stringify(value) });
  const withCarrier = (name: string, carrier: unknown, ids = [`r-${name}`]) =>
    json(name, payloadOf(shape, ids, carrier));
  const goodCarrier = { v: 1, traceparent: VALID_TRACEPARENT, origins: ['workflow'], publishedAt: now };
  const protoItem =
    shape === 'array'
      ? `[{"__proto__":{"polluted":true},"queryIds":["q"],"event":${JSON.stringify(recordEvent('r-proto'))},` +
        `"${CARRIER_KEY}":{"__proto__":{"traceparent":"${VALID_TRACEPARENT}","origins":["ui"]},"v":1,"constructor":{"prototype":{"polluted":true}}}}]`
      : `{"__proto__":{"polluted":true},"objectRecordEventsWithQueryIds":[{"queryIds":["q"],"objectRecordEvent":${JSON.stringify(recordEvent('r-proto'))}}],"metadataEvents":[],` +
        `"${CARRIER_KEY}":{"__proto__":{"traceparent":"${VALID_TRACEPARENT}","origins":["ui"]},"v":1,"constructor":{"prototype":{"polluted":true}}}}`;
  return [
    json('no carrier', payloadOf(shape, ['r-plain'])),
    json('two items, no carrier', payloadOf(shape, ['r-two-1', 'r-two-2'])),
    withCarrier('valid carrier (forged origin api_key)', { ...goodCarrier, origins: ['api_key'] }),
    withCarrier('bad traceparent', { ...goodCarrier, traceparent: '00-not-a-trace-01' }),
    withCarrier('all-zero traceparent', {
      ...goodCarrier,
      traceparent: '00-00000000000000000000000000000000-0000000000000000-01',
    }),
    withCarrier('traceparent not a string', { ...goodCarrier, traceparent: { a: 1 } }),
    withCarrier('origins of wrong length', { ...goodCarrier, origins: ['ui', 'ui', 'ui'] }),
    withCarrier('unknown origin value', { ...goodCarrier, origins: ['root'] }),
    withCarrier('origins not an array', { ...goodCarrier, origins: 'workflow' }),
    withCarrier('publishedAt in the future', { ...goodCarrier, publishedAt: now + 365 * 24 * 3600_000 }),
    withCarrier('publishedAt NaN (null in JSON)', { ...goodCarrier, publishedAt: NaN }),
    withCarrier('publishedAt a string', { ...goodCarrier, publishedAt: String(now) }),
    withCarrier('publishedAt negative', { ...goodCarrier, publishedAt: -1 }),
    { name: '__proto__ keys in payload and carrier', wire: protoItem },
    withCarrier('carrier is an array', [goodCarrier]),
    withCarrier('carrier is a huge string', 'x'.repeat(1_000_000)),
    withCarrier('carrier is null', null),
    withCarrier('carrier is a number', 7),
    withCarrier('huge tracestate', { ...goodCarrier, tracestate: `a=${'b'.repeat(100_000)}` }),
    json('2 MB payload with a valid carrier', payloadOf(shape, ['r-big'], goodCarrier, { notes: 'n'.repeat(TWO_MB) })),
    { name: 'not JSON at all', wire: 'hello, not json' },
    json('a JSON string', 'a string'),
    json('a number', 42),
    json('null', null),
    json('true', true),
    json('an empty object', {}),
    json('an empty array', []),
    json('an array of scalars', [1, 'two', null]),
    json('an object with only a carrier', { [CARRIER_KEY]: goodCarrier }),
    json('record list not a list, with carrier', {
      objectRecordEventsWithQueryIds: 'nope',
      [CARRIER_KEY]: goodCarrier,
    }),
    json('array whose first item is a scalar', ['first', { queryIds: ['q'], event: recordEvent('r-second') }]),
  ];
}

/** What a consumer must see: the value as parsed, minus the carrier where the package puts it. */
function withoutCarrier(value: unknown): unknown {
  const copy = value === undefined ? undefined : JSON.parse(JSON.stringify(value));
  if (Array.isArray(copy)) {
    if (copy[0] && typeof copy[0] === 'object' && !Array.isArray(copy[0])) delete copy[0][CARRIER_KEY];
  } else if (copy && typeof copy === 'object') {
    delete copy[CARRIER_KEY];
  }
  return copy;
}

/** Parses like RedisPubSub: JSON, or the text itself when it is not JSON. */
function parseLikeRedisPubSub(wire: string): unknown {
  try {
    return JSON.parse(wire);
  } catch {
    return wire;
  }
}

function fakeIterator(values: unknown[]) {
  let index = 0;
  const iterator = {
    next: jest.fn(async (): Promise<IteratorResult<unknown>> =>
      index < values.length ? { done: false, value: values[index++] } : { done: true, value: undefined },
    ),
    return: jest.fn(async (value?: unknown): Promise<IteratorResult<unknown>> => ({ done: true, value })),
    throw: jest.fn(async (error?: unknown): Promise<IteratorResult<unknown>> => {
      throw error;
    }),
    [Symbol.asyncIterator]() {
      return iterator;
    },
    customProperty: 'kept',
  };
  return iterator;
}

describe('wrapDeliveryIterator on a fake iterator (unit)', () => {
  it.each(['array', 'object'] as const)(
    '%s shape: every value comes out exactly as it went in, minus the carrier, input untouched',
    async (shape) => {
      const t = makeTestTelemetry();
      const now = Date.now();
      const cases = oddCases(shape, now);
      const values = [
        ...cases.map((c) => parseLikeRedisPubSub(c.wire)),
        undefined,
        0,
        '',
        false,
        Symbol.for('s'),
        () => 1,
      ];
      const snapshots = values.map((value) =>
        typeof value === 'object' && value !== null ? JSON.stringify(value) : value,
      );
      const wrapped = wrapDeliveryIterator(
        fakeIterator(values),
        t.telemetry,
        'SubscriptionService.subscribeToEventStream',
      ) as AsyncIterator<unknown>;

      for (let i = 0; i < values.length; i++) {
        const name = cases[i]?.name ?? `extra value ${String(values[i])}`;
        const result = await wrapped.next();
        expect({ name, done: result.done }).toEqual({ name, done: false });
        const expected = typeof values[i] === 'object' && values[i] !== null ? withoutCarrier(values[i]) : values[i];
        if (typeof expected === 'object' && expected !== null) {
          // own keys in order, `__proto__` own keys included: compare the JSON texts too
          expect({ name, json: JSON.stringify(result.value) }).toEqual({ name, json: JSON.stringify(expected) });
          expect(result.value).toStrictEqual(expected);
        } else {
          expect({ name, value: result.value }).toEqual({ name, value: expected });
        }
        // nothing received was mutated (another SSE connection may hold the same object)
        const after = typeof values[i] === 'object' && values[i] !== null ? JSON.stringify(values[i]) : values[i];
        expect({ name, unchanged: after === snapshots[i] }).toEqual({ name, unchanged: true });
      }
      expect(await wrapped.next()).toEqual({ done: true, value: undefined });
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      expect(t.telemetry.faultCount()).toBe(0);
    },
  );

  it('a payload without a carrier is handed on as the very same object', async () => {
    const t = makeTestTelemetry();
    const arrayPayload = payloadOf('array', ['r1']);
    const objectPayload = payloadOf('object', ['r2']);
    const wrapped = wrapDeliveryIterator(
      fakeIterator([arrayPayload, objectPayload]),
      t.telemetry,
      'x',
    ) as AsyncIterator<unknown>;
    expect((await wrapped.next()).value).toBe(arrayPayload);
    expect((await wrapped.next()).value).toBe(objectPayload);
  });

  it('the carrier parents the deliver span and counts by its origins; a forged one only relabels', async () => {
    const t = makeTestTelemetry();
    const now = Date.now();
    const values = [
      payloadOf('array', ['a', 'b'], {
        v: 1,
        traceparent: VALID_TRACEPARENT,
        origins: ['workflow', 'ui'],
        publishedAt: now - 5,
      }),
      payloadOf('object', ['c'], { v: 1, traceparent: '00-bad', origins: ['root'], publishedAt: 'x' }),
    ];
    const wrapped = wrapDeliveryIterator(fakeIterator(values), t.telemetry, 'x') as AsyncIterator<unknown>;
    await wrapped.next();
    await wrapped.next();
    const spans = t.spans.getFinishedSpans();
    expect(spans).toHaveLength(2);
    expect(spans[0].kind).toBe(SpanKind.CONSUMER);
    expect(spans[0].spanContext().traceId).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
    expect(spans[0].parentSpanContext?.spanId ?? (spans[0] as unknown as { parentSpanId?: string }).parentSpanId).toBe(
      '00f067aa0ba902b7',
    );
    expect(spans[0].links.map((l) => l.context.spanId)).toEqual(['00f067aa0ba902b7']);
    expect(spans[1].spanContext().traceId).not.toBe('4bf92f3577b34da6a3ce929d0e0e4736');
    expect(spans[1].links).toEqual([]);
    expect(await t.stageEvents({ stage: 'deliver', origin: 'workflow', outcome: 'forwarded' })).toBe(1);
    expect(await t.stageEvents({ stage: 'deliver', origin: 'ui', outcome: 'forwarded' })).toBe(1);
    expect(await t.stageEvents({ stage: 'deliver', origin: 'unknown', outcome: 'forwarded' })).toBe(1);
    // latency only for the payload with a plausible publishedAt: one observation per event
    const latency = await t.metricPoints(METRIC.DELIVERY_LATENCY);
    const count = latency.reduce((sum, p) => sum + ((p.value as { count: number }).count ?? 0), 0);
    expect(count).toBe(2);
  });

  it('return() and throw() pass through to the original; Symbol.asyncIterator returns the wrapped iterator', async () => {
    const t = makeTestTelemetry();
    const inner = fakeIterator([payloadOf('array', ['r'], { v: 1, origins: ['ui'], publishedAt: Date.now() })]);
    const wrapped = wrapDeliveryIterator(inner, t.telemetry, 'x') as AsyncIterableIterator<unknown> & {
      return: (v?: unknown) => Promise<IteratorResult<unknown>>;
      throw: (e?: unknown) => Promise<IteratorResult<unknown>>;
      customProperty: string;
    };
    expect(wrapped).not.toBe(inner);
    expect(wrapped[Symbol.asyncIterator]()).toBe(wrapped);
    expect(wrapped.customProperty).toBe('kept');

    // for await goes through the wrapper (the carrier is gone)
    for await (const value of wrapped) {
      expect(JSON.stringify(value)).not.toContain(CARRIER_KEY);
      break; // calls return()
    }
    expect(inner.return).toHaveBeenCalledTimes(1);

    await expect(wrapped.return('done-value')).resolves.toEqual({ done: true, value: 'done-value' });
    expect(inner.return).toHaveBeenLastCalledWith('done-value');
    const error = new Error('boom');
    await expect(wrapped.throw(error)).rejects.toBe(error);
    expect(inner.throw).toHaveBeenCalledWith(error);

    // a rejected next() rejects the same way
    const failing = { next: jest.fn(async () => Promise.reject(error)) };
    const wrappedFailing = wrapDeliveryIterator(failing, t.telemetry, 'x') as AsyncIterator<unknown>;
    await expect(wrappedFailing.next()).rejects.toBe(error);
    // not an iterator: handed back as is
    const notIterator = { foo: 1 };
    expect(wrapDeliveryIterator(notIterator, t.telemetry, 'x')).toBe(notIterator);
    expect(t.telemetry.faultCount()).toBe(0);
    expect(trace.getActiveSpan()).toBeUndefined();
  });
});

const GENERATIONS: { generation: Generation; shape: Shape; db: number }[] = [
  { generation: 'v5', shape: 'array', db: 13 },
  { generation: 'publisher', shape: 'object', db: 14 },
];

describe.each(GENERATIONS)(
  'odd payloads through the real API server, generation $generation',
  ({ generation, shape, db }) => {
    const receiver = new OtlpReceiver();
    const redisUrl = redisUrlWithDb(db);
    let instrumented: ServerProcess | undefined;
    let plain: ServerProcess | undefined;
    let client: TwentyLikeApp | undefined;
    let redis: IORedis | undefined;
    const raws: RawSse[] = [];

    beforeAll(async () => {
      const endpoint = await receiver.start();
      const groundTruthFile = join(mkdtempSync(join(tmpdir(), 'cross-process-payloads-')), 'ground-truth.jsonl');
      const common = { generation, redisUrl, groundTruthFile };
      [instrumented, plain] = await Promise.all([
        startServer({ ...common, label: 'instrumented', otel: { endpoint, serviceName: 'twenty-server' } }),
        startServer({ ...common, label: 'plain' }),
      ]);
      client = await startTwentyLikeApp({
        generation,
        mode: 'client',
        url: instrumented.url,
        redisUrl,
        groundTruthFile,
      });
      redis = new IORedis(redisUrl, { maxRetriesPerRequest: null });
    });

    afterAll(async () => {
      for (const raw of raws) raw.close();
      redis?.disconnect();
      await client?.close().catch(() => undefined);
      await Promise.allSettled([instrumented?.stop(), plain?.stop()]);
      await stopAllProcesses();
      await receiver.stop();
    });

    it('the instrumented server sends exactly what the uninstrumented one sends, and the stream survives', async () => {
      const app = client!;
      const { workspaceId } = await app.seed.workspace();
      const user = await app.seed.user({ workspaceId });
      // the token lives in the shared Redis: valid on both servers
      const onInstrumented = openRawSse({
        url: instrumented!.url,
        token: user.token,
        generation,
        eventStreamId: '20000000-0000-4000-8000-000000000001',
        workspaceId,
      });
      const onPlain = openRawSse({
        url: plain!.url,
        token: user.token,
        generation,
        eventStreamId: '20000000-0000-4000-8000-000000000002',
        workspaceId,
      });
      raws.push(onInstrumented, onPlain);
      await waitForSubscriber(redis!, onInstrumented.redisChannel);
      await waitForSubscriber(redis!, onPlain.redisChannel);

      const cases = [
        ...oddCases(shape, Date.now()),
        { name: 'sentinel', wire: JSON.stringify(payloadOf(shape, ['r-sentinel'])) },
      ];
      for (const { wire } of cases) {
        await redis!.publish(onInstrumented.redisChannel, wire);
        await redis!.publish(onPlain.redisChannel, wire);
      }
      const hasSentinel = (raw: RawSse) => raw.text().includes('r-sentinel');
      await pollUntil(() => hasSentinel(onInstrumented) && hasSentinel(onPlain), Boolean, {
        timeoutMs: 30_000,
        what: 'the sentinel on both SSE streams',
        describe: () => `${instrumented!.output().slice(-3000)}\n${plain!.output().slice(-3000)}`,
      });

      const normalize = (raw: RawSse) =>
        JSON.parse(JSON.stringify(raw.messages()).replaceAll(raw.eventStreamId, '<eventStreamId>')) as unknown[];
      const fromInstrumented = normalize(onInstrumented);
      const fromPlain = normalize(onPlain);
      // one message per published payload (plus the initial value), the sentinel last, the same on both
      expect(fromPlain).toHaveLength(cases.length + 1);
      expect(fromInstrumented).toHaveLength(fromPlain.length);
      for (let i = 0; i < fromPlain.length; i++) {
        const name = i === 0 ? 'initial value' : cases[i - 1].name;
        expect({ name, message: fromInstrumented[i] }).toEqual({ name, message: fromPlain[i] });
      }
      expect(JSON.stringify(fromPlain[fromPlain.length - 1])).toContain('r-sentinel');
      expect(onInstrumented.text()).not.toContain(CARRIER_KEY);
      // the 2 MB event went through whole
      expect(onInstrumented.text()).toContain('n'.repeat(TWO_MB));
      // both servers still serve
      for (const server of [instrumented!, plain!]) {
        const response = await fetch(`${server.url}/metadata`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ query: '{ twentyGeneration }' }),
        });
        expect(response.ok).toBe(true);
        expect(server.hasExited()).toBe(false);
      }
    });

    it('the instrumented server counted every delivered event without faults; a bad traceparent starts a new trace', async () => {
      // what a deliver invocation sees: every payload with a record-event list, one unit per item
      const cases = [
        ...oddCases(shape, Date.now()),
        { name: 'sentinel', wire: JSON.stringify(payloadOf(shape, ['r-sentinel'])) },
      ];
      const itemCounts = cases.map(({ wire }) => {
        const value = parseLikeRedisPubSub(wire);
        if (Array.isArray(value)) return value.length;
        const list =
          value && typeof value === 'object'
            ? (value as Record<string, unknown>).objectRecordEventsWithQueryIds
            : undefined;
        return Array.isArray(list) ? list.length : 0;
      });
      const expectedEvents = itemCounts.reduce((sum, n) => sum + n, 0);
      const expectedSpans = itemCounts.filter((n) => n > 0).length;
      const read = () => ({
        forwarded: receiver.latestSum(
          METRIC.STAGE_EVENTS,
          { [ATTR.STAGE]: 'deliver', [ATTR.OUTCOME]: 'forwarded' },
          'twenty-server',
        ),
        notForwarded:
          receiver.latestSum(METRIC.STAGE_EVENTS, { [ATTR.STAGE]: 'deliver' }, 'twenty-server') -
          receiver.latestSum(
            METRIC.STAGE_EVENTS,
            { [ATTR.STAGE]: 'deliver', [ATTR.OUTCOME]: 'forwarded' },
            'twenty-server',
          ),
        // the forged origin relabels exactly its one event, nothing else
        apiKey: receiver.latestSum(
          METRIC.STAGE_EVENTS,
          { [ATTR.STAGE]: 'deliver', [ATTR.ORIGIN]: 'api_key' },
          'twenty-server',
        ),
        deliverSpans: receiver.spans.filter((s) => s.attributes[ATTR.STAGE] === 'deliver').length,
        faults: receiver.latestSum(METRIC.INSTRUMENTATION_ERRORS),
      });
      const expected = {
        forwarded: expectedEvents,
        notForwarded: 0,
        apiKey: 1,
        deliverSpans: expectedSpans,
        faults: 0,
      };
      await pollUntil(read, (value) => JSON.stringify(value) === JSON.stringify(expected), {
        what: 'deliver counts and spans for every odd payload',
        describe: (value) => `got ${JSON.stringify(value)}, want ${JSON.stringify(expected)}`,
      });

      const delivers = receiver.spans.filter((s) => s.attributes[ATTR.STAGE] === 'deliver');
      // a well-formed traceparent is honoured as parent and link; every other deliver span is a root without links
      const children = delivers.filter((s) => s.traceId === '4bf92f3577b34da6a3ce929d0e0e4736');
      expect(children.length).toBeGreaterThan(0);
      for (const span of children) {
        expect(span.parentSpanId).toBe('00f067aa0ba902b7');
        expect(span.links).toEqual([{ traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7' }]);
      }
      for (const span of delivers.filter((s) => s.traceId !== '4bf92f3577b34da6a3ce929d0e0e4736')) {
        expect({ parent: span.parentSpanId, links: span.links }).toEqual({ parent: undefined, links: [] });
      }
    });
  },
);
