import { spawnSync } from 'child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { dirname, join, relative, resolve } from 'path';
import { TWENTY_GENERATIONS } from '../../example/app/example-config';

/**
 * `twenty-sse-otel check <path>` (dist/src/cli/main.js in a child process) on
 * the example's compiled output, one tree per generation: the files a
 * process of that generation loads (followed from its require() calls), as a
 * Twenty build of that version would hold them. Also on the TypeScript
 * sources, on a tree where a method was renamed, and on trees that are not
 * Twenty at all.
 */
const root = resolve(__dirname, '../..');
const dist = join(root, 'dist');
const node = process.env.TEST_NODE_BIN || process.execPath;
const work = mkdtempSync(join(tmpdir(), 'twenty-sse-check-'));

afterAll(() => rmSync(work, { recursive: true, force: true }));

function check(...args: string[]) {
  const run = spawnSync(node, [join(dist, 'src/cli/main.js'), 'check', ...args], { encoding: 'utf8', timeout: 60_000 });
  return { code: run.status, stdout: run.stdout, stderr: run.stderr };
}

/** Copies `entries` and every module they require, transitively, under `target` (same relative layout). */
function copyLoadedTree(entries: string[], target: string, from = dist, extension = '.js'): void {
  const pending = [...entries];
  const seen = new Set<string>();
  while (pending.length > 0) {
    const file = pending.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    const destination = join(target, relative(from, file));
    mkdirSync(dirname(destination), { recursive: true });
    copyFileSync(file, destination);
    const text = readFileSync(file, 'utf8');
    const pattern = extension === '.js' ? /require\("(\.[^"]+)"\)/g : /from '(\.[^']+)'/g;
    for (const match of text.matchAll(pattern)) {
      const candidate = resolve(dirname(file), match[1]);
      for (const path of [`${candidate}${extension}`, join(candidate, `index${extension}`)]) {
        if (existsSync(path)) pending.push(path);
      }
    }
  }
}

function generationTree(generation: string, from = dist, extension = '.js'): string {
  const target = join(work, `${generation}-${extension.slice(1)}`);
  if (!existsSync(target)) {
    copyLoadedTree(
      [
        join(from, 'example/app/core-engine.module' + extension),
        join(from, `example/twenty/generations/${generation}/index${extension}`),
      ],
      target,
      from,
      extension,
    );
  }
  return target;
}

describe('check on the example compiled per generation', () => {
  it.each([...TWENTY_GENERATIONS])('%s: detected, every target found, exit 0', (generation) => {
    const result = check(generationTree(generation), '--json');
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const report = JSON.parse(result.stdout);
    expect(report.generation).toBe(generation);
    expect(report.targets.length).toBeGreaterThan(10);
    expect(report.targets.filter((line: { status: string }) => line.status !== 'found')).toEqual([]);
    expect(report.dropRules.map((rule: { code: string }) => rule.code)).toContain('D1');
  });

  it('the September 2026 forms name their N-codes, flag and the new reason', () => {
    const result = check(generationTree('record_access'));
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^generation record_access: /);
    expect(result.stdout).toContain('found   RecordAccessPolicyService.buildEventRecordAccessGate');
    expect(result.stdout).toContain('found   WorkspaceEventEmitter.emitDatabaseBatchEventNow');
    expect(result.stdout).toMatch(
      /- N1 no_matching_query: ObjectRecordEventPublisher\.processObjectRecordStreamEvents/,
    );
    expect(result.stdout).toMatch(/- N2 record_access_denied: RecordAccessPolicyService\.buildEventRecordAccessGate/);
    expect(result.stdout).toMatch(/- N5 restricted_fields_only: omitRestrictedFieldsFromEvent/);
    expect(result.stdout).toContain('IS_RECORD_LEVEL_SHARING_ENABLED');
  });

  it('reads TypeScript sources too (decorators, private async methods)', () => {
    const result = check(generationTree('record_share', root, '.ts'), '--json');
    expect(result.code).toBe(0);
    const report = JSON.parse(result.stdout);
    expect(report.generation).toBe('record_share');
    expect(report.targets).toEqual(
      expect.arrayContaining([{ className: 'EntityEventsToDbListener', method: 'handleEvent', status: 'found' }]),
    );
  });
});

const RECORD_ACCESS_PUBLISHER =
  'example/twenty/generations/record_access/engine/subscriptions/object-record-event/object-record-event-publisher.js';

/** A copy of the compiled example's record_access generation, as loaded by the app, under `work/name`. */
function recordAccessTree(name: string): string {
  const tree = join(work, name);
  copyLoadedTree(
    [join(dist, 'example/app/core-engine.module.js'), join(dist, 'example/twenty/generations/record_access/index.js')],
    tree,
  );
  return tree;
}

/** Renames a method everywhere in one file of the tree, as a Twenty change would. */
function rename(tree: string, file: string, from: RegExp, to: string): void {
  const path = join(tree, file);
  writeFileSync(path, readFileSync(path, 'utf8').replace(from, to));
}

describe('check where the build differs', () => {
  it('a renamed method: exit 1, the method named missing, the rest found', () => {
    const tree = recordAccessTree('renamed');
    rename(tree, RECORD_ACCESS_PUBLISHER, /resolveStreamObjectsPermissions/g, 'resolveStreamObjectPermissionsForRoles');
    const result = check(tree);
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/^generation record_access: /);
    expect(result.stdout).toContain('MISSING ObjectRecordEventPublisher.resolveStreamObjectsPermissions');
    expect(result.stdout).toContain('found   ObjectRecordEventPublisher.processObjectRecordStreamEvents');
  });

  it('a form of the publisher no generation knows: exit 1, generation unknown', () => {
    const tree = recordAccessTree('unknown');
    rename(tree, RECORD_ACCESS_PUBLISHER, /buildSubscriberRowAccessPolicySubject/g, 'subjectOf');
    rename(
      tree,
      'example/twenty/generations/record_access/engine/core-modules/record-share/services/record-access-policy.service.js',
      /buildEventRecordAccessGate/g,
      'gateFor',
    );
    const result = check(tree, '--json');
    expect(result.code).toBe(1);
    const report = JSON.parse(result.stdout);
    expect(report.generation).toBeUndefined();
    expect(report.classesFound).toEqual(
      expect.arrayContaining(['ObjectRecordEventPublisher', 'EntityEventsToDbListener']),
    );
  });

  it('not a Twenty tree, a missing path: exit 2 with one line saying why', () => {
    const other = join(work, 'other');
    mkdirSync(other, { recursive: true });
    writeFileSync(join(other, 'app.js'), 'class Server { listen() {} }\nmodule.exports = { Server };\n');
    const notTwenty = check(other);
    expect(notTwenty.code).toBe(2);
    expect(notTwenty.stderr.trim().split('\n')).toHaveLength(1);
    expect(notTwenty.stderr).toMatch(/is not a Twenty server build/);
    const missing = check(join(work, 'does-not-exist'));
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/^check: cannot read .*ENOENT/);
    expect(check().code).toBe(2);
  });
});
