import { spawnSync } from 'child_process';
import path from 'path';

/**
 * The register entry's Nest hook on Nest 10 with @nestjs/event-emitter 2.x
 * (older Twenty): the classes of test/fixtures/nest10/app.js are never
 * exported, so only the DependenciesScanner hook can patch them, before the
 * @OnEvent explorer reads their metadata.
 */
const root = path.resolve(__dirname, '../..');
const node = process.env.TEST_NODE_BIN ?? process.execPath;

describe('Nest 10', () => {
  it('patches providers through the scanner hook and keeps @OnEvent working', () => {
    const env: NodeJS.ProcessEnv = { ...process.env, TWENTY_SSE_OTEL_ENABLED: 'true', OTEL_TRACES_EXPORTER: 'none', OTEL_METRICS_EXPORTER: 'none' };
    delete env.NODE_OPTIONS;
    const run = spawnSync(node, ['--require', path.join(root, 'dist/src/register.js'), path.join(root, 'test/fixtures/nest10/app.js')], {
      cwd: root,
      env,
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(run.stderr).not.toMatch(/Error/);
    expect(run.status).toBe(0);
    const out = JSON.parse(run.stdout.trim()) as { nest: string; published: number; tally: { stage: string; outcome: string; count: number }[] };
    expect(out.nest).toMatch(/^10\./);
    expect(out.published).toBe(3);
    const forwarded = Object.fromEntries(out.tally.filter((r) => r.outcome === 'forwarded').map((r) => [r.stage, r.count]));
    expect(forwarded).toEqual({ emit: 3, listen: 3, publish: 3, fanout: 3, stream: 3, pubsub: 3 });
    expect(run.stderr).toMatch(/generation v1 \(detected\); 8 targets found/);
  });

  it('without the package the same app publishes the same and records nothing', () => {
    const env: NodeJS.ProcessEnv = { ...process.env };
    delete env.NODE_OPTIONS;
    delete env.TWENTY_SSE_OTEL_ENABLED;
    const run = spawnSync(node, [path.join(root, 'test/fixtures/nest10/app.js')], { cwd: root, env, encoding: 'utf8', timeout: 60_000 });
    expect(run.status).toBe(0);
    expect(JSON.parse(run.stdout.trim())).toEqual({ nest: expect.stringMatching(/^10\./), published: 3, tally: [] });
  });
});
