import { Logger } from '@nestjs/common';

import type IORedis from 'ioredis';
import { v4 } from 'uuid';

import {
  type MessageQueueDriver,
  type MessageQueueJob,
  type MessageQueueJobHandler,
} from './message-queue-driver.interface';

export const getRedisQueueListKey = (queueName: string) => `example:message-queue:${queueName}`;

// A minimal cross-process queue (LPUSH / BRPOP) standing in for BullMQ: the API
// server enqueues, the queue worker consumes one job at a time.
export class RedisListDriver implements MessageQueueDriver {
  private readonly logger = new Logger(RedisListDriver.name);
  private readonly consumers: { connection: IORedis; loop: Promise<void> }[] = [];
  private stopped = false;

  constructor(
    private readonly producer: IORedis,
    private readonly createBlockingConnection: () => IORedis,
  ) {}

  async add<T>(queueName: string, jobName: string, data: T): Promise<void> {
    const job: MessageQueueJob<T> = { id: v4(), name: jobName, data };

    await this.producer.lpush(getRedisQueueListKey(queueName), JSON.stringify(job));
  }

  work(queueName: string, handler: MessageQueueJobHandler): void {
    const connection = this.createBlockingConnection();
    const loop = this.consume(connection, queueName, handler);

    this.consumers.push({ connection, loop });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const { connection } of this.consumers) {
      connection.disconnect();
    }
    await Promise.all(this.consumers.map(({ loop }) => loop.catch(() => undefined)));
  }

  private async consume(connection: IORedis, queueName: string, handler: MessageQueueJobHandler): Promise<void> {
    while (!this.stopped) {
      let entry: [string, string] | null;

      try {
        entry = await connection.brpop(getRedisQueueListKey(queueName), 1);
      } catch (error) {
        if (this.stopped) {
          return;
        }
        throw error;
      }
      if (!entry) {
        continue;
      }
      const job = JSON.parse(entry[1]) as MessageQueueJob;

      try {
        await handler(job);
      } catch (error) {
        this.logger.error(`Job ${job.name} (${job.id}) failed: ${(error as Error).message}`);
      }
    }
  }
}
