import { Injectable } from '@nestjs/common';

import { v4 } from 'uuid';

import {
  CreateRecordService,
  DeleteRecordService,
  UpdateRecordService,
} from '../../twenty/engine/core-modules/record-crud/record-crud.services';
import { type WorkspaceAuthContext } from '../../twenty/engine/core-modules/auth/types/auth-context.type';
import { GlobalWorkspaceOrmManager } from '../../twenty/engine/twenty-orm/global-workspace-orm.manager';
import { type ObjectRecord } from '../../twenty/engine/twenty-orm/workspace-record-store';
import { type ActorMetadata, FieldActorSource } from '../../twenty/twenty-shared/types';
import {
  type WorkflowAction,
  WorkflowRunStatus,
  type WorkflowRun,
  WorkflowTriggerType,
} from '../../twenty/modules/workflow/common/workflow.types';
import { WorkflowRunWorkspaceService } from '../../twenty/modules/workflow/workflow-runner/workflow-run/workflow-run.workspace-service';
import { WorkflowRunnerWorkspaceService } from '../../twenty/modules/workflow/workflow-runner/workspace-services/workflow-runner.workspace-service';
import { GroundTruth, type GroundTruthOrigin } from '../ground-truth';
import { ExampleSeedService } from '../seed/example-seed.service';

export type RecordMutation = 'create' | 'update' | 'delete' | 'restore' | 'destroy';

const originOf = (authContext: WorkspaceAuthContext): GroundTruthOrigin =>
  authContext.user ? 'ui' : authContext.apiKey ? 'api_key' : authContext.application ? 'application' : 'system';

// What the UI (GraphQL/REST query runners) and the workflow trigger endpoints
// do in Twenty, reduced to the calls that reach the ORM and the queue.
@Injectable()
export class ExampleMutationsService {
  constructor(
    private readonly createRecordService: CreateRecordService,
    private readonly updateRecordService: UpdateRecordService,
    private readonly deleteRecordService: DeleteRecordService,
    private readonly globalWorkspaceOrmManager: GlobalWorkspaceOrmManager,
    private readonly workflowRunnerWorkspaceService: WorkflowRunnerWorkspaceService,
    private readonly workflowRunWorkspaceService: WorkflowRunWorkspaceService,
    private readonly seedService: ExampleSeedService,
    private readonly groundTruth: GroundTruth,
  ) {}

  mutateRecord({
    mutation,
    authContext,
    objectNameSingular,
    id,
    data = {},
  }: {
    mutation: RecordMutation;
    authContext: WorkspaceAuthContext;
    objectNameSingular: string;
    id?: string;
    data?: Record<string, unknown>;
  }): Promise<ObjectRecord | null> {
    return this.groundTruth.withOrigin({ origin: originOf(authContext) }, async () => {
      switch (mutation) {
        case 'create': {
          const output = await this.createRecordService.execute({
            objectName: objectNameSingular,
            objectRecord: { ...data, id: id ?? (data.id as string | undefined) ?? v4() },
            authContext,
          });

          return this.unwrap(output);
        }
        case 'update':
          return this.unwrap(
            await this.updateRecordService.execute({
              objectName: objectNameSingular,
              objectRecordId: id!,
              objectRecord: data,
              authContext,
            }),
          );
        case 'delete':
          return this.unwrap(
            await this.deleteRecordService.execute({
              objectName: objectNameSingular,
              objectRecordId: id!,
              authContext,
            }),
          );
        case 'restore':
        case 'destroy': {
          const repository = await this.globalWorkspaceOrmManager.getRepository({
            workspaceId: authContext.workspace.id,
            objectNameSingular,
            authContext,
          });

          return mutation === 'restore' ? repository.restore(id!) : repository.delete(id!);
        }
      }
    });
  }

  // `manual` runs act on behalf of `workspaceMemberId`; others as the application.
  async runWorkflow({
    workspaceId,
    workflowVersionId,
    steps,
    manual,
    workspaceMemberId,
  }: {
    workspaceId: string;
    workflowVersionId?: string;
    steps?: WorkflowAction[];
    manual: boolean;
    workspaceMemberId?: string;
  }): Promise<{ workflowRunId: string }> {
    const versionId =
      workflowVersionId ??
      (
        await this.seedService.workflowVersion({
          workspaceId,
          steps: steps ?? [],
          triggerType: manual ? WorkflowTriggerType.MANUAL : WorkflowTriggerType.DATABASE_EVENT,
        })
      ).workflowVersionId;

    const source: ActorMetadata = manual
      ? {
          source: FieldActorSource.MANUAL,
          name: 'Manual run',
          workspaceMemberId: workspaceMemberId ?? null,
          context: {},
        }
      : { source: FieldActorSource.WORKFLOW, name: 'Workflow', workspaceMemberId: null, context: {} };

    return this.workflowRunnerWorkspaceService.run({
      workspaceId,
      workflowVersionId: versionId,
      payload: {},
      source,
    });
  }

  getWorkflowRun({ workspaceId, workflowRunId }: { workspaceId: string; workflowRunId: string }) {
    return this.workflowRunWorkspaceService.getWorkflowRunOrFail({ workflowRunId, workspaceId });
  }

  async waitForWorkflowRun({
    workspaceId,
    workflowRunId,
    timeoutMs = 10_000,
  }: {
    workspaceId: string;
    workflowRunId: string;
    timeoutMs?: number;
  }): Promise<WorkflowRun> {
    const deadline = Date.now() + timeoutMs;

    for (;;) {
      const workflowRun = await this.workflowRunWorkspaceService.getWorkflowRunOrFail({
        workflowRunId,
        workspaceId,
      });

      if (workflowRun.status === WorkflowRunStatus.COMPLETED || workflowRun.status === WorkflowRunStatus.FAILED) {
        return workflowRun;
      }
      if (Date.now() > deadline) {
        throw new Error(`Workflow run ${workflowRunId} still ${workflowRun.status} after ${timeoutMs} ms`);
      }
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }

  private unwrap(output: { success: boolean; result?: ObjectRecord; error?: string; message?: string }) {
    if (!output.success) {
      throw new Error(output.error ?? output.message ?? 'Mutation failed');
    }

    return output.result ?? null;
  }
}
