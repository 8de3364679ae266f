import { parseArgs } from 'node:util';

import { TWENTY_GENERATIONS, type TwentyGeneration } from '../example/app/example-config';

import { DEFAULT_SCENARIO, DEMO_SCENARIOS, findScenario } from './scenarios';

export type DemoOptions =
  | { kind: 'run'; scenario: string; generation: TwentyGeneration; events: number; json: boolean; html?: string }
  | { kind: 'help' }
  | { kind: 'list'; json: boolean };

export const DEFAULT_GENERATION: TwentyGeneration = 'v5';
export const DEFAULT_EVENTS = 10;
export const MAX_EVENTS = 200;

/** A bad command line: the message is the one line the demo prints before exiting with 2. */
export class UsageError extends Error {}

const FLAGS = {
  scenario: { type: 'string' },
  generation: { type: 'string' },
  events: { type: 'string' },
  html: { type: 'string' },
  json: { type: 'boolean' },
  list: { type: 'boolean' },
  help: { type: 'boolean' },
} as const;

const isFlag = (name: string): name is keyof typeof FLAGS => Object.hasOwn(FLAGS, name);

/**
 * `--name value` and `--name=value`; no positional arguments. parseArgs runs
 * lenient and hands back its tokens, so each problem gets the demo's own
 * one-line message rather than parseArgs's wording.
 */
export const parseDemoArgs = (argv: string[]): DemoOptions => {
  const { values, tokens } = parseArgs({
    args: argv,
    options: FLAGS,
    strict: false,
    allowPositionals: true,
    tokens: true,
  });

  for (const token of tokens) {
    const arg = argv[token.index];

    if (token.kind === 'positional' || (token.kind === 'option' && !token.rawName.startsWith('--'))) {
      throw new UsageError(`unexpected argument "${arg}"; options start with -- (see --help)`);
    }
    if (token.kind === 'option-terminator' || !isFlag(token.name)) {
      throw new UsageError(
        `unknown option "${arg}"; use --scenario, --generation, --events, --json, --html, --list or --help`,
      );
    }
    if (FLAGS[token.name].type === 'boolean') {
      if (token.value !== undefined) throw new UsageError(`${token.rawName} takes no value (see --help)`);
    } else if (token.value === undefined || (!token.inlineValue && token.value.startsWith('--'))) {
      throw new UsageError(`${token.rawName} needs a value (see --help)`);
    }
  }
  // Every value flag now holds a string and the others booleans; the last of a repeated flag wins.
  const text = (flag: 'scenario' | 'generation' | 'events' | 'html') => values[flag] as string | undefined;
  const json = values.json === true;

  if (values.help === true) return { kind: 'help' };
  if (values.list === true) return { kind: 'list', json };

  const scenario = text('scenario') ?? DEFAULT_SCENARIO;

  if (!findScenario(scenario)) {
    throw new UsageError(`unknown scenario "${scenario}"; use one of: ${DEMO_SCENARIOS.map((s) => s.name).join(', ')}`);
  }

  const generation = text('generation') ?? DEFAULT_GENERATION;

  if (!(TWENTY_GENERATIONS as readonly string[]).includes(generation)) {
    throw new UsageError(`unknown generation "${generation}"; use one of: ${TWENTY_GENERATIONS.join(', ')}`);
  }

  let events = DEFAULT_EVENTS;

  const eventsValue = text('events');

  if (eventsValue !== undefined) {
    events = /^\d+$/.test(eventsValue) ? Number(eventsValue) : NaN;
    if (!Number.isInteger(events) || events < 1 || events > MAX_EVENTS) {
      throw new UsageError(`--events must be a whole number from 1 to ${MAX_EVENTS}, got "${eventsValue}"`);
    }
  }

  const html = text('html');

  return {
    kind: 'run',
    scenario,
    generation: generation as TwentyGeneration,
    events,
    json,
    ...(html !== undefined && { html }),
  };
};

export const HELP_TEXT = `Twenty SSE pipeline demo: runs a Twenty-like app in this process with the
instrumentation on (no Redis, no collector), makes UI and workflow record
updates, and shows per pipeline stage where workflow events are lost and why.

Usage: npm run demo -- [--scenario NAME] [--generation GEN] [--events N] [--json] [--html FILE]
       npm run demo -- --list | --help

  --scenario NAME   what to reproduce (default ${DEFAULT_SCENARIO}); --list shows them all
  --generation GEN  which Twenty code to run: ${TWENTY_GENERATIONS.join(', ')} (default ${DEFAULT_GENERATION})
                    v1 = oldest event streams, v5 = loses workflow updates leaving a filter,
                    v8 = processObjectRecordStreamEvents, publisher = ObjectRecordEventPublisher
  --events N        UI updates and workflow updates to make, N of each (default ${DEFAULT_EVENTS}, at most ${MAX_EVENTS})
  --json            print one JSON document instead of the text report
  --html FILE       also write FILE: a self-contained page with the funnel chart, the drops by
                    reason and the waterfall of one lost workflow trace (open it in a browser)
  --list            list the scenarios (with --json: as JSON)
  --help            this text

Set REDIS_URL to run the app's pub/sub, caches and records on Redis instead of in memory.
Exit status: 0 (whatever the pipeline did), 2 on a bad option.`;
