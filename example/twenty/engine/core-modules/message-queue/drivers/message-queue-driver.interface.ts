export type MessageQueueJob<T = unknown> = { id: string; name: string; data: T };

export type MessageQueueJobHandler = (job: MessageQueueJob) => Promise<void>;

export interface MessageQueueDriver {
  add<T>(queueName: string, jobName: string, data: T): Promise<void>;
  work(queueName: string, handler: MessageQueueJobHandler): void;
  stop(): Promise<void>;
}
