import { Injectable } from '@nestjs/common';

import { isDefined } from '../../../../twenty-shared/utils';
import {
  type RecordGqlOperationSignature,
  type RecordOrMetadataGqlOperationSignature,
} from '../../../../twenty-shared/types';
import { CacheLockService } from '../../../../engine/core-modules/cache-lock/cache-lock.service';
import { CacheStorageNamespace } from '../../../../engine/core-modules/cache-storage/cache-storage-namespace.enum';
import {
  CacheStorageService,
  InjectCacheStorage,
} from '../../../../engine/core-modules/cache-storage/cache-storage.service';

import { EventStreamService as StreamStateService } from '../../../../engine/subscriptions/event-stream.service';
import { type ObjectRecordSubscriptionEvent } from '../../../../engine/subscriptions/types/object-record-subscription-event.type';

// The EventStreamService of the V1/V2 era: the same stream state as later
// versions (inherited, same keys and methods), plus getQueries and the
// object-name-only matcher the V1 publisher delegates to.
@Injectable()
export class EventStreamService extends StreamStateService {
  constructor(
    @InjectCacheStorage(CacheStorageNamespace.EngineSubscriptions)
    cacheStorageService: CacheStorageService,
    cacheLockService: CacheLockService,
  ) {
    super(cacheStorageService, cacheLockService);
  }

  async getQueries(
    workspaceId: string,
    eventStreamId: string,
  ): Promise<Map<string, RecordOrMetadataGqlOperationSignature>> {
    const streamData = await this.getStreamData(workspaceId, eventStreamId);

    if (!isDefined(streamData)) {
      return new Map();
    }

    return new Map(Object.entries(streamData.queries));
  }

  matchQueriesWithEvent(
    queries: Record<string, RecordOrMetadataGqlOperationSignature>,
    event: ObjectRecordSubscriptionEvent,
  ): string[] {
    const matchedQueryIds: string[] = [];

    for (const [queryId, operationSignature] of Object.entries(queries)) {
      if (this.isQueryMatchingEvent(operationSignature as RecordGqlOperationSignature, event)) {
        matchedQueryIds.push(queryId);
      }
    }

    return matchedQueryIds;
  }

  private isQueryMatchingEvent(
    operationSignature: RecordGqlOperationSignature,
    event: ObjectRecordSubscriptionEvent,
  ): boolean {
    // to be improved (Twenty's own comment: only the object name is compared)
    return operationSignature.objectNameSingular === event.objectNameSingular;
  }
}
