import { BeforeApplicationShutdown, DynamicModule, Global, Inject, Module, Optional } from '@nestjs/common';
import { ModulesContainer } from '@nestjs/core';
import { Runtime, StartOptions, startInstrumentation } from './runtime';

export const TWENTY_SSE_OTEL_RUNTIME = Symbol.for('opentelemetry-instrumentation-twenty-sse.nest-runtime');

/**
 * In-source way in: `TwentySseOtelModule.forRoot()` in the root module.
 * Its provider is built while Nest instantiates providers, i.e. before any
 * onModuleInit/onApplicationBootstrap explorer reads handler metadata, and
 * patches every provider and controller class Nest knows. Same wrapper and
 * accounting as the register entry; if that already ran, it is reused.
 */
@Global()
@Module({})
export class TwentySseOtelModule implements BeforeApplicationShutdown {
  constructor(@Optional() @Inject(TWENTY_SSE_OTEL_RUNTIME) private readonly runtime?: Runtime) {}

  /** SSE connections still open when the app is closed are ended by that shutdown. */
  beforeApplicationShutdown(): void {
    this.runtime?.telemetry.connections.shutdown();
  }

  static forRoot(options: StartOptions = {}): DynamicModule {
    return {
      module: TwentySseOtelModule,
      providers: [
        {
          provide: TWENTY_SSE_OTEL_RUNTIME,
          inject: [ModulesContainer],
          useFactory: (modules: ModulesContainer): Runtime | undefined => {
            const runtime = startInstrumentation({ ...options, loadHook: false });
            if (!runtime) return undefined;
            for (const moduleRef of modules.values()) {
              for (const wrapper of [...moduleRef.providers.values(), ...moduleRef.controllers.values()]) {
                const metatype = (wrapper as { metatype?: unknown }).metatype;
                if (typeof metatype === 'function') runtime.instrumenter.instrumentClass(metatype);
              }
            }
            runtime.report();
            return runtime;
          },
        },
      ],
      exports: [TWENTY_SSE_OTEL_RUNTIME],
    };
  }
}
