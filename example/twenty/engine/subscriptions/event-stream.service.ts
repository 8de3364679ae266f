import { Injectable } from '@nestjs/common';

import { isDefined } from '../../twenty-shared/utils';
import { type RecordOrMetadataGqlOperationSignature } from '../../twenty-shared/types';
import { type SerializableAuthContext } from '../core-modules/auth/types/auth-context.type';
import { CacheLockService } from '../core-modules/cache-lock/cache-lock.service';
import { WithLock } from '../core-modules/cache-lock/with-lock.decorator';
import { CacheStorageNamespace } from '../core-modules/cache-storage/cache-storage-namespace.enum';
import { CacheStorageService, InjectCacheStorage } from '../core-modules/cache-storage/cache-storage.service';

import { EVENT_STREAM_TTL_MS } from './constants/event-stream-ttl.constant';
import { EventStreamException, EventStreamExceptionCode } from './event-stream.exception';
import { type EventStreamData } from './types/event-stream-data.type';

// The EventStreamService of the permission-aware versions (V3 onwards, kept
// by the ObjectRecordEventPublisher): stream state only, no event matching.
@Injectable()
export class EventStreamService {
  constructor(
    @InjectCacheStorage(CacheStorageNamespace.EngineSubscriptions)
    private readonly cacheStorageService: CacheStorageService,
    private readonly cacheLockService: CacheLockService,
  ) {}

  async createEventStream({
    workspaceId,
    eventStreamChannelId,
    authContext,
  }: {
    workspaceId: string;
    eventStreamChannelId: string;
    authContext: SerializableAuthContext;
  }): Promise<void> {
    const key = this.getEventStreamKey(workspaceId, eventStreamChannelId);

    const existing = await this.cacheStorageService.get<EventStreamData>(key);

    if (isDefined(existing)) {
      throw new EventStreamException(
        'Event stream already exists',
        EventStreamExceptionCode.EVENT_STREAM_ALREADY_EXISTS,
      );
    }

    const streamData: EventStreamData = {
      authContext,
      workspaceId,
      queries: {},
      createdAt: Date.now(),
    };

    await this.cacheStorageService.set(key, streamData, EVENT_STREAM_TTL_MS);

    const activeStreamsKey = this.getActiveStreamsKey(workspaceId);

    await this.cacheLockService.withLock(async () => {
      await this.cacheStorageService.setAdd(activeStreamsKey, [eventStreamChannelId], EVENT_STREAM_TTL_MS);
    }, activeStreamsKey);
  }

  async destroyEventStream({
    workspaceId,
    eventStreamChannelId,
  }: {
    workspaceId: string;
    eventStreamChannelId: string;
  }): Promise<void> {
    await this.cacheStorageService.del(this.getEventStreamKey(workspaceId, eventStreamChannelId));

    const activeStreamsKey = this.getActiveStreamsKey(workspaceId);

    await this.cacheLockService.withLock(async () => {
      await this.cacheStorageService.setRemove(activeStreamsKey, [eventStreamChannelId]);
    }, activeStreamsKey);
  }

  async getActiveStreamIds(workspaceId: string): Promise<string[]> {
    return this.cacheStorageService.setMembers(this.getActiveStreamsKey(workspaceId));
  }

  async removeFromActiveStreams(workspaceId: string, streamIdsToRemove: string[]): Promise<void> {
    if (streamIdsToRemove.length === 0) {
      return;
    }

    const activeStreamsKey = this.getActiveStreamsKey(workspaceId);

    await this.cacheLockService.withLock(async () => {
      await this.cacheStorageService.setRemove(activeStreamsKey, streamIdsToRemove);
    }, activeStreamsKey);
  }

  async getStreamsData(
    workspaceId: string,
    streamChannelIds: string[],
  ): Promise<Map<string, EventStreamData | undefined>> {
    if (streamChannelIds.length === 0) {
      return new Map();
    }

    const values = await this.cacheStorageService.mget<EventStreamData>(
      streamChannelIds.map((id) => this.getEventStreamKey(workspaceId, id)),
    );

    return new Map(streamChannelIds.map((id, index) => [id, values[index]]));
  }

  async isAuthorized({
    authContext,
    streamData,
  }: {
    authContext: SerializableAuthContext;
    streamData: EventStreamData;
  }): Promise<boolean> {
    if (isDefined(authContext.userWorkspaceId)) {
      return streamData.authContext.userWorkspaceId === authContext.userWorkspaceId;
    }

    if (isDefined(authContext.apiKeyId)) {
      return streamData.authContext.apiKeyId === authContext.apiKeyId;
    }

    return false;
  }

  @WithLock('eventStreamChannelId')
  async addQuery({
    workspaceId,
    eventStreamChannelId,
    queryId,
    operationSignature,
  }: {
    workspaceId: string;
    eventStreamChannelId: string;
    queryId: string;
    operationSignature: RecordOrMetadataGqlOperationSignature;
  }): Promise<void> {
    const key = this.getEventStreamKey(workspaceId, eventStreamChannelId);
    const existing = await this.cacheStorageService.get<EventStreamData>(key);

    if (!isDefined(existing)) {
      return;
    }

    existing.queries[queryId] = operationSignature;

    await this.cacheStorageService.set(key, existing, EVENT_STREAM_TTL_MS);
  }

  @WithLock('eventStreamChannelId')
  async removeQuery({
    workspaceId,
    eventStreamChannelId,
    queryId,
  }: {
    workspaceId: string;
    eventStreamChannelId: string;
    queryId: string;
  }): Promise<void> {
    const key = this.getEventStreamKey(workspaceId, eventStreamChannelId);
    const existing = await this.cacheStorageService.get<EventStreamData>(key);

    if (isDefined(existing) && isDefined(existing.queries[queryId])) {
      delete existing.queries[queryId];
      await this.cacheStorageService.set(key, existing, EVENT_STREAM_TTL_MS);
    }
  }

  async refreshEventStreamTTL({
    workspaceId,
    eventStreamChannelId,
  }: {
    workspaceId: string;
    eventStreamChannelId: string;
  }): Promise<boolean> {
    const [eventStreamRefreshed, activeStreamsRefreshed] = await Promise.all([
      this.cacheStorageService.expire(this.getEventStreamKey(workspaceId, eventStreamChannelId), EVENT_STREAM_TTL_MS),
      this.cacheStorageService.expire(this.getActiveStreamsKey(workspaceId), EVENT_STREAM_TTL_MS),
    ]);

    return eventStreamRefreshed && activeStreamsRefreshed;
  }

  async getStreamData(workspaceId: string, eventStreamChannelId: string): Promise<EventStreamData | undefined> {
    return this.cacheStorageService.get<EventStreamData>(this.getEventStreamKey(workspaceId, eventStreamChannelId));
  }

  private getEventStreamKey(workspaceId: string, eventStreamId: string): string {
    return `eventStream:${workspaceId}:${eventStreamId}`;
  }

  private getActiveStreamsKey(workspaceId: string): string {
    return `workspace:${workspaceId}:activeStreams`;
  }
}
