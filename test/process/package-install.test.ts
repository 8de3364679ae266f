import { execFileSync, spawnSync } from 'child_process';
import fs from 'fs';
import os from 'os';
import path from 'path';

/**
 * The package as a user gets it: `npm pack`, installed into a bare app that
 * has only Nest 12 (ES modules only) and what Nest itself needs, no
 * devDependency of this repository. Every entry point is used there: the main
 * entry (which must not load Nest), the register entry by --require in a
 * CommonJS app and by --import in an ESM app, the ./nest subpath, and the CLI.
 */
const root = path.resolve(__dirname, '../..');
const node = process.env.TEST_NODE_BIN ?? process.execPath;
const NEST = ['@nestjs/common@12.6.3', '@nestjs/core@12.6.3', 'reflect-metadata@0.2.2', 'rxjs@7.8.2'];

jest.setTimeout(240_000);

// A provider with a Twenty target name, registered by Nest and called once.
const APP_BODY = (imports: string) => `
class WorkspaceEventEmitter {
  emitDatabaseBatchEvent(batch) { return batch.events.length; }
}
Injectable()(WorkspaceEventEmitter);
class AppModule {}
Module({ imports: [${imports}], providers: [WorkspaceEventEmitter] })(AppModule);
const app = await NestFactory.createApplicationContext(AppModule, { logger: false });
await app.init();
app.get(WorkspaceEventEmitter).emitDatabaseBatchEvent({
  workspaceId: 'ws-1', objectMetadataNameSingular: 'company', action: 'updated',
  objectMetadata: { id: 'o', nameSingular: 'company' }, events: [{ recordId: 'r1', userId: 'u1' }],
});
const runtime = globalThis[Symbol.for('opentelemetry-instrumentation-twenty-sse.runtime')];
console.log(JSON.stringify({ tally: runtime ? runtime.telemetry.tallyRows() : [] }));
await app.close();
`;

const FILES: Record<string, string> = {
  'app.cjs': `require('reflect-metadata');
const { Injectable, Module } = require('@nestjs/common');
const { NestFactory } = require('@nestjs/core');
(async () => {${APP_BODY('')}})();
`,
  'app.mjs': `import 'reflect-metadata';
import { Injectable, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
${APP_BODY('')}`,
  'module-app.cjs': `require('reflect-metadata');
const { Injectable, Module } = require('@nestjs/common');
const { NestFactory } = require('@nestjs/core');
const { TwentySseOtelModule } = require('opentelemetry-instrumentation-twenty-sse/nest');
(async () => {${APP_BODY('TwentySseOtelModule.forRoot({ config: { enabled: true } })')}})();
`,
  'main-entry.cjs': `const pkg = require('opentelemetry-instrumentation-twenty-sse');
const instrumentation = new pkg.TwentySseInstrumentation({ enabled: false });
instrumentation.enable();
instrumentation.disable();
console.log(JSON.stringify({
  exports: ['TwentySseInstrumentation', 'TraceStage', 'recordDrop', 'markWorkflowContext', 'startInstrumentation'].filter((name) => typeof pkg[name] === 'function'),
  nestLoaded: Object.keys(require.cache).filter((file) => file.includes('@nestjs')).length,
}));
`,
};

