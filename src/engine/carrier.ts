import { Context, ROOT_CONTEXT, TextMapGetter, TextMapSetter } from '@opentelemetry/api';
import { core } from '@opentelemetry/sdk-node';
import { CARRIER_KEY, ORIGINS, Origin } from '../semconv';
import type { PayloadModel } from './model';

/**
 * What rides with an event-stream payload through Redis pub/sub.
 *
 * Where it rides depends on the payload's shape (the app model tells it):
 * - object payloads: a reserved top-level key. The app's GraphQL resolver
 *   keeps only the keys its type declares, so a server without this package
 *   drops it.
 * - bare-array payloads: a top-level key on an array is lost by JSON, so the
 *   carrier rides as a reserved key on the FIRST item. GraphQL serializes only
 *   the selected fields of each item, so again a server without this package
 *   drops it.
 *
 * The carrier is telemetry only. Nothing in it is trusted for any decision:
 * a forged origin can only mislabel a metric, never change what is delivered.
 */
export interface Carrier {
  v: 1;
  traceparent?: string;
  tracestate?: string;
  /** Origin of each event item, in payload order. */
  origins: Origin[];
  /** Epoch milliseconds at publish. */
  publishedAt: number;
  /** Epoch milliseconds at emit (the earliest event of the batch), when the emit stage saw it. */
  emittedAt?: number;
}

const propagator = new core.W3CTraceContextPropagator();

const setter: TextMapSetter<Record<string, unknown>> = {
  set(carrier, key, value) {
    carrier[key] = value;
  },
};

const getter: TextMapGetter<Record<string, unknown>> = {
  keys: (carrier) => Object.keys(carrier),
  get(carrier, key) {
    const value = carrier[key];
    return typeof value === 'string' ? value : undefined;
  },
};

export function buildCarrier(context: Context, origins: Origin[], publishedAt: number, emittedAt?: number): Carrier {
  const fields: Record<string, unknown> = {};
  propagator.inject(context, fields, setter);
  const carrier: Carrier = { v: 1, origins, publishedAt };
  if (emittedAt !== undefined) carrier.emittedAt = emittedAt;
  if (typeof fields.traceparent === 'string') carrier.traceparent = fields.traceparent;
  if (typeof fields.tracestate === 'string') carrier.tracestate = fields.tracestate;
  return carrier;
}

/** A copy of the payload with the carrier attached; the caller's payload is never mutated. */
export function attachCarrier(payload: unknown, carrier: Carrier, model: PayloadModel): unknown {
  const found = model.items(payload);
  if (!found || found.items.length === 0) return payload;
  // Object.assign + a keyed write, not `{ ...x, [key]: v }`: a literal that starts with a spread is slow on Node 20.
  if (found.shape === 'object') return withCarrier(payload as object, carrier);
  const first = found.items[0];
  if (!first || typeof first !== 'object' || Array.isArray(first)) return payload;
  const items = found.items.slice();
  items[0] = withCarrier(first, carrier);
  return items;
}

function withCarrier(value: object, carrier: Carrier): Record<string, unknown> {
  // Object.assign would turn an own `__proto__` key into a prototype change; the spread copies it as a key.
  const copy = (
    Object.prototype.hasOwnProperty.call(value, '__proto__') ? { ...value } : Object.assign({}, value)
  ) as Record<string, unknown>;
  copy[CARRIER_KEY] = carrier;
  return copy;
}

/**
 * Splits a received payload into the payload as it would be without this
 * package (carrier removed, copy made only when there was one) and the raw
 * carrier value, if any.
 */
export function detachCarrier(payload: unknown): { payload: unknown; raw: unknown; present: boolean } {
  if (Array.isArray(payload)) {
    const first = payload[0];
    if (first && typeof first === 'object' && Object.prototype.hasOwnProperty.call(first, CARRIER_KEY)) {
      const { [CARRIER_KEY]: raw, ...cleanFirst } = first as Record<string, unknown>;
      return { payload: [cleanFirst, ...payload.slice(1)], raw, present: true };
    }
    return { payload, raw: undefined, present: false };
  }
  if (payload && typeof payload === 'object' && Object.prototype.hasOwnProperty.call(payload, CARRIER_KEY)) {
    const { [CARRIER_KEY]: raw, ...clean } = payload as Record<string, unknown>;
    return { payload: clean, raw, present: true };
  }
  return { payload, raw: undefined, present: false };
}

const TRACEPARENT = /^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/;
const MAX_CLOCK_SKEW_MS = 60_000;
const MAX_AGE_MS = 24 * 3600_000;

export interface ParsedCarrier {
  context: Context | undefined;
  origins: Origin[] | undefined;
  publishedAt: number | undefined;
  emittedAt: number | undefined;
}

/** Validates a raw carrier field by field; anything malformed is ignored, never thrown. */
export function parseCarrier(raw: unknown, itemCount: number, now: number): ParsedCarrier {
  const result: ParsedCarrier = {
    context: undefined,
    origins: undefined,
    publishedAt: undefined,
    emittedAt: undefined,
  };
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) return result;
  const carrier = raw as Record<string, unknown>;
  if (typeof carrier.traceparent === 'string' && TRACEPARENT.test(carrier.traceparent)) {
    const fields: Record<string, unknown> = { traceparent: carrier.traceparent };
    if (typeof carrier.tracestate === 'string' && carrier.tracestate.length <= 512)
      fields.tracestate = carrier.tracestate;
    result.context = propagator.extract(ROOT_CONTEXT, fields, getter);
  }
  if (
    Array.isArray(carrier.origins) &&
    carrier.origins.length === itemCount &&
    carrier.origins.every((origin) => typeof origin === 'string' && (ORIGINS as readonly string[]).includes(origin))
  ) {
    result.origins = carrier.origins as Origin[];
  }
  const plausibleTime = (value: unknown): number | undefined =>
    typeof value === 'number' && Number.isFinite(value) && value <= now + MAX_CLOCK_SKEW_MS && value >= now - MAX_AGE_MS
      ? value
      : undefined;
  result.publishedAt = plausibleTime(carrier.publishedAt);
  // emit happens before publish; an emit time after the publish time is not plausible
  const emittedAt = plausibleTime(carrier.emittedAt);
  if (emittedAt !== undefined && (result.publishedAt === undefined || emittedAt <= result.publishedAt))
    result.emittedAt = emittedAt;
  return result;
}
