import { Attributes, SpanKind, context as otelContext, trace } from '@opentelemetry/api';
import { ConnectionRecord } from '../../otel/connections';
import { Telemetry } from '../../otel/telemetry';
import { ATTR, CloseReason, MESSAGING_OPERATIONS, MESSAGING_SYSTEM_REDIS, Origin } from '../../semconv';
import { detachCarrier, parseCarrier } from '../carrier';
import { currentFrame, dominantOrigin } from '../context';
import { AppModel } from '../model';
import { StageRun } from '../stage-run';
import { InvocationFactory } from '../wrap';
import { RoleContext } from './types';

/**
 * The subscription method: its resolved iterator is one SSE connection's
 * Redis subscription. Each payload read from it is one `deliver`; the
 * iterator's life is the connection's (opened, closed and why, lifetime).
 */
export function deliverRole(ctx: RoleContext): InvocationFactory {
  const spanName = `${ctx.className}.${ctx.methodName}`;
  const { telemetry, model } = ctx;
  return (_self, args) => {
    const scope = currentFrame()?.connection;
    return {
      run: (call) => call(),
      onReturn: () => undefined,
      onThrow: () => undefined,
      mapResult: (value) => {
        if (!isAsyncIterator(value)) return value;
        const record = telemetry.connections.connectionOpened(
          model.readSubscribe(args)?.channelId,
          scope?.streamWasRegistered,
        );
        if (scope) scope.record = record;
        return wrapDeliveryIterator(value, telemetry, spanName, model, record);
      },
    };
  };
}

function isAsyncIterator(value: unknown): value is AsyncIterator<unknown> {
  return !!value && typeof value === 'object' && typeof (value as { next?: unknown }).next === 'function';
}

/**
 * Wraps the AsyncIterator of one SSE connection's Redis subscription (in the
 * API server): each payload pulled from it is one `deliver` invocation. The
 * carrier is removed before the payload goes on; everything else (return,
 * throw, Symbol.asyncIterator, other properties) behaves as the original.
 * With a connection record, the iterator's end is the connection's close:
 * return() (the transport ending it), throw() and a failed next() (error),
 * or a next() that reports done without either.
 */
export function wrapDeliveryIterator(
  value: unknown,
  telemetry: Telemetry,
  spanName: string,
  model: AppModel,
  connection?: ConnectionRecord,
): unknown {
  if (!isAsyncIterator(value)) return value;
  const target = value as AsyncIterator<unknown> & Record<PropertyKey, unknown>;
  const closed = (cause: CloseReason) => {
    if (!connection) return;
    try {
      telemetry.connections.connectionClosed(connection, cause);
    } catch (error) {
      telemetry.fault('connection.close', error);
    }
  };
  const proxy: AsyncIterator<unknown> = new Proxy(target, {
    get(obj, property) {
      if (property === 'next') {
        return (...nextArgs: [] | [unknown]) => {
          const pending = obj.next(...nextArgs);
          if (!pending || typeof (pending as Promise<unknown>).then !== 'function') return pending;
          return (pending as Promise<IteratorResult<unknown>>).then(
            (result) => {
              if (result && result.done) closed('error');
              return deliver(result, telemetry, spanName, model, connection);
            },
            (error: unknown) => {
              closed('error');
              throw error;
            },
          );
        };
      }
      if (property === Symbol.asyncIterator) return () => proxy;
      const member = Reflect.get(obj, property, obj);
      if (typeof member !== 'function') return member;
      if (connection && (property === 'return' || property === 'throw')) {
        const cause: CloseReason = property === 'return' ? 'client_gone' : 'error';
        return (...callArgs: unknown[]) => {
          closed(cause);
          return (member as (...a: unknown[]) => unknown).apply(obj, callArgs);
        };
      }
      return member.bind(obj);
    },
  });
  return proxy;
}

function consumerAttributes(template: string): Attributes {
  return {
    [ATTR.MESSAGING_SYSTEM]: MESSAGING_SYSTEM_REDIS,
    [ATTR.MESSAGING_OPERATION_NAME]: MESSAGING_OPERATIONS.deliver.name,
    [ATTR.MESSAGING_OPERATION_TYPE]: MESSAGING_OPERATIONS.deliver.type,
    [ATTR.MESSAGING_DESTINATION_TEMPLATE]: template,
  };
}

function deliver(
  result: IteratorResult<unknown>,
  telemetry: Telemetry,
  spanName: string,
  model: AppModel,
  connection: ConnectionRecord | undefined,
): IteratorResult<unknown> {
  if (!result || result.done) return result;
  let detached: ReturnType<typeof detachCarrier>;
  try {
    detached = detachCarrier(result.value);
  } catch (error) {
    telemetry.fault('deliver.detach', error);
    return result;
  }
  const clean: IteratorResult<unknown> = detached.present ? { ...result, value: detached.payload } : result;
  try {
    const found = model.payload.items(detached.payload);
    if (!found || found.items.length === 0) return clean;
    const now = Date.now();
    const parsed = parseCarrier(detached.raw, found.items.length, now);
    const origins: Origin[] = parsed.origins ?? found.items.map(() => 'unknown' as Origin);
    const counts = new Map<Origin, number>();
    for (const origin of origins) counts.set(origin, (counts.get(origin) ?? 0) + 1);
    const producer = parsed.context ? trace.getSpanContext(parsed.context) : undefined;
    const destination = model.eventStreamDestination;
    const run = new StageRun(
      telemetry,
      'deliver',
      `${MESSAGING_OPERATIONS.deliver.name} ${destination.name}`,
      dominantOrigin(counts),
      {
        kind: SpanKind.CONSUMER,
        // Single-payload processing: the producer's context is the parent (one trace from worker to browser) and also a link.
        parent: parsed.context ?? otelContext.active(),
        links: producer ? [{ context: producer }] : undefined,
      },
    );
    run.describe(consumerAttributes(destination.template), {
      [ATTR.CODE_FUNCTION]: spanName,
      [ATTR.MESSAGING_BATCH_MESSAGE_COUNT]: found.items.length,
    });
    run.addAll('forwarded', counts);
    if (connection) {
      for (const [origin, count] of counts) {
        if (!telemetry.connections.lateEventsHandedOver(connection, origin, count)) break;
      }
    }
    const since = parsed.emittedAt ?? parsed.publishedAt;
    if (since !== undefined) {
      const seconds = Math.max(0, now - since) / 1000;
      for (const origin of origins) telemetry.recordDeliveryLatency(origin, seconds);
    }
    run.end();
  } catch (error) {
    telemetry.fault('deliver', error);
  }
  return clean;
}
