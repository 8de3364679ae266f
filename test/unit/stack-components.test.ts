import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { Component } from '../../stack/components';

const until = async (what: string, check: () => boolean, timeoutMs = 5000): Promise<void> => {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
};

describe('npm run stack: a child process and its log', () => {
  let logDir: string;
  beforeEach(() => (logDir = fs.mkdtempSync(path.join(os.tmpdir(), 'twenty-sse-components-test-'))));
  afterEach(() => fs.rmSync(logDir, { recursive: true, force: true }));

  // A process's output can arrive after its 'exit' event (pipes drain later; a process it started may write on).
  // Writing that to an already ended log stream raised an unhandled 'error' and took `npm run stack` down (exit 1).
  it('keeps output that arrives after the process exited, in the tail and in the log file', async () => {
    const component = new Component('late-writer', 'sh', ['-c', '(sleep 0.3; echo late line) & echo first line'], {
      env: process.env,
      logDir,
    });
    await until('the shell to exit', () => !component.running);
    expect(component.exitCode).toBe(0);
    const logFile = path.join(logDir, 'late-writer.log');
    await until('the late line in the log file', () => fs.readFileSync(logFile, 'utf8').includes('late line'));
    expect(fs.readFileSync(logFile, 'utf8')).toBe('first line\nlate line\n');
    expect(component.logs()).toBe('first line\nlate line\n');
  });

  it('a log file that cannot be written does not take the caller down; the tail still has the output', async () => {
    const component = new Component('no-log-dir', 'sh', ['-c', 'echo still here'], {
      env: process.env,
      logDir: path.join(logDir, 'missing'),
    });
    await until('the shell to exit', () => !component.running);
    await until('the output', () => component.logs().includes('still here'));
    expect(component.logs()).toBe('still here\n');
  });
});
