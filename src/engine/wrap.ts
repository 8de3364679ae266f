/**
 * The one wrapper every patched method goes through, whether it was
 * patched at runtime by the register entry or by @TraceStage in source.
 *
 * Guarantees: same `this`, arguments (unless the invocation deliberately
 * passes a carrier-bearing copy), return value, thrown error, sync/async
 * behaviour and settle order; `name`, `length` and all Reflect metadata of the
 * original are kept; a method is never wrapped twice; any fault inside the
 * instrumentation is reported through `onFault` and the original call goes on.
 */

const WRAPPED = Symbol.for('opentelemetry-instrumentation-twenty-sse.original');

export interface Invocation {
  /** Arguments to call the original with, when the invocation needs a modified copy (carrier injection). */
  args?: unknown[];
  /** Runs the original call inside whatever context the stage needs. Must call `call` exactly once. */
  run<T>(call: () => T): T;
  /** The call returned (sync) or its promise resolved. */
  onReturn(value: unknown): void;
  /** The call threw (sync) or its promise rejected. */
  onThrow(error: unknown): void;
  /** Optional replacement of the resolved value (used to wrap the SSE iterator). Faults fall back to the original value. */
  mapResult?(value: unknown): unknown;
}

/** A lighter observation: called with the (resolved) return value only; no context, no error hook. */
export type ResultObserver = (value: unknown) => void;

/**
 * Decides, per call, whether and how to observe it. Undefined means: call
 * straight through; a function means: only look at the result.
 */
export type InvocationFactory = (self: unknown, args: unknown[]) => Invocation | ResultObserver | undefined;

export type FaultHandler = (component: string, error: unknown) => void;

export function isWrapped(fn: unknown): boolean {
  return typeof fn === 'function' && (fn as unknown as Record<symbol, unknown>)[WRAPPED] !== undefined;
}

export function originalOf<T>(fn: T): T {
  let current: unknown = fn;
  while (typeof current === 'function' && (current as unknown as Record<symbol, unknown>)[WRAPPED]) {
    current = (current as unknown as Record<symbol, unknown>)[WRAPPED];
  }
  return current as T;
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    value !== null &&
    (typeof value === 'object' || typeof value === 'function') &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}

type ReflectWithMetadata = typeof Reflect & {
  getOwnMetadataKeys?: (target: object) => unknown[];
  getOwnMetadata?: (key: unknown, target: object) => unknown;
  defineMetadata?: (key: unknown, value: unknown, target: object) => void;
};

/** Copies every own Reflect metadata entry and own property (e.g. Nest's, event-emitter's) from one function to another. */
export function copyFunctionMetadata(from: Function, to: Function): void {
  const reflect = Reflect as ReflectWithMetadata;
  if (reflect.getOwnMetadataKeys && reflect.getOwnMetadata && reflect.defineMetadata) {
    for (const key of reflect.getOwnMetadataKeys(from)) {
      reflect.defineMetadata(key, reflect.getOwnMetadata(key, from), to);
    }
  }
  for (const key of Reflect.ownKeys(from)) {
    if (key === 'name' || key === 'length' || key === 'prototype' || key === 'arguments' || key === 'caller') continue;
    if (key === WRAPPED) continue;
    const descriptor = Object.getOwnPropertyDescriptor(from, key);
    if (descriptor && !Object.prototype.hasOwnProperty.call(to, key)) Object.defineProperty(to, key, descriptor);
  }
}

