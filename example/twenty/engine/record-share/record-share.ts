import { Injectable } from '@nestjs/common';

import { type MetadataReadability } from '../../twenty-shared/types';
import { CacheStorageNamespace } from '../core-modules/cache-storage/cache-storage-namespace.enum';
import { CacheStorageService, InjectCacheStorage } from '../core-modules/cache-storage/cache-storage.service';

export type RecordShareAccessLevel = 'READ' | 'WRITE';

export type RecordShare = {
  id: string;
  objectMetadataId: string;
  recordId: string;
  principalId: string;
  accessLevel: RecordShareAccessLevel;
};

export type RecordShareGate = {
  recordSharesByRecordId: Map<string, RecordShare[]>;
  principalIds: string[];
};

export type RecordShareGateKind = 'open' | 'private' | 'inherited' | 'deny';

export const DENY_ALL_RECORD_SHARE_GATE: RecordShareGate = {
  recordSharesByRecordId: new Map(),
  principalIds: [],
};

// The mapping of readability values to gate kinds is not confirmed in Twenty's source.
export const resolveRecordShareGateKind = ({
  readability,
  isOwningApplication,
}: {
  readability: MetadataReadability;
  isOwningApplication: boolean;
}): RecordShareGateKind => {
  if (isOwningApplication) {
    return 'open';
  }
  switch (readability) {
    case 'PRIVATE':
      return 'private';
    case 'INHERITED':
      return 'inherited';
    case 'NONE':
      return 'deny';
    default:
      return 'open';
  }
};

export const resolveRequiredRecordShareAccessLevels = (operationType: 'select' | 'update'): RecordShareAccessLevel[] =>
  operationType === 'select' ? ['READ', 'WRITE'] : ['WRITE'];

export const indexRecordSharesByRecordId = (recordShares: RecordShare[]) => {
  const recordSharesByRecordId = new Map<string, RecordShare[]>();

  for (const recordShare of recordShares) {
    recordSharesByRecordId.set(recordShare.recordId, [
      ...(recordSharesByRecordId.get(recordShare.recordId) ?? []),
      recordShare,
    ]);
  }

  return recordSharesByRecordId;
};

export const buildRecordShareGate = async ({
  readability,
  isOwningApplication,
  principalIds,
  fetchRecordSharesByRecordId,
}: {
  readability: MetadataReadability;
  isOwningApplication: boolean;
  principalIds: (string | null | undefined)[];
  fetchRecordSharesByRecordId: () => Promise<Map<string, RecordShare[]>>;
}): Promise<RecordShareGate | null> => {
  switch (resolveRecordShareGateKind({ readability, isOwningApplication })) {
    case 'open':
    case 'inherited':
      return null;
    case 'deny':
      return DENY_ALL_RECORD_SHARE_GATE;
    case 'private':
      return {
        recordSharesByRecordId: await fetchRecordSharesByRecordId(),
        principalIds: [...new Set(principalIds.filter((id): id is string => typeof id === 'string'))],
      };
  }
};

export const isRecordSharedWithPrincipals = ({
  recordShareGate,
  recordId,
  accessLevels,
}: {
  recordShareGate: RecordShareGate;
  recordId: string;
  accessLevels: RecordShareAccessLevel[];
}): boolean =>
  (recordShareGate.recordSharesByRecordId.get(recordId) ?? []).some(
    (recordShare) =>
      recordShareGate.principalIds.includes(recordShare.principalId) && accessLevels.includes(recordShare.accessLevel),
  );

@Injectable()
export class RecordShareService {
  constructor(
    @InjectCacheStorage(CacheStorageNamespace.ExampleCore)
    private readonly cacheStorageService: CacheStorageService,
  ) {}

  async findByRecordIds({
    workspaceId,
    objectMetadataId,
    recordIds,
  }: {
    workspaceId: string;
    objectMetadataId: string;
    recordIds: string[];
  }): Promise<RecordShare[]> {
    const shares = (await this.cacheStorageService.get<RecordShare[]>(this.getKey(workspaceId))) ?? [];

    return shares.filter((share) => share.objectMetadataId === objectMetadataId && recordIds.includes(share.recordId));
  }

  async add(workspaceId: string, recordShare: RecordShare): Promise<void> {
    const shares = (await this.cacheStorageService.get<RecordShare[]>(this.getKey(workspaceId))) ?? [];

    await this.cacheStorageService.set(this.getKey(workspaceId), [...shares, recordShare]);
  }

  private getKey(workspaceId: string) {
    return `recordShares:${workspaceId}`;
  }
}
