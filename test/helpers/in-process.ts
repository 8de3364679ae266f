import { hookNestScanner } from '../../src/load-hook';
import { Instrumenter } from '../../src/twenty/instrumenter';
import { setActiveTelemetry } from '../../src/otel/telemetry';
import { makeTestTelemetry, TestTelemetry } from './telemetry';

/**
 * The zero-code mechanism inside a jest worker: jest's module registry bypasses
 * Node's loader (so the register entry's require hook cannot see modules), but
 * the Nest scanner hook is the same code the register entry installs.
 */
export function instrumentNestInProcess(config: Parameters<typeof makeTestTelemetry>[0] = {}): TestTelemetry & { instrumenter: Instrumenter } {
  const test = makeTestTelemetry(config);
  setActiveTelemetry(test.telemetry);
  const instrumenter = new Instrumenter(test.telemetry);
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  hookNestScanner(require('@nestjs/core/scanner'), instrumenter, (component, error) => test.telemetry.fault(component, error));
  return { ...test, instrumenter };
}

/**
 * Starts the example app (single process, Redis when REDIS_URL is set) for the
 * enclosing describe block and closes it afterwards. Call it after
 * instrumentNestInProcess(), so the scanner hook is in place before Nest scans.
 */
export function useTwentyLikeApp(generation: import('../../example/app/example-config').TwentyGeneration): () => import('../../example/harness').TwentyLikeApp {
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
