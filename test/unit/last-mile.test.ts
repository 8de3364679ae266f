/**
 * The last mile, in process with Twenty's client stack minus the network:
 * graphql-redis-subscriptions' real RedisPubSub over a publisher whose
 * replies the test controls, and Twenty's real iterator shapes (the example's
 * copy of wrapAsyncIteratorWithLifecycle over graphql-subscriptions' PubSub).
 *
 * - the subscriber count of a publish goes to the pubsub invocation whose
 *   async context made it, whatever order the replies come back in;
 * - what SubscriptionService.publishToEventStream gives back is unchanged
 *   (value, rejection, settle order);
 * - a pub/sub client without a count is said once and counts as before;
 * - connections: opened, closed and why, late events, re-subscriptions.
 */
import { SpanKind } from '@opentelemetry/api';
import { RedisPubSub } from 'graphql-redis-subscriptions';
import { PubSub } from 'graphql-subscriptions';

import { wrapAsyncIteratorWithLifecycle } from '../../example/twenty/engine/subscriptions/utils/wrap-async-iterator-with-lifecycle';
import { ConnectionHealth } from '../../src/otel/connections';
import { ATTR, CONNECTION_LIFETIME_BUCKETS, METRIC, RESUBSCRIBE_WINDOW_SECONDS } from '../../src/semconv';
import { Instrumenter } from '../../src/twenty/instrumenter';
import { makeTestTelemetry } from '../helpers/telemetry';

type Deferred<T> = { promise: Promise<T>; resolve: (value: T) => void; reject: (error: unknown) => void };
function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** An ioredis stand-in for RedisPubSub's publisher: each publish waits for the test to answer it. */
class ScriptedPublisher {
  readonly calls: { channel: string; message: string; reply: Deferred<number> }[] = [];
  publish(channel: string, message: string): Promise<number> {
    const reply = deferred<number>();
    this.calls.push({ channel, message, reply });
    return reply.promise;
  }
}

const silentSubscriber = { on: () => undefined, subscribe: async () => undefined, psubscribe: async () => undefined };

const event = (recordId: string, workspaceMemberId?: string) => ({ recordId, workspaceMemberId, properties: {} });

/** The Twenty-shaped classes the instrumenter recognises by name, over a given pub/sub client. */
function twentyLikeClasses(pubSub: unknown) {
  class RedisClientService {
    getPubSubClient() {
      return pubSub;
    }
  }
  class SubscriptionService {
    constructor(private readonly redisClient: RedisClientService) {}
    async publishToEventStream({
      workspaceId,
      eventStreamChannelId,
      payload,
    }: {
      workspaceId: string;
      eventStreamChannelId: string;
      payload: unknown;
    }) {
      const client = this.redisClient.getPubSubClient() as {
        publish(channel: string, payload: unknown): Promise<void>;
      };
      await client.publish(`EVENT_STREAM_CHANNEL:${workspaceId}:${eventStreamChannelId}`, payload);
    }
    async subscribeToEventStream({
      workspaceId,
      eventStreamChannelId,
    }: {
      workspaceId: string;
      eventStreamChannelId: string;
    }) {
      const client = this.redisClient.getPubSubClient() as { asyncIterator(channel: string): AsyncIterator<unknown> };
      return client.asyncIterator(`EVENT_STREAM_CHANNEL:${workspaceId}:${eventStreamChannelId}`);
    }
  }
  class EventStreamService {
    registered = new Set<string>();
    async getStreamData(_workspaceId: string, channelId: string) {
      return this.registered.has(channelId) ? { queries: {} } : undefined;
    }
  }
  class EventStreamResolver {
    readonly cleanups: Deferred<void>[] = [];
    constructor(
      private readonly subscriptionService: SubscriptionService,
      private readonly eventStreamService: EventStreamService,
    ) {}
    async onEventSubscription(eventStreamId: string, workspace: { id: string }) {
      await this.eventStreamService.getStreamData(workspace.id, eventStreamId);
      this.eventStreamService.registered.add(eventStreamId);
      const iterator = await this.subscriptionService.subscribeToEventStream({
        workspaceId: workspace.id,
        eventStreamChannelId: eventStreamId,
      });
      return wrapAsyncIteratorWithLifecycle(iterator, {
        initialValue: { objectRecordEventsWithQueryIds: [], metadataEvents: [] },
        // Twenty destroys the stream here (Redis round trips): the test decides when that finishes.
        onCleanup: async () => {
          const cleanup = deferred<void>();
          this.cleanups.push(cleanup);
          await cleanup.promise;
          this.eventStreamService.registered.delete(eventStreamId);
        },
      });
    }
  }
  return { RedisClientService, SubscriptionService, EventStreamService, EventStreamResolver };
}

