import { spawnSync } from 'child_process';
import fs from 'fs';
import os from 'os';
import path from 'path';

/**
 * Disabled (the default): the register entry patches nothing at all and says
 * so in one stderr line, once per process. Every
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

function inspect(
  generation: string,
  env: Record<string, string | undefined>,
  withRegister: boolean,
  registers: string[] = [register],
  dist = path.join(root, 'dist'),
): { result: Inspection; stderr: string } {
  const childEnv: NodeJS.ProcessEnv = {
    ...process.env,
    EXAMPLE_LOG_LEVELS: 'none',
    OTEL_TRACES_EXPORTER: 'none',
    OTEL_METRICS_EXPORTER: 'none',
    INSPECT_DIST: dist,
    ...env,
  };
  delete childEnv.REDIS_URL;
  for (const [k, v] of Object.entries(env)) if (v === undefined) delete childEnv[k];
  const args = [
    ...(withRegister ? registers.flatMap((file) => ['--require', file]) : []),
    path.join(root, 'test/fixtures/inspect-targets.js'),
    generation,
  ];
  const run = spawnSync(node, args, { cwd: root, env: childEnv, encoding: 'utf8', timeout: 60_000 });
  if (run.status !== 0) throw new Error(`inspect-targets failed: ${run.stderr}`);
  return { result: JSON.parse(run.stdout.trim().split('\n').pop()!), stderr: run.stderr };
}

/** The package's lines on stderr (the example app logs nothing with EXAMPLE_LOG_LEVELS=none). */
const packageLines = (stderr: string) => stderr.split('\n').filter((line) => line.includes('twenty-sse-otel'));

describe.each(['v1', 'v5', 'v8', 'publisher', 'record_share', 'record_access'])(
  'register entry disabled, generation %s',
  (generation) => {
    it('leaves every target method identical to the one without the package, and says once that it is off', () => {
      const without = inspect(generation, { TWENTY_SSE_OTEL_ENABLED: undefined }, false);
      const disabled = inspect(generation, { TWENTY_SSE_OTEL_ENABLED: undefined }, true);
      const explicitlyOff = inspect(generation, { TWENTY_SSE_OTEL_ENABLED: 'false' }, true);

      expect(without.result.methods.length).toBeGreaterThanOrEqual(8);
      for (const inspection of [disabled.result, explicitlyOff.result]) {
        expect(inspection.methods).toEqual(without.result.methods);
        expect(inspection.methods.every((m) => !m.wrapped && m.identicalToOriginal)).toBe(true);
        expect(inspection.loader).toBe(without.result.loader);
      }
      expect(packageLines(without.stderr)).toEqual([]);
      expect(packageLines(disabled.stderr)).toEqual([
        '[twenty-sse-otel] loaded but disabled (TWENTY_SSE_OTEL_ENABLED is not set): nothing is instrumented; set TWENTY_SSE_OTEL_ENABLED=true to enable it.',
      ]);
      expect(packageLines(explicitlyOff.stderr)).toEqual([
        '[twenty-sse-otel] loaded but disabled (TWENTY_SSE_OTEL_ENABLED="false"): nothing is instrumented; set TWENTY_SSE_OTEL_ENABLED=true to enable it.',
      ]);
    });

    it('enabled, the same inspection sees the targets wrapped (so the check above can fail)', () => {
      const enabled = inspect(generation, { TWENTY_SSE_OTEL_ENABLED: 'true' }, true);
      const wrapped = enabled.result.methods.filter((m) => m.wrapped);
      expect(wrapped.length).toBe(enabled.result.methods.length);
      expect(enabled.stderr).toMatch(
        new RegExp(`generation ${generation} \\(detected\\); \\d+ targets found, 0 missing`),
      );
    });
  },
);

describe.each(['v5', 'publisher'])(
  'Nest 12 (ES modules only, reached through require), generation %s',
  (generation) => {
    const nest12 = path.join(root, 'test/fixtures/nest12/dist');
    const nest12Register = [path.join(nest12, 'src/register.js')];

    it('disabled: every target method identical to the one without the package; enabled: every one wrapped', () => {
      const without = inspect(generation, { TWENTY_SSE_OTEL_ENABLED: undefined }, false, nest12Register, nest12);
      const disabled = inspect(generation, { TWENTY_SSE_OTEL_ENABLED: undefined }, true, nest12Register, nest12);
      const enabled = inspect(generation, { TWENTY_SSE_OTEL_ENABLED: 'true' }, true, nest12Register, nest12);
      expect(without.result.methods.length).toBeGreaterThanOrEqual(8);
      expect(disabled.result.methods).toEqual(without.result.methods);
      expect(disabled.result.methods.every((m) => !m.wrapped && m.identicalToOriginal)).toBe(true);
      expect(packageLines(disabled.stderr)).toHaveLength(1);
      expect(enabled.result.methods.every((m) => m.wrapped)).toBe(true);
      expect(enabled.result.methods.map((m) => m.source)).toEqual(without.result.methods.map((m) => m.source));
      expect(enabled.stderr).toMatch(
        new RegExp(
          `generation ${generation} \\(detected\\); \\d+ targets found, 0 missing; Nest 12\\.\\d+\\.\\d+ hooked`,
        ),
      );
    });
  },
);

describe('register entry disabled, loaded from two copies of the package', () => {
  let copy: string;
  beforeAll(() => {
    copy = fs.mkdtempSync(path.join(os.tmpdir(), 'twenty-sse-register-copy-'));
    fs.cpSync(path.join(root, 'dist/src'), copy, { recursive: true });
  });
  afterAll(() => fs.rmSync(copy, { recursive: true, force: true }));

  it('prints the disabled line once per process and patches nothing', () => {
    const twice = inspect('v5', { TWENTY_SSE_OTEL_ENABLED: undefined }, true, [
      register,
      path.join(copy, 'register.js'),
    ]);
    expect(packageLines(twice.stderr)).toHaveLength(1);
    expect(twice.result.methods.every((m) => !m.wrapped && m.identicalToOriginal)).toBe(true);
  });

  it('a bad TWENTY_SSE_OTEL_ENABLED value gets its own line instead, not a second one', () => {
    const bad = inspect('v5', { TWENTY_SSE_OTEL_ENABLED: 'maybe' }, true);
    expect(packageLines(bad.stderr)).toEqual([
      '[twenty-sse-otel] TWENTY_SSE_OTEL_ENABLED="maybe" is not a boolean; use true or false. Instrumentation stays off.',
    ]);
  });
});
