import { type DynamicModule, Global, Module, type Provider } from '@nestjs/common';
import { EventEmitterModule } from '@nestjs/event-emitter';

import { ProcessNestedRelationsHelper } from '../twenty/engine/api/common/process-nested-relations.helper';
import { AuthTokenService } from '../twenty/engine/core-modules/auth/auth-token.service';
import { CacheLockService } from '../twenty/engine/core-modules/cache-lock/cache-lock.service';
import { CacheStorageNamespace } from '../twenty/engine/core-modules/cache-storage/cache-storage-namespace.enum';
import {
  CacheStorageService,
  getCacheStorageToken,
  InMemoryCacheBackend,
} from '../twenty/engine/core-modules/cache-storage/cache-storage.service';
import { MessageQueueModule } from '../twenty/engine/core-modules/message-queue/message-queue.module';
import { RECORD_CRUD_SERVICES } from '../twenty/engine/core-modules/record-crud/record-crud.services';
import { RedisClientService } from '../twenty/engine/core-modules/redis-client/redis-client.service';
import { RecordShareService } from '../twenty/engine/record-share/record-share';
import { SubscriptionService } from '../twenty/engine/subscriptions/subscription.service';
import { GlobalWorkspaceOrmManager } from '../twenty/engine/twenty-orm/global-workspace-orm.manager';
import { WorkspaceRecordStore } from '../twenty/engine/twenty-orm/workspace-record-store';
import { WorkspaceCacheService } from '../twenty/engine/workspace-cache/workspace-cache.service';
import { WorkspaceEventEmitter } from '../twenty/engine/workspace-event-emitter/workspace-event-emitter';
import { type GenerationParts } from '../twenty/generations/generation-parts.type';
import { WorkflowActionFactory } from '../twenty/modules/workflow/workflow-executor/factories/workflow-action.factory';
import { WorkflowExecutionContextService } from '../twenty/modules/workflow/workflow-executor/services/workflow-execution-context.service';
import { RECORD_CRUD_WORKFLOW_ACTIONS } from '../twenty/modules/workflow/workflow-executor/workflow-actions/record-crud/record-crud.workflow-actions';
import { WorkflowExecutorWorkspaceService } from '../twenty/modules/workflow/workflow-executor/workspace-services/workflow-executor.workspace-service';
import { RunWorkflowJob } from '../twenty/modules/workflow/workflow-runner/jobs/run-workflow.job';
import { WorkflowCommonWorkspaceService } from '../twenty/modules/workflow/workflow-runner/workflow-run/workflow-common.workspace-service';
import { WorkflowRunWorkspaceService } from '../twenty/modules/workflow/workflow-runner/workflow-run/workflow-run.workspace-service';
import { WorkflowRunnerWorkspaceService } from '../twenty/modules/workflow/workflow-runner/workspace-services/workflow-runner.workspace-service';

import { EXAMPLE_CONFIG, type ExampleConfig } from './example-config';
import { GroundTruth } from './ground-truth';
import { ExampleMutationsService } from './rest/example-mutations.service';
import { ExampleSeedService } from './seed/example-seed.service';

const cacheStorageProviders = (): Provider[] =>
  Object.values(CacheStorageNamespace).map((namespace) => ({
    provide: getCacheStorageToken(namespace),
    inject: [RedisClientService, InMemoryCacheBackend],
    useFactory: (redisClientService: RedisClientService, memory: InMemoryCacheBackend) =>
      new CacheStorageService(namespace, redisClientService, memory),
  }));

// What runs the workflow steps: the queue worker, or the API server itself
// when the queue is sync.
const WORKFLOW_EXECUTION_PROVIDERS: Provider[] = [
  RunWorkflowJob,
  WorkflowExecutorWorkspaceService,
  WorkflowActionFactory,
  WorkflowExecutionContextService,
  ...RECORD_CRUD_WORKFLOW_ACTIONS,
];

// Everything both Twenty processes load: the ORM and its event emitter, the
// listener and publisher of the chosen generation, Redis, caches and queues.
@Global()
@Module({})
export class CoreEngineModule {
  static forRoot(config: ExampleConfig, generationParts: GenerationParts): DynamicModule {
    const runsWorkflowJobs = config.processName === 'worker' || config.processName === 'single';

    const providers: Provider[] = [
      { provide: EXAMPLE_CONFIG, useValue: config },
      { provide: InMemoryCacheBackend, useValue: new InMemoryCacheBackend() },
      GroundTruth,
      RedisClientService,
      ...cacheStorageProviders(),
      CacheLockService,
      WorkspaceCacheService,
      WorkspaceRecordStore,
      SubscriptionService,
      generationParts.eventStreamServiceClass,
      generationParts.workspaceEventEmitterClass
        ? { provide: WorkspaceEventEmitter, useClass: generationParts.workspaceEventEmitterClass }
        : WorkspaceEventEmitter,
      GlobalWorkspaceOrmManager,
      ...RECORD_CRUD_SERVICES,
      RecordShareService,
      ProcessNestedRelationsHelper,
      AuthTokenService,
      WorkflowCommonWorkspaceService,
      WorkflowRunWorkspaceService,
      WorkflowRunnerWorkspaceService,
      ...generationParts.publisherProviders,
      generationParts.entityEventsToDbListener,
      ...(runsWorkflowJobs ? WORKFLOW_EXECUTION_PROVIDERS : []),
      ExampleSeedService,
      ExampleMutationsService,
    ];

    return {
      module: CoreEngineModule,
      imports: [
        EventEmitterModule.forRoot({ wildcard: true }),
        MessageQueueModule.register({ withExplorer: runsWorkflowJobs }),
      ],
      providers,
      exports: providers.map((provider) => ('provide' in provider ? provider.provide : provider)),
    };
  }
}
