import { FaultHandler, InvocationFactory, wrapMethod } from './wrap';

/**
 * The methods one owner (the instrumentation, the Nest hook) replaced, each
 * with the exact property descriptor it had before. `restore()` puts those
 * descriptors back, newest first, so a prototype ends up identical to the one
 * Twenty or Nest defined: same function object, same flags.
 */
export class PatchSet {
  private entries: { owner: object; methodName: string; previous: PropertyDescriptor }[] = [];

  wrap(
    prototype: object,
    methodName: string,
    component: string,
    factory: InvocationFactory,
    onFault: FaultHandler,
  ): boolean {
    return wrapMethod(prototype, methodName, component, factory, onFault, (owner, name, previous) => {
      this.entries.push({ owner, methodName: name, previous });
    });
  }

  get size(): number {
    return this.entries.length;
  }

  restore(): void {
    const entries = this.entries;
    this.entries = [];
    for (let i = entries.length - 1; i >= 0; i--) {
      const { owner, methodName, previous } = entries[i];
      Object.defineProperty(owner, methodName, previous);
    }
  }
}
