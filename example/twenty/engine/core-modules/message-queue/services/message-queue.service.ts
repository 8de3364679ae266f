import { type MessageQueueDriver, type MessageQueueJobHandler } from '../drivers/message-queue-driver.interface';

export class MessageQueueService {
  constructor(
    private readonly driver: MessageQueueDriver,
    private readonly queueName: string,
  ) {}

  add<T>(jobName: string, data: T, _options?: { retryLimit?: number }): Promise<void> {
    return this.driver.add(this.queueName, jobName, data);
  }

  work(handler: MessageQueueJobHandler): void {
    this.driver.work(this.queueName, handler);
  }
}
