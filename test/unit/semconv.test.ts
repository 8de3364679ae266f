import * as installed from '@opentelemetry/semantic-conventions';
import { ATTR, STABLE_NAMES } from '../../src/semconv';

describe('stable OpenTelemetry names', () => {
  it('equal the constants of the installed @opentelemetry/semantic-conventions', () => {
    for (const [constant, name] of Object.entries(STABLE_NAMES)) {
      expect([constant, (installed as Record<string, unknown>)[constant]]).toEqual([constant, name]);
    }
  });

  it('are the ones the span attributes use', () => {
    expect(ATTR.ERROR_TYPE).toBe(installed.ATTR_ERROR_TYPE);
    expect(ATTR.CODE_FUNCTION).toBe(installed.ATTR_CODE_FUNCTION_NAME);
  });
});
