import path from 'path';
import { lastJsonLine, runNode } from '../helpers/run-node';

/**
 * disable() undoes the instrumentation exactly: after the register entry's
 * instrumentation patched every Twenty class Nest registered (and Nest's own
 * hook points) and was then disabled, every one of those methods is again the
 * function Twenty (or Nest) defined, with the same property flags, and what
 * Twenty publishes to its streams is byte-identical to a run without the
 * package (no carrier, same payloads, same order).
 */
const root = path.resolve(__dirname, '../..');
const workload = path.join(root, 'test/fixtures/workload.js');
const register = path.join(root, 'dist/src/register.js');

interface Result {
  digest: string;
  published: number[];
  prototypes: string[];
}

const QUIET = { OTEL_TRACES_EXPORTER: 'none', OTEL_METRICS_EXPORTER: 'none', WORKLOAD_EVENTS: '12', WORKLOAD_RAW: '1' };

async function workloadRun(env: Record<string, string>, instrumented: boolean): Promise<Result> {
  return lastJsonLine<Result>(
    await runNode([...(instrumented ? ['--require', register] : []), workload], { ...QUIET, ...env }),
    'workload',
  );
}

describe.each(['v5', 'publisher'])('disable(), generation %s', (generation) => {
  let without: Result;
  beforeAll(async () => {
    without = await workloadRun({ WORKLOAD_GENERATION: generation }, false);
  });

  it('leaves every patched method as Twenty and Nest defined it, and Twenty publishes byte-identical payloads', async () => {
    const disabled = await workloadRun(
      { WORKLOAD_GENERATION: generation, TWENTY_SSE_OTEL_ENABLED: 'true', WORKLOAD_DISABLE: '1' },
      true,
    );
    expect(without.prototypes.length).toBeGreaterThan(10);
    expect(disabled.prototypes).toEqual(without.prototypes);
    expect(disabled.published).toEqual(without.published);
    expect(disabled.digest).toBe(without.digest);
  });

  it('enabled, the same checks see the wrappers and the carrier (so the one above can fail)', async () => {
    const enabled = await workloadRun({ WORKLOAD_GENERATION: generation, TWENTY_SSE_OTEL_ENABLED: 'true' }, true);
    const changed = enabled.prototypes.filter((line) => !without.prototypes.includes(line));
    expect(changed.some((line) => line.startsWith('NestContainer.addProvider'))).toBe(true);
    expect(changed.filter((line) => !line.startsWith('Nest')).length).toBeGreaterThan(8);
    expect(enabled.published).toEqual(without.published);
    expect(enabled.digest).not.toBe(without.digest);
  });
});
