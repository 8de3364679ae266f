export const RUN_WORKFLOW_JOB_NAME = 'RunWorkflowJob';
