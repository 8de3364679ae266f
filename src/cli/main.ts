#!/usr/bin/env node
import { DOCTOR_USAGE, runDoctor } from './doctor';

const USAGE = DOCTOR_USAGE;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return command === undefined ? 2 : 0;
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
