import { Scope } from '@nestjs/common';

import { Process } from '../../../../engine/core-modules/message-queue/decorators/process.decorator';
import { Processor } from '../../../../engine/core-modules/message-queue/decorators/processor.decorator';
import { MessageQueue } from '../../../../engine/core-modules/message-queue/message-queue.constants';
import { buildSystemAuthContext } from '../../../../engine/twenty-orm/utils/build-system-auth-context.util';
import { GlobalWorkspaceOrmManager } from '../../../../engine/twenty-orm/global-workspace-orm.manager';
import { WorkflowRunStatus } from '../../common/workflow.types';
import { WorkflowExecutorWorkspaceService } from '../../workflow-executor/workspace-services/workflow-executor.workspace-service';
import { RUN_WORKFLOW_JOB_NAME } from '../constants/run-workflow-job-name';
import { WorkflowCommonWorkspaceService } from '../workflow-run/workflow-common.workspace-service';
import { WorkflowRunWorkspaceService } from '../workflow-run/workflow-run.workspace-service';

export type RunWorkflowJobData = {
  workspaceId: string;
  workflowRunId: string;
  payload?: object;
  lastExecutedStepId?: string;
};

// Request-scoped like Twenty's: the explorer builds one instance per job.
@Processor({ queueName: MessageQueue.workflowQueue, scope: Scope.REQUEST })
export class RunWorkflowJob {
  constructor(
    private readonly workflowCommonWorkspaceService: WorkflowCommonWorkspaceService,
    private readonly workflowExecutorWorkspaceService: WorkflowExecutorWorkspaceService,
    private readonly workflowRunWorkspaceService: WorkflowRunWorkspaceService,
    private readonly globalWorkspaceOrmManager: GlobalWorkspaceOrmManager,
  ) {}

  @Process(RUN_WORKFLOW_JOB_NAME)
  async handle({ workflowRunId, lastExecutedStepId, workspaceId }: RunWorkflowJobData): Promise<void> {
    const authContext = buildSystemAuthContext(workspaceId);

    await this.globalWorkspaceOrmManager.executeInWorkspaceContext(authContext, async () => {
      try {
        if (lastExecutedStepId) {
          await this.resumeWorkflowExecution({ workspaceId, workflowRunId, lastExecutedStepId });
        } else {
          await this.startWorkflowExecution({ workflowRunId, workspaceId });
        }
      } catch (error) {
        await this.workflowRunWorkspaceService.endWorkflowRun({
          workspaceId,
          workflowRunId,
          status: WorkflowRunStatus.FAILED,
          error: (error as Error).message,
        });
      }
    });
  }

  private async startWorkflowExecution({
    workflowRunId,
    workspaceId,
  }: {
    workflowRunId: string;
    workspaceId: string;
  }): Promise<void> {
    const workflowRun = await this.workflowRunWorkspaceService.getWorkflowRunOrFail({
      workflowRunId,
      workspaceId,
    });

    const workflowVersion = await this.workflowCommonWorkspaceService.getWorkflowVersionOrFail({
      workspaceId,
      workflowVersionId: workflowRun.workflowVersionId,
    });

    await this.workflowRunWorkspaceService.startWorkflowRun({ workflowRunId, workspaceId });

    await this.workflowExecutorWorkspaceService.executeFromSteps({
      stepIds: workflowVersion.trigger.nextStepIds ?? [],
      workflowRunId,
      workspaceId,
    });
  }

  private async resumeWorkflowExecution({
    workflowRunId,
    lastExecutedStepId,
    workspaceId,
  }: {
    workflowRunId: string;
    lastExecutedStepId: string;
    workspaceId: string;
  }): Promise<void> {
    const workflowRun = await this.workflowRunWorkspaceService.getWorkflowRunOrFail({
      workflowRunId,
      workspaceId,
    });

    if (workflowRun.status !== WorkflowRunStatus.RUNNING) {
      return;
    }

    const lastExecutedStep = workflowRun.state.flow.steps.find((step) => step.id === lastExecutedStepId);

    if (!lastExecutedStep) {
      throw new Error('Last executed step not found');
    }

    const nextStepIdsToExecute = await this.workflowExecutorWorkspaceService.getNextStepIdsToExecute({
      executedStep: lastExecutedStep,
    });

    if (!nextStepIdsToExecute?.length) {
      await this.workflowRunWorkspaceService.endWorkflowRun({
        workflowRunId,
        workspaceId,
        status: WorkflowRunStatus.COMPLETED,
      });

      return;
    }

    await this.workflowExecutorWorkspaceService.executeFromSteps({
      stepIds: nextStepIdsToExecute,
      workflowRunId,
      workspaceId,
    });
  }
}
