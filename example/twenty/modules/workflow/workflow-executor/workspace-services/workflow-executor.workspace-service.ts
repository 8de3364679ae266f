import { Injectable } from '@nestjs/common';

import { GroundTruth } from '../../../../../app/ground-truth';
import { isDefined } from '../../../../twenty-shared/utils';
import { InjectMessageQueue } from '../../../../engine/core-modules/message-queue/decorators/message-queue.decorator';
import { MessageQueue } from '../../../../engine/core-modules/message-queue/message-queue.constants';
import { MessageQueueService } from '../../../../engine/core-modules/message-queue/services/message-queue.service';
import { GlobalWorkspaceOrmManager } from '../../../../engine/twenty-orm/global-workspace-orm.manager';
import { WorkspaceEventEmitter } from '../../../../engine/workspace-event-emitter/workspace-event-emitter';
import {
  getWorkflowRunContext,
  StepStatus,
  type WorkflowAction,
  type WorkflowActionOutput,
  type WorkflowRunStepInfo,
  type WorkflowRunStepInfos,
  WorkflowRunStatus,
} from '../../common/workflow.types';
import { RUN_WORKFLOW_JOB_NAME } from '../../workflow-runner/constants/run-workflow-job-name';
import { WorkflowRunWorkspaceService } from '../../workflow-runner/workflow-run/workflow-run.workspace-service';
import { WorkflowActionFactory } from '../factories/workflow-action.factory';

const MAX_EXECUTED_STEPS_COUNT = 20;

@Injectable()
export class WorkflowExecutorWorkspaceService {
  constructor(
    private readonly workflowActionFactory: WorkflowActionFactory,
    private readonly workspaceEventEmitter: WorkspaceEventEmitter,
    private readonly workflowRunWorkspaceService: WorkflowRunWorkspaceService,
    @InjectMessageQueue(MessageQueue.workflowQueue)
    private readonly messageQueueService: MessageQueueService,
    private readonly groundTruth: GroundTruth,
    private readonly globalWorkspaceOrmManager: GlobalWorkspaceOrmManager,
  ) {}

  async executeFromSteps({
    stepIds,
    workflowRunId,
    workspaceId,
    shouldComputeWorkflowRunStatus = true,
    executedStepsCount = 0,
  }: {
    stepIds: string[];
    workflowRunId: string;
    workspaceId: string;
    shouldComputeWorkflowRunStatus?: boolean;
    executedStepsCount?: number;
  }) {
    await Promise.all(
      stepIds.map((stepIdToExecute) =>
        this.executeFromStep({
          stepId: stepIdToExecute,
          workflowRunId,
          workspaceId,
          executedStepsCount,
        }),
      ),
    );

    if (shouldComputeWorkflowRunStatus) {
      await this.computeWorkflowRunStatus({ workflowRunId, workspaceId });
    }
  }

  private async executeFromStep({
    stepId,
    workflowRunId,
    workspaceId,
    executedStepsCount,
  }: {
    stepId: string;
    workflowRunId: string;
    workspaceId: string;
    executedStepsCount: number;
  }) {
    const workflowRun = await this.workflowRunWorkspaceService.getWorkflowRunOrFail({
      workflowRunId,
      workspaceId,
    });

    const stepInfos = workflowRun.state.stepInfos;
    const steps = workflowRun.state.flow.steps;
    const stepToExecute = steps.find((step) => step.id === stepId);

    if (!stepToExecute) {
      await this.workflowRunWorkspaceService.endWorkflowRun({
        workflowRunId,
        workspaceId,
        status: WorkflowRunStatus.FAILED,
        error: 'Step not found',
      });

      return;
    }

    const actionOutput = await this.executeStep({
      step: stepToExecute,
      steps,
      stepInfos,
      workflowRunId,
      workspaceId,
    });

    if (!isDefined(actionOutput.error)) {
      this.sendWorkflowNodeRunEvent(workspaceId);
    }

    const { shouldProcessNextSteps } = await this.processStepExecutionResult({
      actionOutput,
      stepId,
      workflowRunId,
      workspaceId,
    });

    if (!shouldProcessNextSteps) {
      return;
    }

    if (executedStepsCount > MAX_EXECUTED_STEPS_COUNT) {
      await this.continueExecutionFromStepInAnotherJob({
        lastExecutedStepId: stepId,
        workflowRunId,
        workspaceId,
      });

      return;
    }

    const nextStepIdsToExecute = await this.getNextStepIdsToExecute({
      executedStep: stepToExecute,
    });

    if (isDefined(nextStepIdsToExecute) && nextStepIdsToExecute.length > 0) {
      await this.executeFromSteps({
        stepIds: nextStepIdsToExecute,
        workflowRunId,
        workspaceId,
        shouldComputeWorkflowRunStatus: false,
        executedStepsCount: executedStepsCount + 1,
      });
    }
  }

