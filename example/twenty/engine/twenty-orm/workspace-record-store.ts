import { Injectable } from '@nestjs/common';

import { CacheStorageNamespace } from '../core-modules/cache-storage/cache-storage-namespace.enum';
import { CacheStorageService, InjectCacheStorage } from '../core-modules/cache-storage/cache-storage.service';

export type ObjectRecord = Record<string, unknown> & { id: string };

// Postgres stand-in for workspace records: one JSON value per record plus an
// id set per object, in Redis when REDIS_URL is set so server and worker agree.
@Injectable()
export class WorkspaceRecordStore {
  constructor(
    @InjectCacheStorage(CacheStorageNamespace.ExampleRecords)
    private readonly cacheStorageService: CacheStorageService,
  ) {}

  async findByIds(workspaceId: string, objectNameSingular: string, ids: string[]): Promise<ObjectRecord[]> {
    const records = await this.cacheStorageService.mget<ObjectRecord>(
      ids.map((id) => this.getRecordKey(workspaceId, objectNameSingular, id)),
    );

    return records.filter((record): record is ObjectRecord => record !== undefined);
  }

  async findAll(workspaceId: string, objectNameSingular: string): Promise<ObjectRecord[]> {
    const ids = await this.cacheStorageService.setMembers(this.getIdsKey(workspaceId, objectNameSingular));

    return this.findByIds(workspaceId, objectNameSingular, ids);
  }

  async save(workspaceId: string, objectNameSingular: string, records: ObjectRecord[]): Promise<void> {
    for (const record of records) {
      await this.cacheStorageService.set(this.getRecordKey(workspaceId, objectNameSingular, record.id), record);
    }
    await this.cacheStorageService.setAdd(
      this.getIdsKey(workspaceId, objectNameSingular),
      records.map((record) => record.id),
    );
  }

  async remove(workspaceId: string, objectNameSingular: string, ids: string[]): Promise<void> {
    for (const id of ids) {
      await this.cacheStorageService.del(this.getRecordKey(workspaceId, objectNameSingular, id));
    }
    await this.cacheStorageService.setRemove(this.getIdsKey(workspaceId, objectNameSingular), ids);
  }

  private getRecordKey(workspaceId: string, objectNameSingular: string, id: string) {
    return `record:${workspaceId}:${objectNameSingular}:${id}`;
  }

  private getIdsKey(workspaceId: string, objectNameSingular: string) {
    return `records:${workspaceId}:${objectNameSingular}`;
  }
}
