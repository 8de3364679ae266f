/**
 * Per-event results of the app's helper methods inside one per-stream
 * invocation, each tied to the event it was called with and never to the
 * order of the calls: an event skipped before any helper call must not take
 * the next event's result.
 *
 * A call is tied to its event by identity first (the event object, or an
 * object the app passes on by reference, such as a shallow copy's nested
 * record), then by a record key. Keys can repeat within a batch (two changes
 * of one record); such calls are assigned, in call order, to the events with
 * that key that could have reached the helper, in batch order. Which events
 * could have reached it is for the caller's drop rules to say.
 */

/** How the app's events are recognised (supplied by the app model; the engine knows no field names). */
export interface EventIdentity {
  /** Objects that stand for one event wherever the app passes it on (the event, and what its copies share by reference). */
  handles(event: unknown): readonly object[];
  /** A key naming the event's record; may repeat within a batch. */
  key(event: unknown): string | undefined;
}

interface Call {
  probe: string;
  value: unknown;
  /** The event's index when identity told it. */
  index: number | undefined;
  /** Otherwise the call whose derived object this event was. */
  via: Call | undefined;
  key: string | undefined;
}

const NONE = Symbol('none');
type Slot = unknown | typeof NONE;

interface Resolution {
  reaches: ((index: number) => boolean) | undefined;
  values: Slot[];
  callIndex: Map<Call, number>;
}

export class EventLedger {
  private base: Map<object, number> | undefined;
  /** Objects the app derived from an event inside this invocation (its own filtered copies). */
  private derivedHandles: Map<object, Call | number> | undefined;
  private byKey: Map<string, number[]> | undefined;
  private readonly calls: Call[] = [];
  /** Calls not yet tied to their events: probe, event, value, derived, flat. */
  private readonly pending: unknown[] = [];
  private readonly resolutions = new Map<string, Resolution>();

  constructor(
    readonly events: readonly unknown[],
    private readonly identity: EventIdentity,
  ) {}

  /**
   * Records what `probe` returned for `event`. `derived` is an object the app
   * goes on with in place of the event (a filtered copy, say): later calls
   * made with it are tied to the same event.
   *
   * Only stored here: which event a call was about is worked out, in call
   * order, the first time a result is asked for. A stream whose events were
   * all published never asks, so routine traffic pays for the push only.
   */
  record(probe: string, event: unknown, value: unknown, derived?: unknown): void {
    this.pending.push(probe, event, value, derived);
    if (this.resolutions.size > 0) this.resolutions.delete(probe);
  }

  /** Ties the stored calls to their events, in the order they were made. */
  private settle(): void {
    const pending = this.pending;
    if (pending.length === 0) return;
    for (let i = 0; i < pending.length; i += 4) {
      this.tie(pending[i] as string, pending[i + 1], pending[i + 2], pending[i + 3]);
    }
    pending.length = 0;
  }

  private tie(probe: string, event: unknown, value: unknown, derived: unknown): void {
    const base = (this.base ??= baseHandles(this.events, this.identity));
    const derivedHandles = this.derivedHandles;
    let index: number | undefined;
    let via: Call | undefined;
    for (const handle of this.identity.handles(event)) {
      const found = base.get(handle) ?? derivedHandles?.get(handle);
      if (found === undefined) continue;
      if (typeof found === 'number') index = found;
      else via = found;
      break;
    }
    const call: Call = {
      probe,
      value,
      index,
      via,
      key: index === undefined && via === undefined ? this.identity.key(event) : undefined,
    };
    this.calls.push(call);
    if (derived !== undefined && derived !== event) {
      for (const handle of this.identity.handles(derived)) {
        if (base.has(handle)) continue;
        const map = (this.derivedHandles ??= new Map());
        if (!map.has(handle)) map.set(handle, index ?? call);
      }
    }
  }

  /** Whether `probe` was called for the event at `index`. */
  has(index: number, probe: string, reaches?: (index: number) => boolean): boolean {
    return this.resolve(probe, reaches).values[index] !== NONE;
  }

  /** What `probe` returned for the event at `index` (undefined when it was not called for it). */
  get(index: number, probe: string, reaches?: (index: number) => boolean): unknown {
    const value = this.resolve(probe, reaches).values[index];
    return value === NONE ? undefined : value;
  }

  private keyGroups(): Map<string, number[]> {
    if (this.byKey) return this.byKey;
    const groups = new Map<string, number[]>();
    this.events.forEach((event, index) => {
      const key = this.identity.key(event);
      if (key === undefined) return;
      const group = groups.get(key);
      if (group) group.push(index);
      else groups.set(key, [index]);
    });
    this.byKey = groups;
    return groups;
  }

  private indexOfCall(call: Call, depth = 0): number | undefined {
    if (call.index !== undefined) return call.index;
    if (call.via) return depth > 8 ? undefined : this.indexOfCall(call.via, depth + 1);
    return this.resolve(call.probe, undefined).callIndex.get(call);
  }

  private resolve(probe: string, reaches: ((index: number) => boolean) | undefined): Resolution {
    this.settle();
    const cached = this.resolutions.get(probe);
    if (cached && cached.reaches === reaches) return cached;
    const values: Slot[] = new Array(this.events.length).fill(NONE);
    // Only calls tied by a derived object or a key need this (a call tied by identity knows its index).
    const callIndex = new Map<Call, number>();
    const resolution: Resolution = { reaches, values, callIndex };
    this.resolutions.set(probe, resolution);
    let byKey: Map<string, Call[]> | undefined;
    const calls = this.calls;
    for (let i = 0; i < calls.length; i++) {
      const call = calls[i];
      if (call.probe !== probe) continue;
      if (call.key !== undefined) {
        byKey ??= new Map();
        const list = byKey.get(call.key);
        if (list) list.push(call);
        else byKey.set(call.key, [call]);
        continue;
      }
      if (call.index !== undefined) {
        if (values[call.index] === NONE) values[call.index] = call.value;
        continue;
      }
      const index = call.via ? this.indexOfCall(call.via) : undefined;
      if (index === undefined || values[index] !== NONE) continue;
      values[index] = call.value;
      callIndex.set(call, index);
    }
    if (!byKey) return resolution;
    for (const [key, calls] of byKey) {
      const group = (this.keyGroups().get(key) ?? []).filter(
        (index) => values[index] === NONE && (!reaches || reaches(index)),
      );
      for (let i = 0; i < calls.length && i < group.length; i++) {
        values[group[i]] = calls[i].value;
        callIndex.set(calls[i], group[i]);
      }
    }
    return resolution;
  }
}

// Every stream of one fan-out gets the same events array: which object stands for which event is worked out once.
const baseByEvents = new WeakMap<readonly unknown[], { identity: EventIdentity; map: Map<object, number> }>();

function baseHandles(events: readonly unknown[], identity: EventIdentity): Map<object, number> {
  const cached = baseByEvents.get(events);
  if (cached && cached.identity === identity) return cached.map;
  const map = new Map<object, number>();
  for (let index = 0; index < events.length; index++) {
    for (const handle of identity.handles(events[index])) if (!map.has(handle)) map.set(handle, index);
  }
  baseByEvents.set(events, { identity, map });
  return map;
}
