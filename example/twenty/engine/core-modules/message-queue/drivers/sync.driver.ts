import { v4 } from 'uuid';

import { type MessageQueueDriver, type MessageQueueJobHandler } from './message-queue-driver.interface';

// MESSAGE_QUEUE_TYPE=sync (Twenty's CI mode): add() runs the job in-process and
// waits for it, so the caller's async context reaches the job.
export class SyncDriver implements MessageQueueDriver {
  private readonly handlers = new Map<string, MessageQueueJobHandler>();

  async add<T>(queueName: string, jobName: string, data: T): Promise<void> {
    const handler = this.handlers.get(queueName);

    if (!handler) {
      return;
    }
    await handler({ id: v4(), name: jobName, data });
  }

  work(queueName: string, handler: MessageQueueJobHandler): void {
    this.handlers.set(queueName, handler);
  }

  async stop(): Promise<void> {
    this.handlers.clear();
  }
}
