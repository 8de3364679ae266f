import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * The docs a user reads point only at what they have: every relative link
 * and every repository path they quote exists (anchors included), and none
 * cites the team's private notes.
 */
const ROOT = path.resolve(__dirname, '../..');
const DOCS = ['README.md', 'RUNBOOK.md', 'example/README.md', 'collector/README.md', 'bench/README.md'];

/** GitHub's heading anchor. */
const slug = (heading: string) =>
  heading
    .trim()
    .toLowerCase()
    .replace(/[^a-z0-9 _-]/g, '')
    .replace(/ /g, '-');
const anchorsOf = (file: string) => new Set([...fs.readFileSync(file, 'utf8').matchAll(/^#+ (.+)$/gm)].map((match) => slug(match[1])));

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
      else if (anchor && linked.endsWith('.md') && !anchorsOf(linked).has(anchor)) broken.push(`${target}: no such heading`);
    }
    expect(broken).toEqual([]);
  });

  test('every repository path it quotes exists', () => {
    const missing: string[] = [];
    let checked = 0;
    for (const [, quoted] of prose.matchAll(/`((?:\.\.?\/)?[\w.-]+(?:\/[\w.-]+)+\/?)`/g)) {
      if (NOT_A_PATH.test(quoted)) continue;
      // A path into the repository starts with one of its directories (from the root or from the doc's own directory).
      const bases = [path.dirname(file), ROOT].filter((base) => fs.existsSync(path.join(base, quoted.replace(/^\.\.?\//, '').split('/')[0])));
      if (bases.length === 0 && !quoted.startsWith('.')) continue;
      checked++;
      if (![path.dirname(file), ROOT].some((base) => fs.existsSync(path.resolve(base, quoted)))) missing.push(quoted);
    }
    expect(missing).toEqual([]);
    if (doc !== 'bench/README.md') expect(checked).toBeGreaterThan(0);
  });

  test('cites no file or report a user does not have', () => {
    expect(text).not.toMatch(/design\.md|twenty-pipeline\.md|observability-stack\.md|bug report|\/work\/shared/i);
  });
});
