import { readdirSync, readFileSync, statSync } from 'fs';
import { join } from 'path';
import { Generation } from '../semconv';
import { detectGenerationFrom } from './detect';
import { DropRule, GenerationModule } from './generation';
import { TARGETS } from './instrumenter';
import { scanClasses } from './source-scan';

/**
 * The static compatibility check of a Twenty build (`twenty-sse-otel check`):
 * the classes and methods declared in its JavaScript (SWC or tsc output) or
 * TypeScript sources, judged by the same generation modules the runtime uses.
 */

export class CheckError extends Error {}

export interface CheckTargetLine {
  className: string;
  /** The method found, or the alternatives looked for. */
  method: string;
  status: 'found' | 'missing';
}

export interface CheckResult {
  path: string;
  filesScanned: number;
  generation?: Generation;
  title?: string;
  targets: CheckTargetLine[];
  dropRules: DropRule[];
  /** The pipeline classes the build declares (what detection looked at). */
  classesFound: string[];
  /** 0: every target found; 1: something missing or the generation unknown. */
  exitCode: 0 | 1;
}

const SOURCE_FILE = /\.(c?js|mjs|ts)$/;
const SKIPPED_FILE = /\.(d\.ts|spec\.ts|test\.ts|spec\.js|test\.js)$/;
const SKIPPED_DIR = new Set(['node_modules', '.git', '.nx', 'coverage']);
const MAX_FILE_BYTES = 4 * 1024 * 1024;
const MAX_FILES = 200_000;

function sourceFiles(root: string): string[] {
  let stat;
  try {
    stat = statSync(root);
  } catch (error) {
    throw new CheckError(`cannot read ${root}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  if (stat.isFile()) return [root];
  if (!stat.isDirectory()) throw new CheckError(`${root} is neither a file nor a directory`);
  const files: string[] = [];
  const pending = [root];
  while (pending.length > 0 && files.length < MAX_FILES) {
    const dir = pending.pop()!;
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      continue;
    }
    for (const entry of entries) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) {
        if (!SKIPPED_DIR.has(entry.name)) pending.push(path);
      } else if (entry.isFile() && SOURCE_FILE.test(entry.name) && !SKIPPED_FILE.test(entry.name)) files.push(path);
    }
  }
  return files;
}

/** Class name -> its declared methods, over every source file under `root`. */
export function scanTree(root: string): { classes: Map<string, Set<string>>; filesScanned: number } {
  const classes = new Map<string, Set<string>>();
  let filesScanned = 0;
  for (const file of sourceFiles(root)) {
    let text: string;
    try {
      if (statSync(file).size > MAX_FILE_BYTES) continue;
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    filesScanned++;
    if (!text.includes('class')) continue;
    for (const [name, methods] of scanClasses(text)) {
      const known = classes.get(name);
      if (known) for (const method of methods) known.add(method);
      else classes.set(name, methods);
    }
  }
  return { classes, filesScanned };
}

function targetLines(module: GenerationModule, classes: Map<string, Set<string>>): CheckTargetLine[] {
  const lines: CheckTargetLine[] = [];
  for (const target of module.targets) {
    if (target.pattern) {
      const found = [...classes.keys()].some((name) => target.pattern!.test(name));
      for (const method of target.methods)
        lines.push({
          className: `*${target.pattern.source.replace(/\$$/, '')}`,
          method: method.names.join('|'),
          status: found ? 'found' : 'missing',
        });
      continue;
    }
    const methods = classes.get(target.className);
    for (const method of target.methods) {
      if (method.onlyWith && !methods?.has(method.onlyWith)) continue;
      const used = method.names.find((name) => methods?.has(name));
      lines.push({
        className: target.className,
        method: used ?? method.names.join('|'),
        status: used ? 'found' : 'missing',
      });
    }
  }
  return lines;
}

/** Checks the Twenty build at `root`. Throws CheckError when it is unreadable or holds no Twenty pipeline class. */
export function checkTwentyBuild(root: string): CheckResult {
  const { classes, filesScanned } = scanTree(root);
  if (filesScanned === 0) throw new CheckError(`no JavaScript or TypeScript file under ${root}`);
  const known = TARGETS.filter((target) => !target.optional && !target.pattern && classes.has(target.className));
  if (known.length === 0) {
    throw new CheckError(
      `${root} is not a Twenty server build: none of ${TARGETS.filter((t) => !t.optional && !t.pattern)
        .map((t) => t.className)
        .join(', ')} is declared in its ${filesScanned} source files`,
    );
  }
  const module = detectGenerationFrom((className) => classes.get(className));
  const classesFound = known.map((target) => target.className);
  if (!module) return { path: root, filesScanned, classesFound, targets: [], dropRules: [], exitCode: 1 };
  const targets = targetLines(module, classes);
  return {
    path: root,
    filesScanned,
    generation: module.id,
    title: module.title,
    targets,
    dropRules: module.dropRules,
    classesFound,
    exitCode: targets.every((line) => line.status === 'found') ? 0 : 1,
  };
}