export function wrapFunction<F extends Function>(
  original: F,
  component: string,
  factory: InvocationFactory,
  onFault: FaultHandler,
): F {
  if (isWrapped(original)) return original;

  const wrapped = function (this: unknown, ...args: unknown[]): unknown {
    let invocation: Invocation | ResultObserver | undefined;
    try {
      invocation = factory(this, args);
    } catch (error) {
      onFault(component, error);
    }
    if (!invocation) return original.apply(this, args);
    if (typeof invocation === 'function') {
      const observe = invocation;
      const value = original.apply(this, args);
      if (isThenable(value)) {
        value.then(
          (resolved) => observeSafely(observe, resolved, component, onFault),
          () => undefined,
        );
      } else observeSafely(observe, value, component, onFault);
      return value;
    }

    const inv = invocation;
    const callArgs = inv.args ?? args;
    let called = false;
    let appThrew = false;
    let appError: unknown;
    let appResult: unknown;
    const call = () => {
      called = true;
      try {
        appResult = original.apply(this, callArgs);
        return appResult;
      } catch (error) {
        appThrew = true;
        appError = error;
        throw error;
      }
    };

    let result: unknown;
    try {
      result = inv.run(call);
    } catch (error) {
      if (appThrew && error === appError) {
        settleThrow(inv, error, component, onFault);
        throw error;
      }
      // The fault is ours: never let it change what Twenty sees.
      onFault(component, error);
      if (!called) return original.apply(this, args);
      if (appThrew) throw appError;
      result = appResult;
    }

    if (isThenable(result)) {
      if (inv.mapResult) {
        return (result as Promise<unknown>).then(
          (value) => {
            const out = mapSafely(inv, value, component, onFault);
            settleReturn(inv, value, component, onFault);
            return out;
          },
          (error) => {
            settleThrow(inv, error, component, onFault);
            throw error;
          },
        );
      }
      // Observe on a side branch and hand back the very same promise: same identity, same settle order.
      result.then(
        (value) => settleReturn(inv, value, component, onFault),
        (error) => settleThrow(inv, error, component, onFault),
      );
      return result;
    }

    const out = inv.mapResult ? mapSafely(inv, result, component, onFault) : result;
    settleReturn(inv, result, component, onFault);
    return out;
  };

  Object.defineProperty(wrapped, 'name', { value: original.name, configurable: true });
  Object.defineProperty(wrapped, 'length', { value: original.length, configurable: true });
  Object.defineProperty(wrapped, WRAPPED, { value: original, enumerable: false });
  copyFunctionMetadata(original, wrapped);
  return wrapped as unknown as F;
}

function observeSafely(observe: ResultObserver, value: unknown, component: string, onFault: FaultHandler): void {
  try {
    observe(value);
  } catch (error) {
    onFault(component, error);
  }
}

function settleReturn(inv: Invocation, value: unknown, component: string, onFault: FaultHandler): void {
  try {
    inv.onReturn(value);
  } catch (error) {
    onFault(component, error);
  }
}

function settleThrow(inv: Invocation, error: unknown, component: string, onFault: FaultHandler): void {
  try {
    inv.onThrow(error);
  } catch (fault) {
    onFault(component, fault);
  }
}

/** The invocation's replacement of the result; the original result when the mapping faults. */
function mapSafely(inv: Invocation, value: unknown, component: string, onFault: FaultHandler): unknown {
  try {
    return (inv.mapResult as (value: unknown) => unknown).call(inv, value);
  } catch (error) {
    onFault(component, error);
    return value;
  }
}

/** Told where a method was replaced and what its property looked like before, so the patch can be undone exactly. */
export type PatchRecorder = (owner: object, methodName: string, previous: PropertyDescriptor) => void;

/**
 * Wraps `methodName` where it is defined on `prototype`'s chain (own or
 * inherited, below Object.prototype). Returns false when there is no such
 * method. Idempotent.
 */
export function wrapMethod(
  prototype: object,
  methodName: string,
  component: string,
  factory: InvocationFactory,
  onFault: FaultHandler,
  onPatched?: PatchRecorder,
): boolean {
  let owner: object | null = prototype;
  while (owner && owner !== Object.prototype && owner !== Function.prototype) {
    const descriptor = Object.getOwnPropertyDescriptor(owner, methodName);
    if (descriptor) {
      if (typeof descriptor.value !== 'function') return false;
      if (isWrapped(descriptor.value)) return true;
      const wrapped = wrapFunction(descriptor.value as Function, component, factory, onFault);
      Object.defineProperty(owner, methodName, { ...descriptor, value: wrapped });
      onPatched?.(owner, methodName, descriptor);
      return true;
    }
    owner = Object.getPrototypeOf(owner);
  }
  return false;
}

export function hasMethod(prototype: object, methodName: string): boolean {
  let owner: object | null = prototype;
  while (owner && owner !== Object.prototype) {
    const descriptor = Object.getOwnPropertyDescriptor(owner, methodName);
    if (descriptor) return typeof descriptor.value === 'function';
    owner = Object.getPrototypeOf(owner);
  }
  return false;
}
