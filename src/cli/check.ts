import { resolve } from 'path';
import { CheckError, CheckResult, checkTwentyBuild } from '../twenty/check';

/**
 * `twenty-sse-otel check <path> [--json]`: before deploying, which Twenty
 * generation a build is, which of the instrumentation's targets it has, and
 * which drop rules apply. Exit codes: 0 every target found, 1 something
 * missing or the generation unknown, 2 not a Twenty tree or unreadable.
 */
export const CHECK_USAGE = 'usage: twenty-sse-otel check <path to twenty-server dist/ or src/> [--json]';

export function renderCheck(result: CheckResult): string {
  const lines: string[] = [];
  if (!result.generation) {
    lines.push(
      `generation unknown: ${result.path} declares ${result.classesFound.join(', ')}, but no form of the pipeline this package knows; the instrumentation would count drops there as unattributed. Set TWENTY_SSE_OTEL_GENERATION only if you know which form it is.`,
    );
    return lines.join('\n');
  }
  const found = result.targets.filter((line) => line.status === 'found').length;
  const missing = result.targets.filter((line) => line.status === 'missing');
  lines.push(`generation ${result.generation}: ${result.title}`);
  lines.push(
    `${found} targets found, ${missing.length} missing (${result.filesScanned} source files scanned in ${result.path})`,
  );
  for (const line of result.targets)
    lines.push(`  ${line.status === 'found' ? 'found  ' : 'MISSING'} ${line.className}.${line.method}`);
  if (missing.length > 0) {
    lines.push(
      '',
      'Missing targets are not instrumented: their stage is not counted, and drops they explain may show as unattributed.',
    );
  }
  lines.push('', 'Drop rules of this generation (code, reason, where, condition):');
  for (const rule of result.dropRules) {
    lines.push(`- ${rule.code} ${rule.reason}: ${rule.where.method} in ${rule.where.file}`);
    lines.push(`    ${rule.condition}`);
  }
  return lines.join('\n');
}

export function runCheck(argv: string[]): { exitCode: 0 | 1 | 2; output: string } {
  const json = argv.includes('--json');
  const rest = argv.filter((arg) => arg !== '--json');
  const unknown = rest.find((arg) => arg.startsWith('--'));
  if (unknown) return { exitCode: 2, output: `check: unknown option ${unknown}; ${CHECK_USAGE}` };
  if (rest.length !== 1) return { exitCode: 2, output: `check: give exactly one path; ${CHECK_USAGE}` };
  const path = resolve(rest[0]);
  try {
    const result = checkTwentyBuild(path);
    return { exitCode: result.exitCode, output: json ? JSON.stringify(result, null, 2) : renderCheck(result) };
  } catch (error) {
    const message = error instanceof CheckError ? error.message : `unexpected failure: ${(error as Error).message}`;
    return { exitCode: 2, output: json ? JSON.stringify({ path, error: message }) : `check: ${message}` };
  }
}
