import { type DynamicModule, Global, Module, type OnModuleDestroy, type Provider } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';

import { EXAMPLE_CONFIG, type ExampleConfig } from '../../../../app/example-config';
import { RedisClientService } from '../redis-client/redis-client.service';

import { NoopDriver } from './drivers/noop.driver';
import { RedisListDriver } from './drivers/redis-list.driver';
import { SyncDriver } from './drivers/sync.driver';
import { type MessageQueueDriver } from './drivers/message-queue-driver.interface';
import { MessageQueueMetadataAccessor } from './message-queue-metadata.accessor';
import { MessageQueueExplorer } from './message-queue.explorer';
import { getQueueToken, MessageQueue, QUEUE_DRIVER } from './message-queue.constants';
import { MessageQueueService } from './services/message-queue.service';

const UNCONSUMED_QUEUES = [MessageQueue.entityEventsToDbQueue, MessageQueue.webhookQueue, MessageQueue.triggerQueue];

class QueueDriverLifecycle implements OnModuleDestroy {
  constructor(private readonly driver: MessageQueueDriver) {}

  async onModuleDestroy() {
    await this.driver.stop();
  }
}

@Global()
@Module({})
export class MessageQueueModule {
  // `withExplorer` registers the job consumers (queue worker, or the API
  // server itself when the driver is sync).
  static register({ withExplorer }: { withExplorer: boolean }): DynamicModule {
    const noopDriver = new NoopDriver();
    const providers: Provider[] = [
      {
        provide: QUEUE_DRIVER,
        inject: [EXAMPLE_CONFIG, RedisClientService],
        useFactory: (config: ExampleConfig, redisClientService: RedisClientService) =>
          config.messageQueueType === 'sync'
            ? new SyncDriver()
            : new RedisListDriver(redisClientService.getClient(), () => redisClientService.createDuplicate()),
      },
      {
        provide: QueueDriverLifecycle,
        inject: [QUEUE_DRIVER],
        useFactory: (driver: MessageQueueDriver) => new QueueDriverLifecycle(driver),
      },
      {
        provide: getQueueToken(MessageQueue.workflowQueue),
        inject: [QUEUE_DRIVER],
        useFactory: (driver: MessageQueueDriver) => new MessageQueueService(driver, MessageQueue.workflowQueue),
      },
      ...UNCONSUMED_QUEUES.map((queueName) => ({
        provide: getQueueToken(queueName),
        useFactory: () => new MessageQueueService(noopDriver, queueName),
      })),
      ...(withExplorer ? [MessageQueueMetadataAccessor, MessageQueueExplorer] : []),
    ];

    return {
      module: MessageQueueModule,
      imports: withExplorer ? [DiscoveryModule] : [],
      providers,
      exports: [
        getQueueToken(MessageQueue.workflowQueue),
        ...UNCONSUMED_QUEUES.map((queueName) => getQueueToken(queueName)),
      ],
    };
  }
}
