import { Injectable } from '@nestjs/common';

// Serialises critical sections per key inside one process. Twenty's lock is a
// Redis lock; the example only needs ordering within the process that writes.
@Injectable()
export class CacheLockService {
  private readonly tails = new Map<string, Promise<unknown>>();

  async withLock<T>(fn: () => Promise<T>, key: string): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    const run = previous.catch(() => undefined).then(fn);

    this.tails.set(key, run);
    try {
      return await run;
    } finally {
      if (this.tails.get(key) === run) {
        this.tails.delete(key);
      }
    }
  }
}
