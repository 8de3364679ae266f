#!/usr/bin/env node
import { CHECK_USAGE, runCheck } from './check';
import { DOCTOR_USAGE, runDoctor } from './doctor';

const USAGE = `${DOCTOR_USAGE}

${CHECK_USAGE}

check reads a Twenty server build (dist/ JavaScript or src/ TypeScript) and
tells which generation it is, which targets will be found or missing, and which
drop rules apply. Exit codes: 0 all found, 1 something missing or the
generation unknown, 2 not a Twenty tree or unreadable.`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return command === undefined ? 2 : 0;
  }
  if (command === 'check') {
    const result = runCheck(rest);
    (result.exitCode === 2 ? process.stderr : process.stdout).write(`${result.output}\n`);
    return result.exitCode;
  }
  if (command !== 'doctor') {
    process.stderr.write(`twenty-sse-otel: unknown command ${command}\n${USAGE}\n`);
    return 2;
  }
  const result = await runDoctor(rest, (line) => process.stderr.write(`${line}\n`));
  if (result.warning) process.stderr.write(`${result.warning}\n`);
  (result.exitCode === 2 ? process.stderr : process.stdout).write(`${result.output}\n`);
  return result.exitCode;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error) => {
    process.stderr.write(`twenty-sse-otel: ${(error as Error).message}\n`);
    process.exitCode = 2;
  },
);
