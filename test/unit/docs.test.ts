import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * The docs a user reads point only at what they have: every relative link
 * and every repository path they quote exists (anchors included), and none
 * cites the team's private notes.
 */
const ROOT = path.resolve(__dirname, '../..');
const DOCS = ['README.md', 'RUNBOOK.md', 'CHANGELOG.md', 'example/README.md', 'collector/README.md', 'bench/README.md'];
// The team's private notes, and phrases that point at them ("the bug report", "the contract").
const PRIVATE_REFERENCE =
  /design\.md|twenty-pipeline|observability-stack|instrumentation-anchors|layout\.md|style\.md|\/work\/shared|\.\.\/shared\b|bug report|the contract\b/i;

/** GitHub's heading anchor. */
const slug = (heading: string) =>
  heading
    .trim()
    .toLowerCase()
    .replace(/[^a-z0-9 _-]/g, '')
    .replace(/ /g, '-');
const anchorsOf = (file: string) =>
  new Set([...fs.readFileSync(file, 'utf8').matchAll(/^#+ (.+)$/gm)].map((match) => slug(match[1])));

// Placeholders and patterns, and what a build or an install makes (Twenty's dist/ included).
const NOT_A_PATH = /<|\*|\.\.\.|\{|^(dist|node_modules)\//;

describe.each(DOCS)('%s', (doc) => {
  const file = path.join(ROOT, doc);
  const text = fs.readFileSync(file, 'utf8');
  // Fenced code is quoted shell and output, not links.
  const prose = text.replace(/```[\s\S]*?```/g, '');

  test('every relative link points at an existing file and heading', () => {
    const broken: string[] = [];
    for (const [, target] of prose.matchAll(/\]\(([^)\s]+)\)/g)) {
      if (/^[a-z]+:/.test(target)) continue;
      const [relative, anchor] = target.split('#');
      const linked = relative === '' ? file : path.resolve(path.dirname(file), relative);
      if (!fs.existsSync(linked)) broken.push(`${target}: no such file`);
      else if (anchor && linked.endsWith('.md') && !anchorsOf(linked).has(anchor))
        broken.push(`${target}: no such heading`);
    }
    expect(broken).toEqual([]);
  });

  test('every repository path it quotes exists', () => {
    const missing: string[] = [];
    let checked = 0;
    for (const [, quoted] of prose.matchAll(/`((?:\.\.?\/)?[\w.-]+(?:\/[\w.-]+)+\/?)`/g)) {
      if (NOT_A_PATH.test(quoted)) continue;
      // A path into the repository starts with one of its directories (from the root or from the doc's own directory).
      const bases = [path.dirname(file), ROOT].filter((base) =>
        fs.existsSync(path.join(base, quoted.replace(/^\.\.?\//, '').split('/')[0])),
      );
      if (bases.length === 0 && !quoted.startsWith('.')) continue;
      checked++;
      if (![path.dirname(file), ROOT].some((base) => fs.existsSync(path.resolve(base, quoted)))) missing.push(quoted);
    }
    expect(missing).toEqual([]);
    if (doc !== 'bench/README.md' && doc !== 'CHANGELOG.md') expect(checked).toBeGreaterThan(0);
  });

  test('cites no file or report a user does not have', () => {
    expect(text).not.toMatch(PRIVATE_REFERENCE);
  });
});

describe('the code, configs and generated files', () => {
  // What ships in the package or a user reads in the repository: comments and strings included.
  const DIRS = ['src', 'dashboards', 'collector', 'example', 'demo', 'stack', 'bench', 'test', '.ci'];
  const TEXT = /\.(ts|js|mjs|cjs|json|ya?ml|md|sh|go)$/;
  const filesUnder = (dir: string): string[] =>
    fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) return entry.name === 'node_modules' || entry.name === 'dist' ? [] : filesUnder(full);
      return TEXT.test(entry.name) ? [full] : [];
    });

  test('cite no file or report a user does not have', () => {
    const files = [...DIRS.flatMap((dir) => filesUnder(path.join(ROOT, dir))), path.join(ROOT, 'package.json')].filter(
      (file) => file !== __filename,
    );
    expect(files.length).toBeGreaterThan(100);
    const citing = files
      .filter((file) => PRIVATE_REFERENCE.test(fs.readFileSync(file, 'utf8')))
      .map((file) => path.relative(ROOT, file));
    expect(citing).toEqual([]);
  });
});

describe('README "## Commands"', () => {
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const scripts = (
    JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }
  ).scripts;
  const section = readme.split(/^## Commands$/m)[1]?.split(/^## /m)[0] ?? '';
  const block = /```bash\n([\s\S]*?)```/.exec(section)?.[1] ?? '';
  const commands = block
    .split('\n')
    .map((line) => line.replace(/#.*$/, '').trim())
    .filter((line) => line !== '');

  test('lists exactly two commands: the demo (the main job) and the whole test suite', () => {
    expect(commands).toEqual(['npm run demo', 'npm test']);
  });

  test('each command is a script of package.json, and npm test is the suite CI runs', () => {
    for (const command of commands) {
      const script = /^npm (?:run )?([\w:-]+)$/.exec(command)?.[1];
      expect(script && scripts[script]).toBeTruthy();
    }
    expect(scripts.test).toBe('bash test/run-all.sh');
    expect(fs.readFileSync(path.join(ROOT, '.ci/run'), 'utf8')).toMatch(/^exec npm test\b/m);
    expect(scripts.demo).toMatch(/node dist\/demo\/demo\.js$/);
  });
});
