import { type DynamicModule, Inject, Module } from '@nestjs/common';
import { GraphQLModule, Query, Resolver } from '@nestjs/graphql';

import { YogaDriver, type YogaDriverConfig } from '@graphql-yoga/nestjs';

import { loadGeneration } from '../twenty/generations/load-generation';

import { CoreEngineModule } from './core-engine.module';
import { EXAMPLE_CONFIG, type ExampleConfig } from './example-config';
import { RecordRestController, WorkflowTriggerController } from './rest/example-rest.controller';

// GraphQL needs a Query root; Twenty's metadata schema has many.
@Resolver()
class ExampleInfoResolver {
  constructor(@Inject(EXAMPLE_CONFIG) private readonly config: ExampleConfig) {}

  @Query(() => String)
  twentyGeneration(): string {
    return this.config.generation;
  }
}

// The API server (Twenty's AppModule): GraphQL Yoga on /metadata with
// subscriptions over SSE, the REST mutation routes, the workflow trigger.
@Module({})
export class AppModule {
  static forRoot(config: ExampleConfig): DynamicModule {
    const generationParts = loadGeneration(config.generation);

    return {
      module: AppModule,
      imports: [
        CoreEngineModule.forRoot(config, generationParts),
        GraphQLModule.forRoot<YogaDriverConfig>({
          driver: YogaDriver,
          path: '/metadata',
          autoSchemaFile: true,
          sortSchema: true,
          graphiql: false,
          maskedErrors: false,
          logging: false,
          context: ({ req, res }: { req: unknown; res: unknown }) => ({ req, res }),
        }),
      ],
      controllers: [RecordRestController, WorkflowTriggerController],
      providers: [generationParts.eventStreamResolver, ExampleInfoResolver],
    };
  }
}
