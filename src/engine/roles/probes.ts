import { currentFrame, Facts } from '../context';
import { InvocationFactory, isWrapped, wrapFunction } from '../wrap';
import { RoleContext } from './types';

/** Returned by ProbeSpec.read to record nothing for this call. */
export const IGNORE: unique symbol = Symbol('ignore');

/**
 * A helper method whose result tells why units were dropped. Its result is
 * recorded in the enclosing stream or fan-out scope, never changed.
 */
export interface ProbeSpec {
  /** Name the result is recorded under. */
  name: string;
  /** The stream scope, the fan-out scope, or the stream scope when inside one and else the fan-out's. */
  scope: 'stream' | 'fanout' | 'nearest';
  /** What to record from the resolved value (default: the value itself; IGNORE: nothing). */
  read?(value: unknown, args: unknown[]): unknown;
  /** Keep the scope's first result (default: the last one). */
  first?: boolean;
  /** Per event: the event the call is about. Its result is then tied to that event in the stream's ledger. */
  eventOf?(args: unknown[]): unknown;
  /** Per event: the result stands in for the event from now on (a filtered copy the app goes on with). */
  derives?: boolean;
  /**
   * The result is an object (e.g. an access gate built once per batch) whose
   * named methods are probes themselves: they are wrapped on that object, so
   * each later call is observed in whatever scope it is made.
   */
  resultMethods?: Record<string, ProbeSpec>;
}

function record(facts: Facts, spec: ProbeSpec, value: unknown): void {
  if (spec.first && facts.has(spec.name)) return;
  facts.set(spec.name, value);
}

export function probe(ctx: RoleContext): InvocationFactory {
  const spec = ctx.probe;
  if (!spec) return () => undefined;
  if (spec.resultMethods) return resultMethodsProbe(ctx, spec.resultMethods);
  return probeCall(spec);
}

function probeCall(spec: ProbeSpec): InvocationFactory {
  const read = spec.read;
  return (_self, args) => {
    const frame = currentFrame();
    if (spec.eventOf) {
      const stream = frame?.stream;
      if (!stream) return undefined;
      const event = spec.eventOf(args);
      return (value: unknown) => {
        const recorded = read ? read(value, args) : value;
        if (recorded === IGNORE) return;
        stream.ledger.record(spec.name, event, recorded, spec.derives ? value : undefined);
      };
    }
    const scope =
      spec.scope === 'stream'
        ? frame?.stream
        : spec.scope === 'fanout'
          ? frame?.fanout
          : (frame?.stream ?? frame?.fanout);
    if (!scope) return undefined;
    if (spec.first && scope.facts.has(spec.name)) return undefined;
    return (value: unknown) => {
      const recorded = read ? read(value, args) : value;
      if (recorded !== IGNORE) record(scope.facts, spec, recorded);
    };
  };
}

/**
 * Wraps the named methods of the returned object with the same wrapper as any
 * target (same `this`, arguments, result and throw): the object the app gets
 * back is the very same object.
 */
function resultMethodsProbe(ctx: RoleContext, methods: Record<string, ProbeSpec>): InvocationFactory {
  const factories = Object.entries(methods).map(([name, spec]) => [name, probeCall(spec)] as const);
  const onFault = (component: string, error: unknown) => ctx.telemetry.fault(component, error);
  return () => (value: unknown) => {
    if (!value || (typeof value !== 'object' && typeof value !== 'function')) return;
    for (const [name, factory] of factories) {
      const own = Object.getOwnPropertyDescriptor(value, name);
      const method = own ? own.value : (value as Record<string, unknown>)[name];
      // a frozen or accessor-defined method stays as it is: observing is never worth changing the object
      if (typeof method !== 'function' || isWrapped(method)) continue;
      if (own ? !own.writable || !own.configurable || 'get' in own : !Object.isExtensible(value)) continue;
      const wrapped = wrapFunction(
        method as Function,
        `${ctx.className}.${ctx.methodName}().${name}`,
        factory,
        onFault,
      );
      Object.defineProperty(
        value,
        name,
        own ? { ...own, value: wrapped } : { value: wrapped, writable: true, configurable: true, enumerable: false },
      );
    }
  };
}
