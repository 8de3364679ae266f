import { type ActorMetadata } from '../../../twenty-shared/types';

export enum WorkflowRunStatus {
  NOT_STARTED = 'NOT_STARTED',
  RUNNING = 'RUNNING',
  COMPLETED = 'COMPLETED',
  FAILED = 'FAILED',
}

export enum StepStatus {
  NOT_STARTED = 'NOT_STARTED',
  RUNNING = 'RUNNING',
  SUCCESS = 'SUCCESS',
  FAILED = 'FAILED',
  SKIPPED = 'SKIPPED',
  PENDING = 'PENDING',
  STOPPED = 'STOPPED',
}

export enum WorkflowActionType {
  CREATE_RECORD = 'CREATE_RECORD',
  UPDATE_RECORD = 'UPDATE_RECORD',
  DELETE_RECORD = 'DELETE_RECORD',
  UPSERT_RECORD = 'UPSERT_RECORD',
}

export enum WorkflowTriggerType {
  DATABASE_EVENT = 'DATABASE_EVENT',
  MANUAL = 'MANUAL',
  CRON = 'CRON',
  WEBHOOK = 'WEBHOOK',
}

export type WorkflowAction = {
  id: string;
  name?: string;
  type: WorkflowActionType;
  settings: { input: Record<string, unknown> };
  nextStepIds?: string[];
};

export type WorkflowTrigger = { type: WorkflowTriggerType; nextStepIds: string[] };

export type WorkflowVersion = {
  id: string;
  workflowId: string;
  trigger: WorkflowTrigger;
  steps: WorkflowAction[];
};

export type WorkflowRunStepInfo = { status: StepStatus; result?: unknown; error?: string };

export type WorkflowRunStepInfos = Record<string, WorkflowRunStepInfo>;

export type WorkflowRun = {
  id: string;
  workflowVersionId: string;
  status: WorkflowRunStatus;
  createdBy: ActorMetadata;
  state: {
    flow: { trigger: WorkflowTrigger; steps: WorkflowAction[] };
    stepInfos: WorkflowRunStepInfos;
  };
  error?: string;
};

export type WorkflowActionInput = {
  currentStepId: string;
  steps: WorkflowAction[];
  context: Record<string, unknown>;
  runInfo: { workflowRunId: string; workspaceId: string };
};

export type WorkflowActionOutput = {
  result?: unknown;
  error?: string;
  pendingEvent?: boolean;
  shouldEndWorkflowRun?: boolean;
  shouldRemainRunning?: boolean;
  shouldSkipStepExecution?: boolean;
};

export interface WorkflowActionExecutor {
  execute(input: WorkflowActionInput): Promise<WorkflowActionOutput>;
}

export const getWorkflowRunContext = (stepInfos: WorkflowRunStepInfos) =>
  Object.fromEntries(Object.entries(stepInfos).map(([stepId, info]) => [stepId, info.result]));
