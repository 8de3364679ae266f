import { currentFrame, Facts } from '../context';
import { InvocationFactory } from '../wrap';
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
}

function record(facts: Facts, spec: ProbeSpec, value: unknown): void {
  if (spec.first && facts.has(spec.name)) return;
  facts.set(spec.name, value);
}

export function probe(ctx: RoleContext): InvocationFactory {
  const spec = ctx.probe;
  if (!spec) return () => undefined;
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
    const scope = spec.scope === 'stream' ? frame?.stream : spec.scope === 'fanout' ? frame?.fanout : frame?.stream ?? frame?.fanout;
    if (!scope) return undefined;
    if (spec.first && scope.facts.has(spec.name)) return undefined;
    return (value: unknown) => {
      const recorded = read ? read(value, args) : value;
      if (recorded !== IGNORE) record(scope.facts, spec, recorded);
    };
  };
}
