import { hookNestScanner } from '../../src/load-hook';
import { Instrumenter } from '../../src/targets';
import { setActiveTelemetry } from '../../src/telemetry';
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
