/**
 * bench/results*.md hold two independent reports: the in-process benchmark
 * (bench.ts, the whole file) and the end-to-end section (e2e.ts, between two
 * markers). Each rewrites only its own part, so regenerating one keeps the
 * other's figures.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';

const E2E_BEGIN = '<!-- e2e:begin (written by bench/e2e.ts) -->';
const E2E_END = '<!-- e2e:end -->';

function e2eSection(text: string): string | undefined {
  const begin = text.indexOf(E2E_BEGIN);
  const end = text.indexOf(E2E_END, begin);
  return begin >= 0 && end > begin ? text.slice(begin, end + E2E_END.length) : undefined;
}

/** Writes the in-process report, carrying over the end-to-end section the file already had. */
export function writeInProcessResults(file: string, markdown: string): void {
  const kept = existsSync(file) ? e2eSection(readFileSync(file, 'utf8')) : undefined;
  writeFileSync(file, kept ? `${markdown.trimEnd()}\n\n${kept}\n` : markdown);
}

/** Replaces (or appends) the end-to-end section, leaving the rest of the file as it was. */
export function writeE2eResults(file: string, section: string): void {
  const block = `${E2E_BEGIN}\n${section.trim()}\n${E2E_END}`;
  const text = existsSync(file) ? readFileSync(file, 'utf8') : '';
  const old = e2eSection(text);
  const next = old ? text.replace(old, block) : `${text.trimEnd()}${text ? '\n\n' : ''}${block}\n`;
  writeFileSync(file, next);
}
