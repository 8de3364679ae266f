import { Injectable } from '@nestjs/common';

import { type ActorMetadata, FieldActorSource } from '../../../../../twenty-shared/types';
import { isDefined } from '../../../../../twenty-shared/utils';
import {
  CreateRecordService,
  DeleteRecordService,
  UpdateRecordService,
  UpsertRecordService,
} from '../../../../../engine/core-modules/record-crud/record-crud.services';
import {
  type WorkflowAction,
  type WorkflowActionExecutor,
  type WorkflowActionInput,
  type WorkflowActionOutput,
  WorkflowActionType,
} from '../../../common/workflow.types';
import {
  type WorkflowExecutionContext,
  WorkflowExecutionContextService,
} from '../../services/workflow-execution-context.service';

const findStepOrThrow = ({ steps, stepId }: { steps: WorkflowAction[]; stepId: string }) => {
  const step = steps.find((candidate) => candidate.id === stepId);

  if (!step) {
    throw new Error(`Step ${stepId} not found`);
  }

  return step;
};

const assertStepType = (step: WorkflowAction, type: WorkflowActionType) => {
  if (step.type !== type) {
    throw new Error(`Step is not a ${type} action`);
  }
};

const buildWorkflowActorMetadata = (executionContext: WorkflowExecutionContext): ActorMetadata =>
  executionContext.isActingOnBehalfOfUser
    ? executionContext.initiator
    : { source: FieldActorSource.WORKFLOW, name: 'Workflow', workspaceMemberId: null, context: {} };

type RecordInput = {
  objectName: string;
  objectRecordId?: string;
  objectRecord?: Record<string, unknown>;
  fieldsToUpdate?: string[];
};

@Injectable()
export class CreateRecordWorkflowAction implements WorkflowActionExecutor {
  constructor(
    private readonly createRecordService: CreateRecordService,
    private readonly workflowExecutionContextService: WorkflowExecutionContextService,
  ) {}

  async execute({ currentStepId, steps, runInfo }: WorkflowActionInput): Promise<WorkflowActionOutput> {
    const step = findStepOrThrow({ steps, stepId: currentStepId });

    assertStepType(step, WorkflowActionType.CREATE_RECORD);

    const workflowActionInput = step.settings.input as RecordInput;
    const executionContext = await this.workflowExecutionContextService.getExecutionContext(runInfo);

    const toolOutput = await this.createRecordService.execute({
      objectName: workflowActionInput.objectName,
      objectRecord: workflowActionInput.objectRecord ?? {},
      authContext: executionContext.authContext,
      createdBy: buildWorkflowActorMetadata(executionContext),
    });

    if (!toolOutput.success) {
      return { error: toolOutput.error ?? toolOutput.message };
    }

    return { result: toolOutput.result };
  }
}

@Injectable()
export class UpdateRecordWorkflowAction implements WorkflowActionExecutor {
  constructor(
    private readonly updateRecordService: UpdateRecordService,
    private readonly workflowExecutionContextService: WorkflowExecutionContextService,
  ) {}

  async execute({ currentStepId, steps, runInfo }: WorkflowActionInput): Promise<WorkflowActionOutput> {
    const step = findStepOrThrow({ steps, stepId: currentStepId });

    assertStepType(step, WorkflowActionType.UPDATE_RECORD);

    const workflowActionInput = step.settings.input as RecordInput;

    if (!isDefined(workflowActionInput.objectRecordId) || !isDefined(workflowActionInput.objectName)) {
      throw new Error('Failed to update: Object record ID and name are required');
    }

    const executionContext = await this.workflowExecutionContextService.getExecutionContext(runInfo);

    const toolOutput = await this.updateRecordService.execute({
      objectName: workflowActionInput.objectName,
      objectRecordId: workflowActionInput.objectRecordId,
      objectRecord: workflowActionInput.objectRecord ?? {},
      fieldsToUpdate: workflowActionInput.fieldsToUpdate,
      authContext: executionContext.authContext,
      updatedBy: buildWorkflowActorMetadata(executionContext),
    });

    if (!toolOutput.success) {
      throw new Error(toolOutput.error ?? toolOutput.message);
    }

    return { result: toolOutput.result };
  }
}

@Injectable()
export class DeleteRecordWorkflowAction implements WorkflowActionExecutor {
  constructor(
    private readonly deleteRecordService: DeleteRecordService,
    private readonly workflowExecutionContextService: WorkflowExecutionContextService,
  ) {}

  async execute({ currentStepId, steps, runInfo }: WorkflowActionInput): Promise<WorkflowActionOutput> {
    const step = findStepOrThrow({ steps, stepId: currentStepId });

    assertStepType(step, WorkflowActionType.DELETE_RECORD);

    const workflowActionInput = step.settings.input as RecordInput;
    const executionContext = await this.workflowExecutionContextService.getExecutionContext(runInfo);

    const toolOutput = await this.deleteRecordService.execute({
      objectName: workflowActionInput.objectName,
      objectRecordId: workflowActionInput.objectRecordId!,
      authContext: executionContext.authContext,
    });

    if (!toolOutput.success) {
      return { error: toolOutput.error ?? toolOutput.message };
    }

    return { result: toolOutput.result };
  }
}

@Injectable()
export class UpsertRecordWorkflowAction implements WorkflowActionExecutor {
  constructor(
    private readonly upsertRecordService: UpsertRecordService,
    private readonly workflowExecutionContextService: WorkflowExecutionContextService,
  ) {}

  async execute({ currentStepId, steps, runInfo }: WorkflowActionInput): Promise<WorkflowActionOutput> {
    const step = findStepOrThrow({ steps, stepId: currentStepId });

    assertStepType(step, WorkflowActionType.UPSERT_RECORD);

    const workflowActionInput = step.settings.input as RecordInput;
    const executionContext = await this.workflowExecutionContextService.getExecutionContext(runInfo);

    const toolOutput = await this.upsertRecordService.execute({
      objectName: workflowActionInput.objectName,
      objectRecord: workflowActionInput.objectRecord ?? {},
      authContext: executionContext.authContext,
    });

    if (!toolOutput.success) {
      return { error: toolOutput.error ?? toolOutput.message };
    }

    return { result: toolOutput.result };
  }
}

export const RECORD_CRUD_WORKFLOW_ACTIONS = [
  CreateRecordWorkflowAction,
  UpdateRecordWorkflowAction,
  DeleteRecordWorkflowAction,
  UpsertRecordWorkflowAction,
];
