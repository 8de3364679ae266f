import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';

import { RedisPubSub } from 'graphql-redis-subscriptions';
import IORedis from 'ioredis';

import { EXAMPLE_CONFIG, type ExampleConfig } from '../../../../app/example-config';
import { GroundTruth } from '../../../../app/ground-truth';

import { InMemoryPubSub } from './in-memory-pub-sub';

export type PubSubClient = RedisPubSub | InMemoryPubSub;

const SHUTDOWN_GRACE_MS = 150;

@Injectable()
export class RedisClientService implements OnApplicationShutdown {
  private redisClient: IORedis | null = null;
  private pubSubClient: PubSubClient | null = null;
  private readonly duplicates: IORedis[] = [];

  constructor(
    @Inject(EXAMPLE_CONFIG) private readonly config: ExampleConfig,
    private readonly groundTruth: GroundTruth,
  ) {}

  isRedisEnabled(): boolean {
    return Boolean(this.config.redisUrl);
  }

  getClient(): IORedis {
    if (!this.config.redisUrl) {
      throw new Error('REDIS_URL is not set');
    }
    if (!this.redisClient) {
      this.redisClient = new IORedis(this.config.redisUrl, { maxRetriesPerRequest: null });
    }

    return this.redisClient;
  }

  // A dedicated connection, for blocking commands (BRPOP) or subscriber mode.
  createDuplicate(): IORedis {
    const duplicate = this.getClient().duplicate();

    this.duplicates.push(duplicate);

    return duplicate;
  }

  getPubSubClient(): PubSubClient {
    if (!this.pubSubClient) {
      if (this.isRedisEnabled()) {
        const subscriber = this.createDuplicate();

        // Ground truth only (not in Twenty): which event-stream messages Redis handed to this process.
        subscriber.on('message', (channel: string, message: string) => this.groundTruth.received(channel, message));
        this.pubSubClient = new RedisPubSub({ publisher: this.createDuplicate(), subscriber });
      } else {
        this.pubSubClient = new InMemoryPubSub();
      }
    }

    return this.pubSubClient;
  }

  async countChannelSubscribers(channel: string): Promise<number> {
    if (!this.isRedisEnabled()) {
      return (this.getPubSubClient() as InMemoryPubSub).countSubscribers(channel);
    }
    const [, count] = (await this.getClient().pubsub('NUMSUB', channel)) as [string, number];

    return Number(count);
  }

  // After the HTTP server closed. SSE iterators whose client just went away
  // unsubscribe a moment later; closing the subscriber under them would turn
  // their PUNSUBSCRIBE into an unhandled rejection, hence the short grace.
  async onApplicationShutdown(): Promise<void> {
    await new Promise((resolve) => setTimeout(resolve, SHUTDOWN_GRACE_MS));
    if (this.pubSubClient instanceof RedisPubSub) {
      await this.pubSubClient.close().catch(() => undefined);
    }
    // quit() lets replies to commands already sent (stream cleanup) arrive first.
    await Promise.allSettled(
      [...this.duplicates, ...(this.redisClient ? [this.redisClient] : [])]
        .filter((connection) => connection.status !== 'end')
        .map((connection) => connection.quit()),
    );
  }
}
