#!/usr/bin/env node
import { GENERATIONS } from '../semconv';
import { CHECK_USAGE, runCheck } from './check';
import { runDoctor } from './doctor';

const USAGE = `usage: twenty-sse-otel doctor --prometheus URL [--jaeger URL] [--since 1h] [--json] [--html FILE] [--generation ${GENERATIONS.join('|')}]
       ${CHECK_USAGE.replace('usage: ', '')}

Reads twenty_sse_* metrics from Prometheus (and traces from Jaeger) and prints,
per pipeline stage, workflow vs UI events entered, forwarded and dropped by
reason, the first stage where workflow diverges, and a diagnosis. --html FILE
also writes a self-contained page: the funnel chart, the drops by reason and
the waterfall of one lost workflow trace (with --jaeger).
Exit codes: 0 healthy, 1 drops found, 2 cannot reach or parse an endpoint.

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
