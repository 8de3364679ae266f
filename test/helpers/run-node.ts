import { spawn } from 'child_process';
import path from 'path';

export const ROOT = path.resolve(__dirname, '../..');
export const NODE = process.env.TEST_NODE_BIN ?? process.execPath;
export const REGISTER = path.join(ROOT, 'dist/src/register.js');

/**
 * Runs a node child to completion without blocking this process (receivers a
 * test starts here must keep answering while the child exports to them).
 * NODE_OPTIONS and REDIS_URL of the test run are not inherited.
 */
export async function runNode(
  args: string[],
  env: NodeJS.ProcessEnv,
  timeoutMs = 90_000,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const childEnv: NodeJS.ProcessEnv = { ...process.env, EXAMPLE_LOG_LEVELS: 'none', ...env };
  delete childEnv.REDIS_URL;
  delete childEnv.NODE_OPTIONS;
  for (const [key, value] of Object.entries(env)) if (value === undefined) delete childEnv[key];
  const child = spawn(NODE, args, { cwd: ROOT, env: childEnv });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => (stdout += chunk));
  child.stderr.on('data', (chunk) => (stderr += chunk));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  // 'close', not 'exit': the output is complete only once the pipes closed.
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  clearTimeout(timer);
  return { code, stdout, stderr };
}

/** The last stdout line of a child that must have succeeded, parsed as JSON. */
export function lastJsonLine<T>(run: { code: number | null; stdout: string; stderr: string }, what: string): T {
  if (run.code !== 0) throw new Error(`${what} failed (${run.code}): ${run.stderr}`);
  return JSON.parse(run.stdout.trim().split('\n').pop()!) as T;
}
