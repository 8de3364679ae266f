import { Injectable } from '@nestjs/common';

import { type WorkflowActionExecutor, WorkflowActionType } from '../../common/workflow.types';
import {
  CreateRecordWorkflowAction,
  DeleteRecordWorkflowAction,
  UpdateRecordWorkflowAction,
  UpsertRecordWorkflowAction,
} from '../workflow-actions/record-crud/record-crud.workflow-actions';

@Injectable()
export class WorkflowActionFactory {
  constructor(
    private readonly createRecordWorkflowAction: CreateRecordWorkflowAction,
    private readonly updateRecordWorkflowAction: UpdateRecordWorkflowAction,
    private readonly deleteRecordWorkflowAction: DeleteRecordWorkflowAction,
    private readonly upsertRecordWorkflowAction: UpsertRecordWorkflowAction,
  ) {}

  get(stepType: WorkflowActionType): WorkflowActionExecutor {
    switch (stepType) {
      case WorkflowActionType.CREATE_RECORD:
        return this.createRecordWorkflowAction;
      case WorkflowActionType.UPDATE_RECORD:
        return this.updateRecordWorkflowAction;
      case WorkflowActionType.DELETE_RECORD:
        return this.deleteRecordWorkflowAction;
      case WorkflowActionType.UPSERT_RECORD:
        return this.upsertRecordWorkflowAction;
      default:
        throw new Error(`Workflow step executor not found for step type '${String(stepType)}'`);
    }
  }
}
