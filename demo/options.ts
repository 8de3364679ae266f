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

const VALUE_OPTIONS = ['scenario', 'generation', 'events', 'html'] as const;
type ValueOption = (typeof VALUE_OPTIONS)[number];

const isValueOption = (name: string): name is ValueOption => (VALUE_OPTIONS as readonly string[]).includes(name);

/** `--name value` and `--name=value`; no positional arguments. */
export const parseDemoArgs = (argv: string[]): DemoOptions => {
  const values: Partial<Record<ValueOption, string>> = {};
  let json = false;
  let help = false;
  let list = false;

  for (let index = 0; index < argv.length; index++) {
    const arg = argv[index];

    if (!arg.startsWith('--')) {
      throw new UsageError(`unexpected argument "${arg}"; options start with -- (see --help)`);
    }
    const equals = arg.indexOf('=');
    const name = arg.slice(2, equals === -1 ? undefined : equals);
    const inlineValue = equals === -1 ? undefined : arg.slice(equals + 1);

    if (name === 'json' || name === 'help' || name === 'list') {
      if (inlineValue !== undefined) {
        throw new UsageError(`--${name} takes no value (see --help)`);
      }
      if (name === 'json') json = true;
      else if (name === 'help') help = true;
      else list = true;
      continue;
    }
    if (!isValueOption(name)) {
      throw new UsageError(`unknown option "${arg}"; use --scenario, --generation, --events, --json, --html, --list or --help`);
    }
    const value = inlineValue ?? argv[++index];

    if (value === undefined || (inlineValue === undefined && value.startsWith('--'))) {
      throw new UsageError(`--${name} needs a value (see --help)`);
    }
    values[name] = value;
  }

  if (help) return { kind: 'help' };
  if (list) return { kind: 'list', json };

  const scenario = values.scenario ?? DEFAULT_SCENARIO;

  if (!findScenario(scenario)) {
    throw new UsageError(
      `unknown scenario "${scenario}"; use one of: ${DEMO_SCENARIOS.map((s) => s.name).join(', ')}`,
    );
  }

  const generation = values.generation ?? DEFAULT_GENERATION;

  if (!(TWENTY_GENERATIONS as readonly string[]).includes(generation)) {
    throw new UsageError(`unknown generation "${generation}"; use one of: ${TWENTY_GENERATIONS.join(', ')}`);
  }

  let events = DEFAULT_EVENTS;

  if (values.events !== undefined) {
    events = /^\d+$/.test(values.events) ? Number(values.events) : NaN;
    if (!Number.isInteger(events) || events < 1 || events > MAX_EVENTS) {
      throw new UsageError(`--events must be a whole number from 1 to ${MAX_EVENTS}, got "${values.events}"`);
    }
  }

  return { kind: 'run', scenario, generation: generation as TwentyGeneration, events, json, ...(values.html !== undefined && { html: values.html }) };
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
