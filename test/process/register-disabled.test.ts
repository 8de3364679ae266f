import { spawnSync } from 'child_process';
import path from 'path';

/**
 * Disabled (the default): the register entry patches nothing at all. Every
 * target prototype method Nest instantiates is the very function Twenty
 * defined, and Node's loader is untouched.
 */
const root = path.resolve(__dirname, '../..');
const node = process.env.TEST_NODE_BIN ?? process.execPath;
const register = path.join(root, 'dist/src/register.js');

interface Inspection {
  loader: string;
  methods: { method: string; wrapped: boolean; identicalToOriginal: boolean; source: string }[];
}

function inspect(generation: string, env: Record<string, string | undefined>, withRegister: boolean): { result: Inspection; stderr: string } {
  const childEnv: NodeJS.ProcessEnv = { ...process.env, EXAMPLE_LOG_LEVELS: 'none', OTEL_TRACES_EXPORTER: 'none', OTEL_METRICS_EXPORTER: 'none', ...env };
  delete childEnv.REDIS_URL;
  for (const [k, v] of Object.entries(env)) if (v === undefined) delete childEnv[k];
  const args = [...(withRegister ? ['--require', register] : []), path.join(root, 'test/fixtures/inspect-targets.js'), generation];
  const run = spawnSync(node, args, { cwd: root, env: childEnv, encoding: 'utf8', timeout: 60_000 });
  if (run.status !== 0) throw new Error(`inspect-targets failed: ${run.stderr}`);
  return { result: JSON.parse(run.stdout.trim().split('\n').pop()!), stderr: run.stderr };
}

describe.each(['v1', 'v5', 'v8', 'publisher', 'record_share', 'record_access'])('register entry disabled, generation %s', (generation) => {
  it('leaves every target method identical to the one without the package', () => {
    const without = inspect(generation, { TWENTY_SSE_OTEL_ENABLED: undefined }, false).result;
    const disabled = inspect(generation, { TWENTY_SSE_OTEL_ENABLED: undefined }, true);
    const explicitlyOff = inspect(generation, { TWENTY_SSE_OTEL_ENABLED: 'false' }, true).result;

    expect(without.methods.length).toBeGreaterThanOrEqual(8);
    for (const inspection of [disabled.result, explicitlyOff]) {
      expect(inspection.methods).toEqual(without.methods);
      expect(inspection.methods.every((m) => !m.wrapped && m.identicalToOriginal)).toBe(true);
      expect(inspection.loader).toBe(without.loader);
    }
    expect(disabled.stderr).not.toContain('[twenty-sse-otel]');
  });

  it('enabled, the same inspection sees the targets wrapped (so the check above can fail)', () => {
    const enabled = inspect(generation, { TWENTY_SSE_OTEL_ENABLED: 'true' }, true);
    const wrapped = enabled.result.methods.filter((m) => m.wrapped);
    expect(wrapped.length).toBe(enabled.result.methods.length);
    expect(enabled.stderr).toMatch(new RegExp(`generation ${generation} \\(detected\\); \\d+ targets found, 0 missing`));
  });
});
