import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import type { TwentyGeneration } from '../../example/app/example-config';
import type { GroundTruthRecord, TwentyLikeApp } from '../../example/harness';
import { ATTR } from '../../src/semconv';
import type { TallyRow } from '../../src/otel/telemetry';
import { instrumentNestInProcess, useTwentyLikeApp } from '../helpers/in-process';

/** stage|origin|outcome|reason -> count, for the stages the example app keeps ground truth of. */
export function groundTruthKeys(records: GroundTruthRecord[]): Map<string, number> {
  const keys = new Map<string, number>();
  const add = (key: string, count: number) => keys.set(key, (keys.get(key) ?? 0) + count);
  for (const record of records) {
    if (record.kind === 'dropped') add(`${record.stage}|${record.origin}|dropped|${record.reason}`, record.count);
    else if (record.kind === 'forwarded') add(`stream|${record.origin}|forwarded|`, record.count);
    else if (record.kind === 'failed') add(`stream|${record.origin}|failed|`, record.count);
  }
  return keys;
}

export function tallyKeys(rows: TallyRow[]): Map<string, number> {
  const keys = new Map<string, number>();
  for (const row of rows) {
    const relevant =
      row.stage === 'stream' ||
      (row.outcome === 'dropped' && (row.stage === 'fanout' || row.stage === 'workflow_step'));
    if (!relevant) continue;
    const key = `${row.stage}|${row.origin}|${row.outcome}|${row.reason ?? ''}`;
    keys.set(key, (keys.get(key) ?? 0) + row.count);
  }
  return keys;
}

export function sorted(map: Map<string, number>): [string, number][] {
  return [...map.entries()].sort(([a], [b]) => a.localeCompare(b));
}

/**
 * After `app.settle()`: the tally since the last resetTally() equals the ground truth the app
 * wrote since `before` (same stage/origin/outcome/reason keys and counts), with nothing unattributed.
 */
export function expectTallyEqualsGroundTruth(
  telemetry: { tallyRows(): TallyRow[] },
  app: TwentyLikeApp,
  before: number,
): { rows: TallyRow[]; truth: GroundTruthRecord[] } {
  const truth = app.readGroundTruth().slice(before);
  const rows = telemetry.tallyRows();
  expect(sorted(tallyKeys(rows))).toEqual(sorted(groundTruthKeys(truth)));
  expect(unattributed(rows)).toBe(0);
  return { rows, truth };
}

/** Every stage's conservation: in = forwarded + dropped + failed is true by construction of the tally; here: no unattributed. */
export function unattributed(rows: TallyRow[]): number {
  return rows.filter((row) => row.reason === 'unattributed').reduce((sum, row) => sum + row.count, 0);
}

export function dropSpans(spans: ReadableSpan[], stage: string, reason: string): ReadableSpan[] {
  return spans.filter(
    (span) =>
      span.attributes[ATTR.STAGE] === stage &&
      (span.attributes[ATTR.DROP_REASON] === reason ||
        span.events.some(
          (event) => event.name === 'twenty.sse.drop' && event.attributes?.[ATTR.DROP_REASON] === reason,
        )),
  );
}

export function describeDropConditions(generation: TwentyGeneration): void {
  const instrumented = instrumentNestInProcess();
  const currentApp = useTwentyLikeApp(generation);
  const { DROP_CONDITION_SCENARIOS } =
    require('../../example/drop-conditions') as typeof import('../../example/drop-conditions');

  const scenarios = DROP_CONDITION_SCENARIOS.filter((scenario) => scenario.expected[generation] !== undefined);

  it.each(scenarios.map((scenario) => [scenario.name, scenario] as const))(
    '%s: counters and spans equal the ground truth',
    async (_name, scenario) => {
      instrumented.telemetry.resetTally();
      instrumented.spans.reset();
      const before = currentApp().readGroundTruth().length;
      await scenario.run(currentApp());
      await currentApp().settle();
      const { truth } = expectTallyEqualsGroundTruth(instrumented.telemetry, currentApp(), before);

      const spans = instrumented.spans.getFinishedSpans();
      for (const record of truth) {
        if (record.kind !== 'dropped') continue;
        expect(dropSpans(spans, record.stage, record.reason).length).toBeGreaterThan(0);
      }

      // Every stage span names the generation; a fan-out span says how many active streams it found, as many
      // as the distinct streams of its per-stream child spans.
      const stageSpans = spans.filter((span) => span.attributes[ATTR.STAGE] !== undefined);
      expect(stageSpans.length).toBeGreaterThan(0);
      expect([...new Set(stageSpans.map((span) => span.attributes[ATTR.GENERATION]))]).toEqual([generation]);
      for (const fanout of spans.filter((span) => span.attributes[ATTR.STAGE] === 'fanout')) {
        if (fanout.attributes[ATTR.STREAM_COUNT] === undefined) continue;
        const children = spans.filter(
          (span) =>
            span.attributes[ATTR.STAGE] === 'stream' && span.parentSpanContext?.spanId === fanout.spanContext().spanId,
        );
        expect(fanout.attributes[ATTR.STREAM_COUNT]).toBe(
          new Set(children.map((span) => span.attributes[ATTR.STREAM_CHANNEL_ID])).size,
        );
      }
      const counted = spans.filter(
        (span) => span.attributes[ATTR.STAGE] === 'fanout' && span.attributes[ATTR.STREAM_COUNT] !== undefined,
      );
      if (spans.some((span) => span.attributes[ATTR.STAGE] === 'fanout')) expect(counted.length).toBeGreaterThan(0);
    },
  );

  it('the OTel counter equals the exact tally and no instrumentation fault happened', async () => {
    instrumented.telemetry.resetTally();
    const baseline = await instrumented.stageEvents({ stage: 'stream' });
    await DROP_CONDITION_SCENARIOS[DROP_CONDITION_SCENARIOS.length - 1].run(currentApp()).catch(() => undefined);
    await scenarios[0].run(currentApp());
    await currentApp().settle();
    const tallied = instrumented.telemetry
      .tallyRows()
      .filter((row) => row.stage === 'stream')
      .reduce((sum, row) => sum + row.count, 0);
    expect((await instrumented.stageEvents({ stage: 'stream' })) - baseline).toBe(tallied);
    expect(instrumented.telemetry.faultCount()).toBe(0);
  });
}