describe('the packed tarball in a bare Nest 12 app', () => {
  let app: string;
  let work: string;

  afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

  beforeAll(() => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'twenty-sse-pack-'));
    const packed = execFileSync('npm', ['pack', '--silent', '--pack-destination', work], {
      cwd: root,
      encoding: 'utf8',
    })
      .trim()
      .split('\n')
      .pop()!;
    app = path.join(work, 'app');
    fs.mkdirSync(app);
    fs.writeFileSync(
      path.join(app, 'package.json'),
      JSON.stringify({ name: 'bare-app', version: '1.0.0', private: true }),
    );
    execFileSync(
      'npm',
      ['install', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error', path.join(work, packed), ...NEST],
      {
        cwd: app,
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    for (const [name, text] of Object.entries(FILES)) fs.writeFileSync(path.join(app, name), text);
  });

  const run = (args: string[], env: NodeJS.ProcessEnv = {}) => {
    const childEnv: NodeJS.ProcessEnv = {
      ...process.env,
      OTEL_TRACES_EXPORTER: 'none',
      OTEL_METRICS_EXPORTER: 'none',
      ...env,
    };
    delete childEnv.NODE_OPTIONS;
    delete childEnv.TWENTY_SSE_OTEL_ENABLED;
    Object.assign(childEnv, env);
    const result = spawnSync(node, args, { cwd: app, env: childEnv, encoding: 'utf8', timeout: 60_000 });
    if (result.status !== 0) throw new Error(`${args.join(' ')} failed (${result.status}):\n${result.stderr}`);
    return { out: result.stdout.trim().split('\n').pop()!, stderr: result.stderr };
  };
  const emitCount = (out: string) =>
    (JSON.parse(out) as { tally: { stage: string; outcome: string; count: number }[] }).tally.find(
      (row) => row.stage === 'emit' && row.outcome === 'forwarded',
    )?.count;

  it('installs the runtime dependencies and the @opentelemetry/api peer, no devDependency of its own', () => {
    const modules = path.join(app, 'node_modules');
    for (const needed of ['@opentelemetry/sdk-node', '@opentelemetry/api', '@opentelemetry/instrumentation'])
      expect(fs.existsSync(path.join(modules, needed))).toBe(true);
    const installed = JSON.parse(
      fs.readFileSync(path.join(modules, 'opentelemetry-instrumentation-twenty-sse/package.json'), 'utf8'),
    ) as {
      dependencies: Record<string, string>;
      devDependencies: Record<string, string>;
    };
    expect(Object.keys(installed.dependencies)).toEqual(['@opentelemetry/sdk-node']);
    // A devDependency may still be there when something else installed depends on it (yaml: sdk-node's configuration package).
    const wantedByOthers = new Set<string>();
    const packageDirs = fs
      .readdirSync(modules)
      .flatMap((name) =>
        name.startsWith('@')
          ? fs.readdirSync(path.join(modules, name)).map((inner) => path.join(modules, name, inner))
          : [path.join(modules, name)],
      );
    for (const dir of packageDirs) {
      if (dir.endsWith('opentelemetry-instrumentation-twenty-sse') || !fs.existsSync(path.join(dir, 'package.json')))
        continue;
      const other = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as Record<
        string,
        Record<string, string> | undefined
      >;
      for (const field of ['dependencies', 'optionalDependencies', 'peerDependencies'])
        for (const name of Object.keys(other[field] ?? {})) wantedByOthers.add(name);
    }
    const devOnly = Object.keys(installed.devDependencies).filter(
      (name) => !NEST.some((spec) => spec.startsWith(`${name}@`)) && name !== '@opentelemetry/api',
    );
    expect(devOnly.length).toBeGreaterThan(10);
    expect(devOnly.filter((name) => fs.existsSync(path.join(modules, name)) && !wantedByOthers.has(name))).toEqual([]);
  });

  it('main entry: the instrumentation class and the decorators, without loading Nest', () => {
    const { out } = run(['main-entry.cjs']);
    expect(JSON.parse(out)).toEqual({
      exports: ['TwentySseInstrumentation', 'TraceStage', 'recordDrop', 'markWorkflowContext', 'startInstrumentation'],
      nestLoaded: 0,
    });
  });

  it('register entry by --require in a CommonJS app', () => {
    const { out, stderr } = run(['--require', 'opentelemetry-instrumentation-twenty-sse/register', 'app.cjs'], {
      TWENTY_SSE_OTEL_ENABLED: 'true',
    });
    expect(emitCount(out)).toBe(1);
    expect(stderr).toMatch(
      /\[twenty-sse-otel\] generation unknown \(detected\); 1 targets found, .*; Nest 12\.6\.3 hooked/,
    );
  });

  it('register entry by --import in an ESM app', () => {
    const { out, stderr } = run(['--import', 'opentelemetry-instrumentation-twenty-sse/register', 'app.mjs'], {
      TWENTY_SSE_OTEL_ENABLED: 'true',
    });
    expect(emitCount(out)).toBe(1);
    expect(stderr).toMatch(/Nest 12\.6\.3 hooked/);
  });

  it('the ./nest subpath: TwentySseOtelModule.forRoot() without the register entry', () => {
    const { out } = run(['module-app.cjs']);
    expect(emitCount(out)).toBe(1);
  });

  it('the CLI bin', () => {
    const result = spawnSync(path.join(app, 'node_modules/.bin/twenty-sse-otel'), ['--help'], {
      cwd: app,
      encoding: 'utf8',
      env: { ...process.env, PATH: `${path.dirname(node)}:${process.env.PATH}` },
    });
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/^usage: twenty-sse-otel/m);
  });
});