function setup(pubSub: unknown) {
  const test = makeTestTelemetry();
  const instrumenter = new Instrumenter(test.telemetry);
  const classes = twentyLikeClasses(pubSub);
  for (const cls of Object.values(classes)) expect(instrumenter.instrumentClass(cls)).toBe(true);
  const redisClient = new classes.RedisClientService();
  const subscriptions = new classes.SubscriptionService(redisClient);
  const streams = new classes.EventStreamService();
  const resolver = new classes.EventStreamResolver(subscriptions, streams);
  return { ...test, subscriptions, streams, resolver };
}

const pubsubRows = (rows: ReturnType<ReturnType<typeof makeTestTelemetry>['telemetry']['tallyRows']>) =>
  rows
    .filter((row) => row.stage === 'pubsub')
    .map((row) => `${row.origin}|${row.outcome}|${row.reason ?? ''}|${row.count}`)
    .sort();

const flush = () => new Promise((resolve) => setImmediate(resolve));

describe('the subscriber count of an event-stream publish (RedisPubSub over a scripted publisher)', () => {
  it('goes to the pubsub invocation that made the publish, even when the replies come back in the other order', async () => {
    const publisher = new ScriptedPublisher();
    const { telemetry, spans, subscriptions } = setup(
      new RedisPubSub({ publisher: publisher as never, subscriber: silentSubscriber as never }),
    );
    // A: two UI events to a stream whose tab is gone; B: one event of another author kind to a live stream.
    const first = subscriptions.publishToEventStream({
      workspaceId: 'w',
      eventStreamChannelId: 'gone',
      payload: {
        objectRecordEventsWithQueryIds: [
          { queryIds: ['q'], objectRecordEvent: event('r1', 'm') },
          { queryIds: ['q'], objectRecordEvent: event('r2', 'm') },
        ],
      },
    });
    const second = subscriptions.publishToEventStream({
      workspaceId: 'w',
      eventStreamChannelId: 'live',
      payload: { objectRecordEventsWithQueryIds: [{ queryIds: ['q'], objectRecordEvent: event('r3') }] },
    });
    await flush();
    expect(publisher.calls.map((call) => call.channel)).toEqual([
      'EVENT_STREAM_CHANNEL:w:gone',
      'EVENT_STREAM_CHANNEL:w:live',
    ]);
    publisher.calls[1].reply.resolve(2);
    await second;
    publisher.calls[0].reply.resolve(0);
    await first;

    expect(pubsubRows(telemetry.tallyRows())).toEqual(['system|forwarded||1', 'ui|dropped|no_live_connection|2']);
    const producerSpans = spans.getFinishedSpans().filter((span) => span.kind === SpanKind.PRODUCER);
    const byChannel = (channel: string) =>
      producerSpans.find((span) => span.attributes[ATTR.STREAM_CHANNEL_ID] === channel)!;
    expect(byChannel('gone').attributes[ATTR.PUBSUB_SUBSCRIBERS]).toBe(0);
    expect(byChannel('gone').attributes[ATTR.DROP_REASON]).toBe('no_live_connection');
    expect(byChannel('live').attributes[ATTR.PUBSUB_SUBSCRIBERS]).toBe(2);
    expect(byChannel('live').attributes[ATTR.OUTCOME]).toBe('forwarded');
    expect(telemetry.faultCount()).toBe(0);
  });

  it('leaves what Twenty gets back as it was: resolved value, rejection and settle order', async () => {
    const publisher = new ScriptedPublisher();
    const pubSub = new RedisPubSub({ publisher: publisher as never, subscriber: silentSubscriber as never });
    const { telemetry, subscriptions } = setup(pubSub);
    const order: string[] = [];

    const ok = subscriptions.publishToEventStream({
      workspaceId: 'w',
      eventStreamChannelId: 'c',
      payload: [{ queryIds: [], event: event('r1') }],
    });
    await flush();
    const reply = publisher.calls[0].reply;
    void reply.promise.then(() => order.push('publisher reply seen by a later listener'));
    reply.resolve(1);
    await expect(ok.then((value) => (order.push('app resumed'), value))).resolves.toBeUndefined();
    expect(order).toEqual(['publisher reply seen by a later listener', 'app resumed']);

    const failure = new Error('connection lost');
    const failing = subscriptions.publishToEventStream({
      workspaceId: 'w',
      eventStreamChannelId: 'c',
      payload: [{ queryIds: [], event: event('r2') }],
    });
    await flush();
    publisher.calls[1].reply.reject(failure);
    await expect(failing).rejects.toBe(failure);

    // the publisher is RedisPubSub's own connection; only its publish is observed, on that instance
    expect(pubSub.getPublisher()).toBe(publisher);
    expect(Object.keys(publisher)).toEqual(['calls']);
    expect(ScriptedPublisher.prototype.publish.name).toBe('publish');
    expect(pubsubRows(telemetry.tallyRows())).toEqual(['system|failed||1', 'system|forwarded||1']);
  });

  it('says once that an in-memory pub/sub gives no count, and counts its publishes as forwarded', async () => {
    const { telemetry, logs, subscriptions, spans } = setup(new PubSub());
    for (const id of ['a', 'b']) {
      await subscriptions.publishToEventStream({
        workspaceId: 'w',
        eventStreamChannelId: id,
        payload: [{ queryIds: [], event: event(id) }],
      });
    }
    expect(pubsubRows(telemetry.tallyRows())).toEqual(['system|forwarded||2']);
    expect(logs.filter((line) => line.includes('reports no subscriber count'))).toEqual([
      expect.stringContaining('the pub/sub client (PubSub) reports no subscriber count'),
    ]);
    expect(spans.getFinishedSpans().every((span) => span.attributes[ATTR.PUBSUB_SUBSCRIBERS] === undefined)).toBe(true);
  });
});

