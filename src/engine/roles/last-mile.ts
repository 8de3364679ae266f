import { Telemetry } from '../../otel/telemetry';
import { ConnectionRecord } from '../../otel/connections';
import { ConnectionScope, currentFrame, PublishReceipt, runInFrame } from '../context';
import { InvocationFactory, wrapFunction } from '../wrap';
import { RoleContext } from './types';

/**
 * The last mile: what happens to an event-stream publish in Redis, and the
 * SSE connections that read it.
 *
 * graphql-redis-subscriptions' RedisPubSub.publish awaits its ioredis
 * publisher's `publish`, whose promise resolves with the number of
 * subscribers Redis delivered to, and then discards that number. The
 * `pubsub_client` role looks at every pub/sub client the app's
 * RedisClientService.getPubSubClient() hands out; for a RedisPubSub it wraps
 * `publish` on that one publisher connection (not on ioredis' prototype) so
 * that the reply is added to the receipt of the `pubsub` invocation whose
 * async context made the call. The publisher's promise is handed back
 * untouched: same value, same rejection, same settle order.
 */

const seenClients = new WeakSet<object>();

export function pubsubClient(ctx: RoleContext): InvocationFactory {
  const { telemetry } = ctx;
  const observe = (client: unknown) => observePubSubClient(client, telemetry);
  return () => observe;
}

export function observePubSubClient(client: unknown, telemetry: Telemetry): void {
  if (!client || typeof client !== 'object' || seenClients.has(client)) return;
  seenClients.add(client);
  const getPublisher = (client as { getPublisher?: unknown }).getPublisher;
  const publisher = typeof getPublisher === 'function' ? (getPublisher.call(client) as unknown) : undefined;
  const publish = publisher && typeof publisher === 'object' ? (publisher as { publish?: unknown }).publish : undefined;
  if (typeof publish !== 'function') {
    telemetry.noteNoSubscriberCount((client as { constructor?: { name?: string } }).constructor?.name || 'unknown');
    return;
  }
  const wrapped = wrapFunction(publish, 'pubsub.publisher', receiptObserver, (component, error) =>
    telemetry.fault(component, error),
  );
  Object.defineProperty(publisher, 'publish', {
    value: wrapped,
    writable: true,
    configurable: true,
    enumerable: false,
  });
}

function receiptObserver(): ((value: unknown) => void) | undefined {
  const receipt: PublishReceipt | undefined = currentFrame()?.publishReceipt;
  if (!receipt) return undefined;
  return (count) => {
    if (typeof count !== 'number') return;
    receipt.replies++;
    receipt.subscribers += count;
  };
}

/**
 * EventStreamService.getStreamData inside an SSE subscription: whether the
 * stream was still registered in Redis when the resolver looked (a stream
 * coming back whose earlier connection was elsewhere, or never cleaned up).
 * Only the resolver's first look counts.
 */
export function streamLookup(): InvocationFactory {
  return () => {
    const scope = currentFrame()?.connection;
    if (!scope || scope.streamWasRegistered !== undefined || scope.record) return undefined;
    return (value) => {
      if (scope.streamWasRegistered === undefined) scope.streamWasRegistered = value !== undefined && value !== null;
    };
  };
}

/**
 * The resolver's subscription method (`onEventSubscription`): runs with a
 * connection scope on the async context, which SubscriptionService's
 * subscribeToEventStream (the `deliver` role) fills with the connection's
 * record. The iterator the resolver hands to GraphQL is what the transport
 * ends when the client goes away: its return() and throw() mark the
 * connection as closing, so events still coming out of Redis after that are
 * counted as handed to a closing connection.
 */
export function sseSubscribe(ctx: RoleContext): InvocationFactory {
  const { telemetry } = ctx;
  return () => {
    const scope: ConnectionScope = {};
    return {
      run: (call) => runInFrame({ connection: scope }, call),
      onReturn: () => undefined,
      onThrow: () => undefined,
      mapResult: (value) => (scope.record ? watchClosing(value, scope.record, telemetry) : value),
    };
  };
}

function watchClosing(value: unknown, record: ConnectionRecord, telemetry: Telemetry): unknown {
  if (!value || typeof value !== 'object' || typeof (value as { next?: unknown }).next !== 'function') return value;
  const target = value as Record<PropertyKey, unknown>;
  const proxy: object = new Proxy(target, {
    get(obj, property) {
      if (property === Symbol.asyncIterator) return () => proxy;
      const member = Reflect.get(obj, property, obj);
      if (typeof member !== 'function') return member;
      if (property === 'return' || property === 'throw') {
        const cause = property === 'return' ? 'client_gone' : 'error';
        return (...args: unknown[]) => {
          try {
            telemetry.connections.connectionClosing(record, cause);
          } catch (error) {
            telemetry.fault('connection.closing', error);
          }
          return (member as (...a: unknown[]) => unknown).apply(obj, args);
        };
      }
      return member.bind(obj);
    },
  });
  return proxy;
}
