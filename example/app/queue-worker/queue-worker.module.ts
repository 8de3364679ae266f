import { type DynamicModule, Module } from '@nestjs/common';

import { loadGeneration } from '../../twenty/generations/load-generation';
import { CoreEngineModule } from '../core-engine.module';
import { type ExampleConfig } from '../example-config';

// Twenty's QueueWorkerModule: no HTTP; the same engine (emitter, listener,
// publisher) plus the job processors, so workflow events publish from here.
@Module({})
export class QueueWorkerModule {
  static forRoot(config: ExampleConfig): DynamicModule {
    return {
      module: QueueWorkerModule,
      imports: [CoreEngineModule.forRoot(config, loadGeneration(config.generation))],
    };
  }
}