describe('SSE connections (EventStreamResolver over wrapAsyncIteratorWithLifecycle and an in-memory PubSub)', () => {
  const payload = (recordId: string) => ({
    objectRecordEventsWithQueryIds: [{ queryIds: ['q'], objectRecordEvent: event(recordId, 'm') }],
    metadataEvents: [],
  });

  it('a client going away closes it (client_gone); an event that arrives while the stream is being cleaned up is a late event', async () => {
    const pubSub = new PubSub();
    const { telemetry, resolver, subscriptions, metricPoints } = setup(pubSub);
    const publish = (recordId: string) =>
      subscriptions.publishToEventStream({ workspaceId: 'w', eventStreamChannelId: 's1', payload: payload(recordId) });
    telemetry.resetTally();
    const stream = (await resolver.onEventSubscription('s1', { id: 'w' })) as AsyncIterableIterator<unknown>;
    const iterator = stream[Symbol.asyncIterator]();
    expect(await iterator.next()).toEqual({
      done: false,
      value: { objectRecordEventsWithQueryIds: [], metadataEvents: [] },
    });
    expect(telemetry.connections.snapshot()).toMatchObject({ opened: 1, active: 1 });

    // delivered normally
    const delivered = iterator.next();
    await flush();
    await publish('r1');
    expect(((await delivered) as { done: boolean }).done).toBe(false);

    // the transport ends the stream while a read is pending; the stream's cleanup takes a while
    const pending = iterator.next();
    const closing = iterator.return!();
    await flush();
    await publish('r2');
    expect(((await pending) as { done: boolean }).done).toBe(false);
    resolver.cleanups[0].resolve();
    await closing;

    const snapshot = telemetry.connections.snapshot();
    expect(snapshot).toMatchObject({
      opened: 1,
      active: 0,
      closed: { client_gone: 1, server_shutdown: 0, error: 0 },
      lateEvents: { ui: 1 },
    });
    expect(snapshot.lifetimes.client_gone).toHaveLength(1);
    expect(telemetry.tallyRows().filter((row) => row.stage === 'deliver')).toEqual([
      { stage: 'deliver', origin: 'ui', outcome: 'forwarded', count: 2 },
    ]);
    expect(
      (await metricPoints(METRIC.CONNECTION_LATE_EVENTS)).map((point) => [point.attributes[ATTR.ORIGIN], point.value]),
    ).toEqual([['ui', 1]]);
    expect((await metricPoints(METRIC.CONNECTIONS_ACTIVE)).map((point) => point.value)).toEqual([0]);
  });

  it('throw() into the stream and a failing read close it as error (the error reaches the app unchanged); a shutdown closes the open ones', async () => {
    const pubSub = new PubSub();
    const { telemetry, resolver, metricPoints } = setup(pubSub);
    const thrown = (await resolver.onEventSubscription('s1', { id: 'w' })) as AsyncIterableIterator<unknown>;
    const transportError = new Error('transport error');
    const throwing = thrown.throw!(transportError);
    resolver.cleanups[0].resolve();
    await expect(throwing).rejects.toBe(transportError);

    const open = (await resolver.onEventSubscription('s3', { id: 'w' })) as AsyncIterableIterator<unknown>;
    await open.next();
    expect(telemetry.connections.snapshot()).toMatchObject({ opened: 2, active: 1 });
    telemetry.connections.shutdown();
    // the transport ends it later, as the app closes: still one close
    const late = open.return!();
    resolver.cleanups[1].resolve();
    await late;
    expect(telemetry.connections.snapshot()).toMatchObject({
      active: 0,
      closed: { client_gone: 0, error: 1, server_shutdown: 1 },
    });
    const lifetimes = await metricPoints(METRIC.CONNECTION_LIFETIME);
    expect(lifetimes.map((point) => point.attributes[ATTR.CLOSE_REASON]).sort()).toEqual(['error', 'server_shutdown']);
    for (const point of lifetimes)
      expect((point.value as { buckets: { boundaries: number[] } }).buckets.boundaries).toEqual([
        ...CONNECTION_LIFETIME_BUCKETS,
      ]);
  });

  it('a Redis read that fails closes the connection as error and rejects with the same error', async () => {
    const failure = new Error('subscriber connection lost');
    const failingClient = {
      publish: async () => undefined,
      asyncIterator: () => ({
        next: () => Promise.reject(failure),
        return: async () => ({ done: true, value: undefined }),
      }),
    };
    const { telemetry, resolver } = setup(failingClient);
    const stream = (await resolver.onEventSubscription('s2', { id: 'w' })) as AsyncIterableIterator<unknown>;
    await stream.next();
    const reading = stream.next();
    await flush();
    resolver.cleanups[0].resolve();
    await expect(reading).rejects.toBe(failure);
    expect(telemetry.connections.snapshot()).toMatchObject({
      opened: 1,
      active: 0,
      closed: { error: 1, client_gone: 0, server_shutdown: 0 },
    });
    expect(telemetry.faultCount()).toBe(0);
  });

  it('re-subscriptions: the same stream again while its old connection is open, after it closed here, or still registered in Redis', async () => {
    const pubSub = new PubSub();
    const { telemetry, resolver, streams, metricPoints } = setup(pubSub);
    const first = (await resolver.onEventSubscription('s1', { id: 'w' })) as AsyncIterableIterator<unknown>;
    // the browser gave up on the first connection and came back before the server noticed
    const second = (await resolver.onEventSubscription('s1', { id: 'w' })) as AsyncIterableIterator<unknown>;
    const closeFirst = first.return!();
    resolver.cleanups[0].resolve();
    await closeFirst;
    const closeSecond = second.return!();
    resolver.cleanups[1].resolve();
    await closeSecond;
    // a reconnect after a clean close here
    await resolver.onEventSubscription('s1', { id: 'w' });
    // a stream another server registered (or left behind)
    streams.registered.add('s9');
    await resolver.onEventSubscription('s9', { id: 'w' });
    // a new stream id is not a re-subscription
    await resolver.onEventSubscription('s10', { id: 'w' });

    expect(telemetry.connections.snapshot().resubscriptions).toEqual({ open_here: 1, closed_here: 1, registered: 1 });
    const points = await metricPoints(METRIC.STREAM_RESUBSCRIPTIONS);
    expect(
      Object.fromEntries(points.map((point) => [point.attributes[ATTR.RESUBSCRIBE_PREVIOUS], point.value])),
    ).toEqual({
      open_here: 1,
      closed_here: 1,
      registered: 1,
    });
  });
});

