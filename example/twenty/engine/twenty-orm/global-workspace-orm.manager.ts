import { AsyncLocalStorage } from 'node:async_hooks';

import { Inject, Injectable } from '@nestjs/common';

import { EXAMPLE_CONFIG, type ExampleConfig } from '../../../app/example-config';
import { GroundTruth } from '../../../app/ground-truth';
import { type WorkspaceAuthContext } from '../core-modules/auth/types/auth-context.type';
import { type FlatObjectMetadata } from '../metadata-modules/flat-entity.types';
import { WorkspaceCacheService } from '../workspace-cache/workspace-cache.service';
import { WorkspaceEventEmitter } from '../workspace-event-emitter/workspace-event-emitter';

import { WorkspaceRepository } from './repository/workspace.repository';
import { WorkspaceRecordStore } from './workspace-record-store';

@Injectable()
export class GlobalWorkspaceOrmManager {
  private readonly workspaceContextStorage = new AsyncLocalStorage<WorkspaceAuthContext>();

  constructor(
    private readonly workspaceEventEmitter: WorkspaceEventEmitter,
    private readonly workspaceCacheService: WorkspaceCacheService,
    private readonly recordStore: WorkspaceRecordStore,
    private readonly groundTruth: GroundTruth,
    @Inject(EXAMPLE_CONFIG) private readonly config: ExampleConfig,
  ) {}

  async executeInWorkspaceContext<T>(authContext: WorkspaceAuthContext, fn: () => Promise<T>): Promise<T> {
    return this.workspaceContextStorage.run(authContext, fn);
  }

  getWorkspaceContext(): WorkspaceAuthContext | undefined {
    return this.workspaceContextStorage.getStore();
  }

  async getObjectMetadataOrThrow(workspaceId: string, objectNameSingular: string): Promise<FlatObjectMetadata> {
    const { flatObjectMetadataMaps } = await this.workspaceCacheService.getOrRecompute(workspaceId, [
      'flatObjectMetadataMaps',
    ]);
    const objectMetadata = Object.values(flatObjectMetadataMaps.byId).find(
      (candidate) => candidate?.nameSingular === objectNameSingular,
    );

    if (!objectMetadata) {
      throw new Error(`Object ${objectNameSingular} not found in workspace ${workspaceId}`);
    }

    return objectMetadata;
  }

  async getRepository({
    workspaceId,
    objectNameSingular,
    authContext,
  }: {
    workspaceId: string;
    objectNameSingular: string;
    authContext?: WorkspaceAuthContext;
  }): Promise<WorkspaceRepository> {
    const objectMetadataItem = await this.getObjectMetadataOrThrow(workspaceId, objectNameSingular);

    return new WorkspaceRepository(
      {
        workspaceId,
        objectMetadataItem,
        eventEmitterService: this.workspaceEventEmitter,
        recordStore: this.recordStore,
        authorShape: this.config.generation === 'publisher' ? 'full-author' : 'user-and-member',
        groundTruth: this.groundTruth,
      },
      authContext ?? this.getWorkspaceContext(),
    );
  }
}
