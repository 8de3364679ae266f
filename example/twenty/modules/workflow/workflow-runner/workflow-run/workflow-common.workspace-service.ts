import { Injectable } from '@nestjs/common';

import { CacheStorageNamespace } from '../../../../engine/core-modules/cache-storage/cache-storage-namespace.enum';
import {
  CacheStorageService,
  InjectCacheStorage,
} from '../../../../engine/core-modules/cache-storage/cache-storage.service';
import { type WorkflowVersion } from '../../common/workflow.types';

@Injectable()
export class WorkflowCommonWorkspaceService {
  constructor(
    @InjectCacheStorage(CacheStorageNamespace.ExampleCore)
    private readonly cacheStorageService: CacheStorageService,
  ) {}

  async saveWorkflowVersion(workspaceId: string, workflowVersion: WorkflowVersion): Promise<void> {
    await this.cacheStorageService.set(this.getKey(workspaceId, workflowVersion.id), workflowVersion);
  }

  async getWorkflowVersionOrFail({
    workspaceId,
    workflowVersionId,
  }: {
    workspaceId: string;
    workflowVersionId: string;
  }): Promise<WorkflowVersion> {
    const workflowVersion = await this.cacheStorageService.get<WorkflowVersion>(
      this.getKey(workspaceId, workflowVersionId),
    );

    if (!workflowVersion) {
      throw new Error(`Workflow version ${workflowVersionId} not found`);
    }

    return workflowVersion;
  }

  private getKey(workspaceId: string, workflowVersionId: string) {
    return `workflowVersion:${workspaceId}:${workflowVersionId}`;
  }
}
