import { AsyncLocalStorage } from 'node:async_hooks';

import { Inject, Injectable } from '@nestjs/common';

import { EXAMPLE_CONFIG, type ExampleConfig } from '../../../app/example-config';
import { GroundTruth } from '../../../app/ground-truth';
import { type WorkspaceAuthContext } from '../core-modules/auth/types/auth-context.type';
import { type FlatObjectMetadata } from '../metadata-modules/flat-entity.types';
import { WorkspaceCacheService } from '../workspace-cache/workspace-cache.service';
import { type QueryRunnerLike, WorkspaceEventEmitter } from '../workspace-event-emitter/workspace-event-emitter';

import { WorkspaceRepository } from './repository/workspace.repository';
import { WorkspaceRecordStore } from './workspace-record-store';

@Injectable()
export class GlobalWorkspaceOrmManager {
  private readonly workspaceContextStorage = new AsyncLocalStorage<WorkspaceAuthContext>();
  private readonly transactionStorage = new AsyncLocalStorage<QueryRunnerLike>();
  private commitFailuresLeft = 0;

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

  // Twenty's runInWorkspaceTransaction: with an emitter that defers (PR #25174), the
  // events of the writes inside wait for COMMIT and are discarded on rollback.
  async runInWorkspaceTransaction<T>(fn: () => Promise<T>): Promise<T> {
    const emitter = this.workspaceEventEmitter as WorkspaceEventEmitter & Partial<DeferringEmitter>;

    if (typeof emitter.markTransactionStarted !== 'function' || this.transactionStorage.getStore()) {
      return fn();
    }
    const queryRunner: QueryRunnerLike = { isTransactionActive: true };

    emitter.markTransactionStarted(queryRunner);
    try {
      const result = await this.transactionStorage.run(queryRunner, fn);

      if (this.commitFailuresLeft > 0) {
        this.commitFailuresLeft--;
        throw new Error('COMMIT failed: could not serialize access due to concurrent update');
      }
      queryRunner.isTransactionActive = false;
      emitter.flushDatabaseBatchEventsAfterCommit!(queryRunner);

      return result;
    } catch (error) {
      emitter.discardDatabaseBatchEventsAfterRollback!(queryRunner);
      queryRunner.isTransactionActive = false;
      emitter.clearPendingDatabaseBatchEvents!(queryRunner);
      throw error;
    }
  }

  // For tests: the next COMMITs fail, so the transaction rolls back.
  failNextCommits(times: number): void {
    this.commitFailuresLeft = times;
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
        authorShape: ['publisher', 'record_share', 'record_access'].includes(this.config.generation)
          ? 'full-author'
          : 'user-and-member',
        groundTruth: this.groundTruth,
        currentQueryRunner: () => this.transactionStorage.getStore(),
      },
      authContext ?? this.getWorkspaceContext(),
    );
  }
}

type DeferringEmitter = {
  markTransactionStarted(queryRunner: QueryRunnerLike): void;
  flushDatabaseBatchEventsAfterCommit(queryRunner: QueryRunnerLike): void;
  discardDatabaseBatchEventsAfterRollback(queryRunner: QueryRunnerLike): void;
  clearPendingDatabaseBatchEvents(queryRunner: QueryRunnerLike): void;
};
