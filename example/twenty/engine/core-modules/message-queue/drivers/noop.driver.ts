import { type MessageQueueDriver } from './message-queue-driver.interface';

// Queues the pipeline enqueues to but the example never consumes
// (webhooks, database-event triggers, audit logs).
export class NoopDriver implements MessageQueueDriver {
  async add(): Promise<void> {}

  work(): void {}

  async stop(): Promise<void> {}
}
