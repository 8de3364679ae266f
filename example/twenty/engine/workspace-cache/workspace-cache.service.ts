import { Injectable } from '@nestjs/common';

import { CacheStorageNamespace } from '../core-modules/cache-storage/cache-storage-namespace.enum';
import { CacheStorageService, InjectCacheStorage } from '../core-modules/cache-storage/cache-storage.service';

import { emptyWorkspaceCacheEntries, type WorkspaceCacheEntries, type WorkspaceCacheKey } from './workspace-cache.type';

// Twenty recomputes missing entries from Postgres; here the seed writes them
// and every process reads the same copy (Redis when REDIS_URL is set).
@Injectable()
export class WorkspaceCacheService {
  constructor(
    @InjectCacheStorage(CacheStorageNamespace.EngineWorkspace)
    private readonly cacheStorageService: CacheStorageService,
  ) {}

  async getOrRecompute<K extends WorkspaceCacheKey>(
    workspaceId: string,
    keys: K[],
  ): Promise<Pick<WorkspaceCacheEntries, K>> {
    const entries = await this.getEntries(workspaceId);

    return Object.fromEntries(keys.map((key) => [key, entries[key]])) as Pick<WorkspaceCacheEntries, K>;
  }

  async updateEntries(
    workspaceId: string,
    update: (entries: WorkspaceCacheEntries) => void,
  ): Promise<WorkspaceCacheEntries> {
    const entries = await this.getEntries(workspaceId);

    update(entries);
    await this.cacheStorageService.set(this.getKey(workspaceId), entries);

    return entries;
  }

  private async getEntries(workspaceId: string): Promise<WorkspaceCacheEntries> {
    const stored = await this.cacheStorageService.get<Partial<WorkspaceCacheEntries>>(this.getKey(workspaceId));

    return { ...emptyWorkspaceCacheEntries(), ...stored };
  }

  private getKey(workspaceId: string): string {
    return `workspaceCache:${workspaceId}`;
  }
}
