import { type CacheLockService } from './cache-lock.service';

// Twenty's @WithLock(argKey): runs the method under cacheLockService.withLock,
// keyed by the named property of the first argument. Applied at definition time.
export function WithLock(lockKeyArgName: string): MethodDecorator {
  return (_target, propertyKey, descriptor: PropertyDescriptor) => {
    const originalMethod = descriptor.value as (...args: unknown[]) => Promise<unknown>;

    descriptor.value = async function (this: { cacheLockService: CacheLockService }, ...args: unknown[]) {
      const lockKey = (args[0] as Record<string, unknown> | undefined)?.[lockKeyArgName];

      return this.cacheLockService.withLock(
        () => originalMethod.apply(this, args),
        `${String(propertyKey)}:${String(lockKey)}`,
      );
    };
    Object.defineProperty(descriptor.value, 'name', { value: originalMethod.name });

    return descriptor;
  };
}
