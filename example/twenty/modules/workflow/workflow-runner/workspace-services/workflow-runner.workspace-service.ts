import { Injectable } from '@nestjs/common';

import { type ActorMetadata } from '../../../../twenty-shared/types';
import { InjectMessageQueue } from '../../../../engine/core-modules/message-queue/decorators/message-queue.decorator';
import { MessageQueue } from '../../../../engine/core-modules/message-queue/message-queue.constants';
import { MessageQueueService } from '../../../../engine/core-modules/message-queue/services/message-queue.service';
import { RUN_WORKFLOW_JOB_NAME } from '../constants/run-workflow-job-name';
import { type RunWorkflowJobData } from '../jobs/run-workflow.job';
import { WorkflowCommonWorkspaceService } from '../workflow-run/workflow-common.workspace-service';
import { WorkflowRunWorkspaceService } from '../workflow-run/workflow-run.workspace-service';

@Injectable()
export class WorkflowRunnerWorkspaceService {
  constructor(
    private readonly workflowRunWorkspaceService: WorkflowRunWorkspaceService,
    private readonly workflowCommonWorkspaceService: WorkflowCommonWorkspaceService,
    @InjectMessageQueue(MessageQueue.workflowQueue)
    private readonly messageQueueService: MessageQueueService,
  ) {}

  async run({
    workspaceId,
    workflowVersionId,
    payload,
    source,
  }: {
    workspaceId: string;
    workflowVersionId: string;
    payload?: object;
    source: ActorMetadata;
  }): Promise<{ workflowRunId: string }> {
    const workflowVersion = await this.workflowCommonWorkspaceService.getWorkflowVersionOrFail({
      workspaceId,
      workflowVersionId,
    });

    const workflowRunId = await this.workflowRunWorkspaceService.createWorkflowRun({
      workspaceId,
      workflowVersion,
      createdBy: source,
    });

    await this.messageQueueService.add<RunWorkflowJobData>(RUN_WORKFLOW_JOB_NAME, {
      workspaceId,
      workflowRunId,
      payload,
    });

    return { workflowRunId };
  }
}
