import { Inject } from '@nestjs/common';

import type IORedis from 'ioredis';

import { type RedisClientService } from '../redis-client/redis-client.service';

import { CacheStorageNamespace } from './cache-storage-namespace.enum';

type MemoryEntry = { value: unknown; expiresAt: number | null };

// One process-local store per app, used when REDIS_URL is not set.
export class InMemoryCacheBackend {
  readonly entries = new Map<string, MemoryEntry>();

  read(key: string): MemoryEntry | undefined {
    const entry = this.entries.get(key);

    if (entry && entry.expiresAt !== null && entry.expiresAt <= Date.now()) {
      this.entries.delete(key);

      return undefined;
    }

    return entry;
  }
}

// Twenty's CacheStorageService: JSON values and sets under `<namespace>:<key>`.
export class CacheStorageService {
  constructor(
    private readonly namespace: CacheStorageNamespace,
    private readonly redisClientService: RedisClientService,
    private readonly memory: InMemoryCacheBackend,
  ) {}

  async get<T>(key: string): Promise<T | undefined> {
    if (this.redis) {
      const raw = await this.redis.get(this.getKey(key));

      return raw === null ? undefined : (JSON.parse(raw) as T);
    }
    const entry = this.memory.read(this.getKey(key));

    return entry ? (structuredClone(entry.value) as T) : undefined;
  }

  async set<T>(key: string, value: T, ttlMs?: number): Promise<void> {
    if (this.redis) {
      const serialized = JSON.stringify(value);

      if (ttlMs) {
        await this.redis.set(this.getKey(key), serialized, 'PX', ttlMs);
      } else {
        await this.redis.set(this.getKey(key), serialized);
      }

      return;
    }
    this.memory.entries.set(this.getKey(key), {
      value: JSON.parse(JSON.stringify(value)),
      expiresAt: ttlMs ? Date.now() + ttlMs : null,
    });
  }

  async del(key: string): Promise<void> {
    if (this.redis) {
      await this.redis.del(this.getKey(key));

      return;
    }
    this.memory.entries.delete(this.getKey(key));
  }

  async mget<T>(keys: string[]): Promise<(T | undefined)[]> {
    if (keys.length === 0) {
      return [];
    }
    if (this.redis) {
      const raws = await this.redis.mget(keys.map((key) => this.getKey(key)));

      return raws.map((raw) => (raw === null ? undefined : (JSON.parse(raw) as T)));
    }

    return Promise.all(keys.map((key) => this.get<T>(key)));
  }

  async setAdd(key: string, values: string[], ttlMs?: number): Promise<void> {
    if (values.length === 0) {
      return;
    }
    if (this.redis) {
      await this.redis.sadd(this.getKey(key), ...values);
      if (ttlMs) {
        await this.redis.pexpire(this.getKey(key), ttlMs);
      }

      return;
    }
    const members = new Set(this.readMemorySet(key));

    values.forEach((value) => members.add(value));
    this.memory.entries.set(this.getKey(key), {
      value: [...members],
      expiresAt: ttlMs ? Date.now() + ttlMs : (this.memory.read(this.getKey(key))?.expiresAt ?? null),
    });
  }

  async setRemove(key: string, values: string[]): Promise<void> {
    if (values.length === 0) {
      return;
    }
    if (this.redis) {
      await this.redis.srem(this.getKey(key), ...values);

      return;
    }
    const entry = this.memory.read(this.getKey(key));

    if (entry) {
      entry.value = this.readMemorySet(key).filter((member) => !values.includes(member));
    }
  }

  async setMembers(key: string): Promise<string[]> {
    if (this.redis) {
      return this.redis.smembers(this.getKey(key));
    }

    return this.readMemorySet(key);
  }

  async expire(key: string, ttlMs: number): Promise<boolean> {
    if (this.redis) {
      return (await this.redis.pexpire(this.getKey(key), ttlMs)) === 1;
    }
    const entry = this.memory.read(this.getKey(key));

    if (!entry) {
      return false;
    }
    entry.expiresAt = Date.now() + ttlMs;

    return true;
  }

  private readMemorySet(key: string): string[] {
    return [...((this.memory.read(this.getKey(key))?.value as string[] | undefined) ?? [])];
  }

  private get redis(): IORedis | null {
    return this.redisClientService.isRedisEnabled() ? this.redisClientService.getClient() : null;
  }

  private getKey(key: string): string {
    return `${this.namespace}:${key}`;
  }
}

export const getCacheStorageToken = (namespace: CacheStorageNamespace): string => `CACHE_STORAGE_${namespace}`;

export const InjectCacheStorage = (namespace: CacheStorageNamespace): ParameterDecorator =>
  Inject(getCacheStorageToken(namespace));
