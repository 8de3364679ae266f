import { Inject, Injectable } from '@nestjs/common';

import { v4 } from 'uuid';

import { EXAMPLE_CONFIG, type ExampleConfig } from '../../../../../app/example-config';
import { type ActorMetadata } from '../../../../twenty-shared/types';
import { GlobalWorkspaceOrmManager } from '../../../../engine/twenty-orm/global-workspace-orm.manager';
import { WorkspaceRecordStore } from '../../../../engine/twenty-orm/workspace-record-store';
import {
  StepStatus,
  type WorkflowRun,
  type WorkflowRunStepInfo,
  WorkflowRunStatus,
  type WorkflowVersion,
} from '../../common/workflow.types';

const WORKFLOW_RUN_OBJECT = 'workflowRun';

// workflowRun rows live in the workspace data like any record. Twenty writes
// them through the ORM, so step bookkeeping emits `workflowRun.updated`
// events; the example does so only with EXAMPLE_EMIT_WORKFLOW_RUN_EVENTS=true.
@Injectable()
export class WorkflowRunWorkspaceService {
  constructor(
    private readonly recordStore: WorkspaceRecordStore,
    private readonly globalWorkspaceOrmManager: GlobalWorkspaceOrmManager,
    @Inject(EXAMPLE_CONFIG) private readonly config: ExampleConfig,
  ) {}

  async createWorkflowRun({
    workspaceId,
    workflowVersion,
    createdBy,
  }: {
    workspaceId: string;
    workflowVersion: WorkflowVersion;
    createdBy: ActorMetadata;
  }): Promise<string> {
    const workflowRun: WorkflowRun = {
      id: v4(),
      workflowVersionId: workflowVersion.id,
      status: WorkflowRunStatus.NOT_STARTED,
      createdBy,
      state: {
        flow: { trigger: workflowVersion.trigger, steps: workflowVersion.steps },
        stepInfos: Object.fromEntries(
          workflowVersion.steps.map((step) => [step.id, { status: StepStatus.NOT_STARTED }]),
        ),
      },
    };

    if (this.config.emitWorkflowRunEvents) {
      const repository = await this.globalWorkspaceOrmManager.getRepository({
        workspaceId,
        objectNameSingular: WORKFLOW_RUN_OBJECT,
      });

      await repository.insert([workflowRun]);
    } else {
      await this.recordStore.save(workspaceId, WORKFLOW_RUN_OBJECT, [workflowRun]);
    }

    return workflowRun.id;
  }

  async getWorkflowRunOrFail({
    workflowRunId,
    workspaceId,
  }: {
    workflowRunId: string;
    workspaceId: string;
  }): Promise<WorkflowRun> {
    const [workflowRun] = await this.recordStore.findByIds(workspaceId, WORKFLOW_RUN_OBJECT, [workflowRunId]);

    if (!workflowRun) {
      throw new Error(`Workflow run ${workflowRunId} not found`);
    }

    return workflowRun as unknown as WorkflowRun;
  }

  async startWorkflowRun({ workflowRunId, workspaceId }: { workflowRunId: string; workspaceId: string }) {
    await this.updateWorkflowRun(workspaceId, workflowRunId, () => ({
      status: WorkflowRunStatus.RUNNING,
    }));
  }

  async updateWorkflowRunStepInfo({
    stepId,
    stepInfo,
    workflowRunId,
    workspaceId,
  }: {
    stepId: string;
    stepInfo: WorkflowRunStepInfo;
    workflowRunId: string;
    workspaceId: string;
  }) {
    await this.updateWorkflowRun(workspaceId, workflowRunId, (workflowRun) => ({
      state: {
        ...workflowRun.state,
        stepInfos: { ...workflowRun.state.stepInfos, [stepId]: stepInfo },
      },
    }));
  }

  async endWorkflowRun({
    workflowRunId,
    workspaceId,
    status,
    error,
  }: {
    workflowRunId: string;
    workspaceId: string;
    status: WorkflowRunStatus;
    error?: string;
  }) {
    await this.updateWorkflowRun(workspaceId, workflowRunId, () => ({
      status,
      ...(error && { error }),
    }));
  }

  private async updateWorkflowRun(
    workspaceId: string,
    workflowRunId: string,
    buildValues: (workflowRun: WorkflowRun) => Partial<WorkflowRun>,
  ) {
    const workflowRun = await this.getWorkflowRunOrFail({ workflowRunId, workspaceId });
    const values = buildValues(workflowRun);

    if (this.config.emitWorkflowRunEvents) {
      const repository = await this.globalWorkspaceOrmManager.getRepository({
        workspaceId,
        objectNameSingular: WORKFLOW_RUN_OBJECT,
      });

      await repository.update(workflowRunId, values);

      return;
    }
    await this.recordStore.save(workspaceId, WORKFLOW_RUN_OBJECT, [
      { ...(workflowRun as unknown as Record<string, unknown>), ...values, id: workflowRunId },
    ]);
  }
}
