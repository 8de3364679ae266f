import { TwentySseInstrumentation } from '../../src/instrumentation';
import { Instrumenter } from '../../src/twenty/instrumenter';
import { setActiveTelemetry } from '../../src/otel/telemetry';
import { makeTestTelemetry, TestTelemetry } from './telemetry';

/**
 * The zero-code mechanism inside a jest worker: jest's module registry bypasses
 * Node's loader (so no module hook sees @nestjs/core load), but the Nest hook
 * applied here to @nestjs/core's exports is the same code the instrumentation
 * applies when Node loads Nest.
 */
export function instrumentNestInProcess(
  config: Parameters<typeof makeTestTelemetry>[0] = {},
): TestTelemetry & { instrumenter: Instrumenter } {
  const test = makeTestTelemetry(config);
  setActiveTelemetry(test.telemetry);
  const instrumentation = new TwentySseInstrumentation(
    { enabled: false },
    { telemetry: test.telemetry, log: () => undefined },
  );
  instrumentation.instrumentNestCore(
    require('@nestjs/core'),
    (require('@nestjs/core/package.json') as { version: string }).version,
  );
  return { ...test, instrumenter: instrumentation.instrumenter };
}

/**
 * Starts the example app (single process, Redis when REDIS_URL is set) for the
 * enclosing describe block and closes it afterwards. Call it after
 * instrumentNestInProcess(), so the scanner hook is in place before Nest scans.
 */
export function useTwentyLikeApp(
  generation: import('../../example/app/example-config').TwentyGeneration,
): () => import('../../example/harness').TwentyLikeApp {
  let app: import('../../example/harness').TwentyLikeApp | undefined;
  beforeAll(async () => {
    const { startTwentyLikeApp } = await import('../../example/harness');
    app = await startTwentyLikeApp({ generation, mode: 'single', redisUrl: process.env.REDIS_URL });
  });
  afterAll(async () => {
    await app?.close();
  });
  return () => {
    if (!app) throw new Error('the example app is not started yet (use it inside a test)');
    return app;
  };
}
