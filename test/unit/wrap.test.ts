import 'reflect-metadata';
import { OnEvent } from '@nestjs/event-emitter';
import {
  copyFunctionMetadata,
  isWrapped,
  originalOf,
  wrapFunction,
  wrapMethod,
  Invocation,
} from '../../src/engine/wrap';

function recordingFactory(
  log: string[],
  opts: { throwInStart?: boolean; throwInRun?: boolean; throwInEnd?: boolean } = {},
) {
  return (): Invocation => {
    if (opts.throwInStart) throw new Error('start fault');
    return {
      run(call) {
        log.push('run');
        if (opts.throwInRun) {
          call();
          throw new Error('run fault after call');
        }
        return call();
      },
      onReturn(value) {
        log.push(`return:${String(value)}`);
        if (opts.throwInEnd) throw new Error('end fault');
      },
      onThrow(error) {
        log.push(`throw:${(error as Error).message}`);
      },
    };
  };
}

describe('wrapFunction', () => {
  it('keeps this, arguments and the sync return value', () => {
    const log: string[] = [];
    const faults: string[] = [];
    const target = {
      factor: 3,
      multiply(a: number, b: number) {
        return a * b * this.factor;
      },
    };
    const wrapped = wrapFunction(target.multiply, 'm', recordingFactory(log), (c) => faults.push(c));
    expect(wrapped.call(target, 2, 5)).toBe(30);
    expect(log).toEqual(['run', 'return:30']);
    expect(faults).toEqual([]);
  });

  it('returns the very same promise and observes resolution before the caller resumes', async () => {
    const log: string[] = [];
    const promise = Promise.resolve('ok');
    const wrapped = wrapFunction(
      () => promise,
      'm',
      recordingFactory(log),
      () => undefined,
    );
    const returned = wrapped();
    expect(returned).toBe(promise);
    await returned;
    log.push('caller');
    expect(log).toEqual(['run', 'return:ok', 'caller']);
  });

  it('rethrows the same error, sync and async', async () => {
    const log: string[] = [];
    const error = new Error('boom');
    const syncWrapped = wrapFunction(
      () => {
        throw error;
      },
      'm',
      recordingFactory(log),
      () => undefined,
    );
    expect(() => syncWrapped()).toThrow(error);
    const asyncWrapped = wrapFunction(
      async () => {
        throw error;
      },
      'm',
      recordingFactory(log),
      () => undefined,
    );
    await expect(asyncWrapped()).rejects.toBe(error);
    expect(log).toEqual(['run', 'throw:boom', 'run', 'throw:boom']);
  });

  it('keeps name and length', () => {
    function handleEvent(this: unknown, _a: unknown, _b: unknown) {
      return 1;
    }
    const wrapped = wrapFunction(handleEvent, 'm', recordingFactory([]), () => undefined);
    expect(wrapped.name).toBe('handleEvent');
    expect(wrapped.length).toBe(2);
  });

  it('swallows and reports instrumentation faults without changing the result', async () => {
    const faults: string[] = [];
    const onFault = (component: string) => faults.push(component);
    expect(wrapFunction((x: number) => x + 1, 'start', recordingFactory([], { throwInStart: true }), onFault)(1)).toBe(
      2,
    );
    expect(wrapFunction((x: number) => x + 1, 'run', recordingFactory([], { throwInRun: true }), onFault)(1)).toBe(2);
    expect(wrapFunction((x: number) => x + 1, 'end', recordingFactory([], { throwInEnd: true }), onFault)(1)).toBe(2);
    await expect(
      wrapFunction(async (x: number) => x + 1, 'end-async', recordingFactory([], { throwInEnd: true }), onFault)(1),
    ).resolves.toBe(2);
    await new Promise((r) => setImmediate(r));
    expect(faults).toEqual(['start', 'run', 'end', 'end-async']);
  });

  it('never wraps twice and remembers the original', () => {
    const original = function original() {
      return 1;
    };
    const once = wrapFunction(original, 'm', recordingFactory([]), () => undefined);
    const twice = wrapFunction(once, 'm', recordingFactory([]), () => undefined);
    expect(twice).toBe(once);
    expect(isWrapped(once)).toBe(true);
    expect(originalOf(once)).toBe(original);
  });

  it('passes an async iterator through untouched when not mapped', async () => {
    async function* numbers() {
      yield 1;
      yield 2;
    }
    const wrapped = wrapFunction(numbers, 'm', recordingFactory([]), () => undefined);
    const seen: number[] = [];
    for await (const n of wrapped()) seen.push(n);
    expect(seen).toEqual([1, 2]);
  });
});

describe('metadata', () => {
  it('keeps @OnEvent metadata when a decorated prototype method is patched later, and in both decorator orders', () => {
    class Listener {
      @OnEvent('*.created')
      handleCreate(payload: unknown) {
        return payload;
      }
    }
    const before = Reflect.getMetadata('EVENT_LISTENER_METADATA', Listener.prototype.handleCreate);
    expect(before).toBeDefined();
    expect(wrapMethod(Listener.prototype, 'handleCreate', 'c', recordingFactory([]), () => undefined)).toBe(true);
    expect(isWrapped(Listener.prototype.handleCreate)).toBe(true);
    expect(Reflect.getMetadata('EVENT_LISTENER_METADATA', Listener.prototype.handleCreate)).toEqual(before);
    expect(Reflect.getMetadataKeys(Listener.prototype.handleCreate)).toEqual(
      Reflect.getMetadataKeys(originalOf(Listener.prototype.handleCreate)),
    );
  });

  it('copies own properties of the function too', () => {
    const from = Object.assign(function f() {}, { custom: 42 });
    const to = function g() {};
    copyFunctionMetadata(from, to);
    expect((to as unknown as { custom: number }).custom).toBe(42);
  });

  it('wraps an inherited method on the class that defines it', () => {
    class Base {
      execute() {
        return 'base';
      }
    }
    class UpdateRecordWorkflowAction extends Base {}
    expect(
      wrapMethod(UpdateRecordWorkflowAction.prototype, 'execute', 'c', recordingFactory([]), () => undefined),
    ).toBe(true);
    expect(new UpdateRecordWorkflowAction().execute()).toBe('base');
    expect(isWrapped(Base.prototype.execute)).toBe(true);
    expect(
      wrapMethod(UpdateRecordWorkflowAction.prototype, 'missing', 'c', recordingFactory([]), () => undefined),
    ).toBe(false);
  });
});