  async getNextStepIdsToExecute({
    executedStep,
  }: {
    executedStep: WorkflowAction;
    executedStepResult?: WorkflowActionOutput;
  }): Promise<string[] | undefined> {
    return executedStep.nextStepIds;
  }

  private async computeWorkflowRunStatus({
    workflowRunId,
    workspaceId,
  }: {
    workflowRunId: string;
    workspaceId: string;
  }) {
    const workflowRun = await this.workflowRunWorkspaceService.getWorkflowRunOrFail({
      workflowRunId,
      workspaceId,
    });
    const stepStatuses = Object.values(workflowRun.state.stepInfos).map((info) => info.status);

    if (stepStatuses.some((status) => status === StepStatus.RUNNING || status === StepStatus.PENDING)) {
      return;
    }

    const hasFailed = stepStatuses.some((status) => status === StepStatus.FAILED);

    await this.workflowRunWorkspaceService.endWorkflowRun({
      workflowRunId,
      workspaceId,
      status: hasFailed ? WorkflowRunStatus.FAILED : WorkflowRunStatus.COMPLETED,
      ...(hasFailed && { error: 'WorkflowRun failed' }),
    });
  }

  private sendWorkflowNodeRunEvent(workspaceId: string) {
    this.workspaceEventEmitter.emitCustomBatchEvent(
      'BILLING_FEATURE_USED',
      [{ eventName: 'WORKFLOW_NODE_RUN', value: 1 }],
      workspaceId,
    );
  }

  private async processStepExecutionResult({
    actionOutput,
    stepId,
    workflowRunId,
    workspaceId,
  }: {
    actionOutput: WorkflowActionOutput;
    stepId: string;
    workflowRunId: string;
    workspaceId: string;
  }): Promise<{ shouldProcessNextSteps: boolean }> {
    const isSuccess = isDefined(actionOutput.result);

    const stepInfo: WorkflowRunStepInfo = isSuccess
      ? { status: StepStatus.SUCCESS, result: actionOutput.result }
      : { status: StepStatus.FAILED, error: actionOutput.error };

    await this.workflowRunWorkspaceService.updateWorkflowRunStepInfo({
      stepId,
      stepInfo,
      workflowRunId,
      workspaceId,
    });

    return { shouldProcessNextSteps: isSuccess };
  }

  private async executeStep({
    step,
    steps,
    stepInfos,
    workflowRunId,
    workspaceId,
  }: {
    step: WorkflowAction;
    steps: WorkflowAction[];
    stepInfos: WorkflowRunStepInfos;
    workflowRunId: string;
    workspaceId: string;
  }): Promise<WorkflowActionOutput> {
    const stepId = step.id;

    const workflowAction = this.workflowActionFactory.get(step.type);

    await this.workflowRunWorkspaceService.updateWorkflowRunStepInfo({
      stepId,
      stepInfo: { ...stepInfos[stepId], status: StepStatus.RUNNING },
      workflowRunId,
      workspaceId,
    });

    try {
      // The step's writes share one workspace transaction: where the emitter defers
      // (PR #25174) their events are emitted after COMMIT, once execute has returned.
      return await this.groundTruth.withOrigin({ origin: 'workflow', workflowRunId, stepId }, () =>
        this.globalWorkspaceOrmManager.runInWorkspaceTransaction(() =>
          workflowAction.execute({
            currentStepId: stepId,
            steps,
            context: getWorkflowRunContext(stepInfos),
            runInfo: { workflowRunId, workspaceId },
          }),
        ),
      );
    } catch (error) {
      return { error: (error as Error).message ?? 'Execution result error, no data or error' };
    }
  }

  private async continueExecutionFromStepInAnotherJob({
    lastExecutedStepId,
    workflowRunId,
    workspaceId,
  }: {
    lastExecutedStepId: string;
    workflowRunId: string;
    workspaceId: string;
  }) {
    await this.messageQueueService.add(RUN_WORKFLOW_JOB_NAME, {
      workspaceId,
      workflowRunId,
      lastExecutedStepId,
    });
  }
}
