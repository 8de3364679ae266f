import { spawnSync } from 'child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import path from 'path';

/**
 * Every way in, on every Nest major: the register entry, TwentySseOtelModule
 * (the ./nest subpath) and the @TraceStage decorators, each on Nest 10 (with
 * @nestjs/event-emitter 2), 11 and 12 (ES modules only, reached through
 * require), with a tiny Twenty-shaped app whose classes only Nest can reach.
 * And the other side: a Nest the package cannot hook is named in one startup
 * line, and every target shows as missing in the targets metric (which the
 * TwentySseInstrumentationTargetsMissing alert reads).
 */
const root = path.resolve(__dirname, '../..');
const node = process.env.TEST_NODE_BIN ?? process.execPath;
const tinyApp = path.join(root, 'test/fixtures/tiny-app.js');
const DIST: Record<string, string> = {
  10: path.join(root, 'test/fixtures/nest10/dist'),
  11: path.join(root, 'dist'),
  12: path.join(root, 'test/fixtures/nest12/dist'),
};

interface TinyOut {
  nest: string;
  published: number;
  tally: { stage: string; outcome: string; count: number }[];
  targets: { className: string; method: string; status: string }[];
  faults: number;
}

function run(args: string[], env: NodeJS.ProcessEnv, cwd = root): { out: TinyOut; stderr: string } {
  const childEnv: NodeJS.ProcessEnv = {
    ...process.env,
    OTEL_TRACES_EXPORTER: 'none',
    OTEL_METRICS_EXPORTER: 'none',
    ...env,
  };
  delete childEnv.NODE_OPTIONS;
  for (const [key, value] of Object.entries(env)) if (value === undefined) delete childEnv[key];
  const result = spawnSync(node, args, { cwd, env: childEnv, encoding: 'utf8', timeout: 60_000 });
  if (result.status !== 0) throw new Error(`${args.join(' ')} failed (${result.status}):\n${result.stderr}`);
  return { out: JSON.parse(result.stdout.trim().split('\n').pop()!) as TinyOut, stderr: result.stderr };
}

const forwarded = (out: TinyOut) =>
  Object.fromEntries(out.tally.filter((row) => row.outcome === 'forwarded').map((row) => [row.stage, row.count]));
const ourLines = (stderr: string) => stderr.split('\n').filter((line) => line.startsWith('[twenty-sse-otel]'));

describe.each(['10', '11', '12'])('Nest %s', (nest) => {
  const dist = DIST[nest];
  const enabled = { TWENTY_SSE_OTEL_ENABLED: 'true' };

  it('without the package the app publishes and nothing is recorded', () => {
    const { out, stderr } = run([tinyApp, dist, 'register'], { TWENTY_SSE_OTEL_ENABLED: undefined });
    expect(out.nest.split('.')[0]).toBe(nest);
    expect(out.published).toBe(3);
    expect(out.tally).toEqual([]);
    expect(ourLines(stderr)).toEqual([]);
  });

  it('register entry: every stage counted, one startup line naming the Nest version', () => {
    const { out, stderr } = run(['--require', path.join(dist, 'src/register.js'), tinyApp, dist, 'register'], enabled);
    expect(out.published).toBe(3);
    expect(forwarded(out)).toEqual({ emit: 3, listen: 3, publish: 3, fanout: 3, stream: 3, pubsub: 3 });
    expect(out.faults).toBe(0);
    const lines = ourLines(stderr);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      new RegExp(`generation v1 \\(detected\\); 8 targets found, \\d+ missing .*; Nest ${nest}\\.\\d+\\.\\d+ hooked$`),
    );
  });

  it('TwentySseOtelModule.forRoot(): the same counts, without the register entry', () => {
    const { out, stderr } = run([tinyApp, dist, 'module'], { TWENTY_SSE_OTEL_ENABLED: undefined });
    expect(out.published).toBe(3);
    expect(forwarded(out)).toEqual({ emit: 3, listen: 3, publish: 3, fanout: 3, stream: 3, pubsub: 3 });
    expect(ourLines(stderr)[0]).toMatch(/generation v1 \(detected\); 8 targets found/);
  });

  it('@TraceStage: decorated methods counted, the @OnEvent handler still registered', () => {
    const { out } = run([tinyApp, dist, 'decorators'], { TWENTY_SSE_OTEL_ENABLED: undefined });
    expect(out.published).toBe(3);
    expect(forwarded(out)).toEqual({ emit: 3, listen: 3 });
    expect(out.faults).toBe(0);
  });
});

/** A stand-in @nestjs/core of the given version and exports, and a CommonJS app that loads it. */
function fakeNestApp(version: string, indexJs: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'twenty-sse-fake-nest-'));
  const core = path.join(dir, 'node_modules/@nestjs/core');
  mkdirSync(core, { recursive: true });
  writeFileSync(path.join(core, 'package.json'), JSON.stringify({ name: '@nestjs/core', version, main: 'index.js' }));
  writeFileSync(path.join(core, 'index.js'), indexJs);
  writeFileSync(
    path.join(dir, 'app.js'),
    `require('@nestjs/core');
const runtime = global[Symbol.for('opentelemetry-instrumentation-twenty-sse.runtime')];
process.stdout.write(JSON.stringify({ nest: ${JSON.stringify(version)}, published: 0, tally: [], faults: runtime.telemetry.faultCount(), targets: runtime.telemetry.targetStatuses() }) + '\\n');
`,
  );
  return dir;
}

const PUBLISH_STAGE = /^(WorkspaceEventEmitterService|ObjectRecordEventPublisher)$/;

describe('a Nest the package cannot hook is said, once, never silently skipped', () => {
  it.each([
    [
      '13.0.0',
      'exports.NestContainer = class NestContainer { addProvider() {} addController() {} };',
      /Nest 13\.0\.0 not hooked \(supported @nestjs\/core >=10\.0\.0 <13\): no class is patched$/,
    ],
    [
      '12.99.0',
      'exports.NestFactory = { create() {} };',
      /Nest 12\.99\.0: NestContainer\.addProvider, NestContainer\.addController, NestFactoryStatic\.create, NestFactoryStatic\.createApplicationContext, NestFactoryStatic\.createMicroservice not found$/,
    ],
  ])(
    '@nestjs/core %s: one line naming the version and what is missing; every target missing in the targets metric',
    (version, indexJs, expected) => {
      const dir = fakeNestApp(version, indexJs);
      const { out, stderr } = run(
        ['--require', path.join(root, 'dist/src/register.js'), path.join(dir, 'app.js')],
        { TWENTY_SSE_OTEL_ENABLED: 'true' },
        dir,
      );
      const lines = ourLines(stderr);
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/generation unknown \(detected\); 0 targets found, \d+ missing/);
      expect(lines[0]).toMatch(expected);
      expect(out.faults).toBe(0);
      const publishStage = out.targets.filter((target) => PUBLISH_STAGE.test(target.className));
      expect(publishStage.length).toBeGreaterThan(0);
      expect(publishStage.every((target) => target.status === 'missing')).toBe(true);
      expect(out.targets).toContainEqual({ className: 'NestContainer', method: 'addProvider', status: 'missing' });
    },
  );
});
