import { Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import { createContextId, DiscoveryService, MetadataScanner, ModuleRef } from '@nestjs/core';
import { Injector } from '@nestjs/core/injector/injector';
import { type InstanceWrapper } from '@nestjs/core/injector/instance-wrapper';
import { type Module } from '@nestjs/core/injector/module';

import { type MessageQueueJob } from './drivers/message-queue-driver.interface';
import { MessageQueueMetadataAccessor } from './message-queue-metadata.accessor';
import { getQueueToken } from './message-queue.constants';
import { type MessageQueueService } from './services/message-queue.service';

interface ProcessorGroup {
  instance: Record<string, unknown>;
  host: Module;
  processMethodNames: string[];
  isRequestScoped: boolean;
}

// Like Twenty's explorer: finds @Processor providers at bootstrap, keeps the
// names of their @Process methods (metadata read from the method function),
// and per job calls `instance[methodName](job.data)` on a per-job instance
// for request-scoped processors.
@Injectable()
export class MessageQueueExplorer implements OnModuleInit {
  private readonly logger = new Logger('MessageQueueModule');
  private readonly injector = new Injector();

  constructor(
    private readonly moduleRef: ModuleRef,
    private readonly discoveryService: DiscoveryService,
    private readonly metadataAccessor: MessageQueueMetadataAccessor,
    private readonly metadataScanner: MetadataScanner,
  ) {}

  onModuleInit() {
    this.explore();
  }

  explore() {
    const processors = this.discoveryService
      .getProviders()
      .filter((wrapper) =>
        this.metadataAccessor.isProcessor(
          !wrapper.metatype || wrapper.inject ? wrapper.instance?.constructor : wrapper.metatype,
        ),
      );

    for (const [queueName, processorGroups] of Object.entries(this.groupProcessorsByQueueName(processors))) {
      const queue = this.moduleRef.get<MessageQueueService>(getQueueToken(queueName), {
        strict: false,
      });

      queue.work(async (job) => {
        for (const processorGroup of processorGroups) {
          await this.handleProcessor(processorGroup, job);
        }
      });
    }
  }

  private groupProcessorsByQueueName(processors: InstanceWrapper[]) {
    return processors.reduce(
      (acc, wrapper) => {
        const instance = wrapper.instance as Record<string, unknown>;
        const methodNames = this.metadataScanner.getAllMethodNames(Object.getPrototypeOf(instance));
        const { queueName } =
          this.metadataAccessor.getProcessorMetadata((instance.constructor as () => void) || wrapper.metatype) ?? {};

        if (!queueName || !wrapper.host) {
          this.logger.error(`Processor ${wrapper.name} is missing queue name or host metadata`);

          return acc;
        }

        acc[queueName] = [
          ...(acc[queueName] ?? []),
          {
            instance,
            host: wrapper.host,
            processMethodNames: methodNames.filter((name) =>
              this.metadataAccessor.isProcess(instance[name] as () => void),
            ),
            isRequestScoped: !wrapper.isDependencyTreeStatic(),
          },
        ];

        return acc;
      },
      {} as Record<string, ProcessorGroup[]>,
    );
  }

  private async handleProcessor(
    { instance, host, processMethodNames, isRequestScoped }: ProcessorGroup,
    job: MessageQueueJob,
  ) {
    const filteredProcessMethodNames = processMethodNames.filter(
      (processMethodName) =>
        this.metadataAccessor.getProcessMetadata(instance[processMethodName] as () => void)?.jobName === job.name,
    );

    if (filteredProcessMethodNames.length === 0) {
      return;
    }

    if (!isRequestScoped) {
      await this.invokeProcessMethods(instance, filteredProcessMethodNames, job);

      return;
    }

    const contextId = createContextId();

    this.moduleRef.registerRequestByContextId(
      { req: { workspaceId: (job.data as { workspaceId?: string })?.workspaceId } },
      contextId,
    );

    const contextInstance = await this.injector.loadPerContext(instance, host, host.providers, contextId);

    await this.invokeProcessMethods(contextInstance, filteredProcessMethodNames, job);
  }

  private async invokeProcessMethods(
    instance: Record<string, unknown>,
    processMethodNames: string[],
    job: MessageQueueJob,
  ) {
    for (const processMethodName of processMethodNames) {
      await (instance[processMethodName] as (data: unknown) => Promise<void>).call(instance, job.data);
    }
  }
}