describe('ConnectionHealth, on its own clock', () => {
  it('counts a stream coming back as a reconnect only within the window, and keeps no id in its metrics', async () => {
    let now = 0;
    const test = makeTestTelemetry();
    const health = new ConnectionHealth(() => now);
    health.bindMeter(test.meterProvider.getMeter('t'));
    const a = health.connectionOpened('stream-a', false);
    now += 60_000;
    health.connectionClosed(a, 'client_gone');
    now += (RESUBSCRIBE_WINDOW_SECONDS - 1) * 1000;
    const b = health.connectionOpened('stream-a', false);
    health.connectionClosed(b, 'client_gone');
    now += (RESUBSCRIBE_WINDOW_SECONDS + 1) * 1000;
    health.connectionOpened('stream-a', false);
    expect(health.snapshot().resubscriptions.closed_here).toBe(1);
    expect(health.snapshot().lifetimes.client_gone).toEqual([60, 0]);

    const { resourceMetrics } = await test.reader.collect();
    const labels = resourceMetrics.scopeMetrics.flatMap((scope) =>
      scope.metrics
        .filter((metric) => metric.descriptor.name.startsWith('twenty.sse.connection'))
        .flatMap((metric) => metric.dataPoints.map((point) => point.attributes)),
    );
    expect(JSON.stringify(labels)).not.toContain('stream-a');
  });
});
