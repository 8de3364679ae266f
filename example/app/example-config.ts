export const TWENTY_GENERATIONS = ['v1', 'v5', 'v8', 'publisher', 'record_share', 'record_access'] as const;

export type TwentyGeneration = (typeof TWENTY_GENERATIONS)[number];

// `single` = API server that also runs the workflow queue in-process (sync driver).
// `client` = a test-side context on the same Redis as external server/worker
// processes: it seeds, enqueues and reads, and consumes no jobs.
export type ExampleProcessName = 'server' | 'worker' | 'single' | 'client';

export type MessageQueueType = 'sync' | 'redis';

// Defects a test can switch on in one process, to see how the telemetry and
// the alerts react to a Twenty that changed. `stream_skips_events`: the
// ObjectRecordEventPublisher's per-stream method returns before looking at
// the stream, a drop path no drop rule knows (the package reports it as
// unattributed).
export const EXAMPLE_FAULTS = ['stream_skips_events'] as const;

export type ExampleFault = (typeof EXAMPLE_FAULTS)[number];

export type ExampleConfig = {
  generation: TwentyGeneration;
  processName: ExampleProcessName;
  redisUrl?: string;
  messageQueueType: MessageQueueType;
  groundTruthFile?: string;
  // Twenty writes workflowRun step infos through the ORM, so they emit
  // `workflowRun.updated` events of their own; off by default to keep
  // scenarios focused on the records the steps change.
  emitWorkflowRunEvents: boolean;
  faults?: ExampleFault[];
};

export const EXAMPLE_CONFIG = 'EXAMPLE_CONFIG';

export const DEFAULT_GENERATION: TwentyGeneration = 'v5';

export const isTwentyGeneration = (value: string): value is TwentyGeneration =>
  (TWENTY_GENERATIONS as readonly string[]).includes(value);

export const readExampleConfigFromEnv = (
  processName: ExampleProcessName,
  env: NodeJS.ProcessEnv = process.env,
): ExampleConfig => {
  const generation = env.EXAMPLE_TWENTY_GENERATION ?? DEFAULT_GENERATION;

  if (!isTwentyGeneration(generation)) {
    throw new Error(`EXAMPLE_TWENTY_GENERATION must be one of ${TWENTY_GENERATIONS.join('|')}, got "${generation}"`);
  }

  const redisUrl = env.REDIS_URL || undefined;
  const messageQueueType = (env.MESSAGE_QUEUE_TYPE ??
    (processName === 'single' || !redisUrl ? 'sync' : 'redis')) as MessageQueueType;

  if (messageQueueType !== 'sync' && messageQueueType !== 'redis') {
    throw new Error(`MESSAGE_QUEUE_TYPE must be sync|redis, got "${messageQueueType}"`);
  }

  if (messageQueueType === 'redis' && !redisUrl) {
    throw new Error('MESSAGE_QUEUE_TYPE=redis needs REDIS_URL');
  }

  const faults = (env.EXAMPLE_FAULTS ?? '')
    .split(',')
    .map((fault) => fault.trim())
    .filter((fault) => fault !== '');
  const unknownFault = faults.find((fault) => !(EXAMPLE_FAULTS as readonly string[]).includes(fault));

  if (unknownFault !== undefined) {
    throw new Error(
      `EXAMPLE_FAULTS takes a comma-separated list of ${EXAMPLE_FAULTS.join('|')}, got "${unknownFault}"`,
    );
  }

  return {
    generation,
    processName: messageQueueType === 'sync' && processName === 'server' ? 'single' : processName,
    redisUrl,
    messageQueueType,
    groundTruthFile: env.EXAMPLE_GROUND_TRUTH_FILE || undefined,
    emitWorkflowRunEvents: env.EXAMPLE_EMIT_WORKFLOW_RUN_EVENTS === 'true',
    faults: faults as ExampleFault[],
  };
};
