import { TWENTY_GENERATIONS, type TwentyGeneration } from './app/example-config';
import { DROP_CONDITION_SCENARIOS, outcomeOf } from './drop-conditions';
import { startTwentyLikeApp } from './harness';

// Quick check, in memory, one process: every drop condition per generation,
// comparing the ground truth with what that Twenty version does.
//   node dist/example/smoke.js [generation...]
const main = async () => {
  const requested = process.argv.slice(2) as TwentyGeneration[];
  const generations = requested.length > 0 ? requested : [...TWENTY_GENERATIONS];
  let failures = 0;

  for (const generation of generations) {
    const app = await startTwentyLikeApp({ generation, mode: 'single' });

    // eslint-disable-next-line no-console
    console.log(`\n== ${generation}`);
    for (const scenario of DROP_CONDITION_SCENARIOS) {
      const expected = scenario.expected[generation];

      if (!expected) {
        continue;
      }
      const { workspaceId } = await scenario.run(app);

      await app.settle({ quietMs: 50 });
      const records = app.groundTruth.records.filter((record) => record.workspaceId === workspaceId);
      const outcomes = outcomeOf(records);
      const ok = outcomes.length > 0 && outcomes.every((outcome) => outcome === expected);
      const detail = records
        .filter((record) => record.kind !== 'emitted')
        .map((record) =>
          record.kind === 'dropped'
            ? `${record.dCode}/${record.reason}@${record.stage} ${record.eventName} x${record.count} origin=${record.origin}`
            : `${record.kind} ${record.eventName} x${record.count} origin=${record.origin}`,
        )
        .join('; ');

      failures += ok ? 0 : 1;
      // eslint-disable-next-line no-console
      console.log(`${ok ? 'ok  ' : 'FAIL'} ${scenario.name.padEnd(36)} expected ${expected.padEnd(9)} got ${detail}`);
    }
    await app.close();
  }

  if (failures > 0) {
    // eslint-disable-next-line no-console
    console.error(`\n${failures} scenario(s) did not match`);
    process.exit(1);
  }
  // eslint-disable-next-line no-console
  console.log('\nall scenarios matched');
};

main().catch((error) => {
  // eslint-disable-next-line no-console
  console.error(error);
  process.exit(1);
});
