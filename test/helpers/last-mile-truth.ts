import { pubsubOutcomes, type GroundTruthRecord } from '../../example/app/ground-truth';

/** What the pubsub stage should report, from the example's ground truth (see pubsubOutcomes): `pubsub|origin|outcome|reason` -> events. */
export function expectedPubsubKeys(records: GroundTruthRecord[]): Map<string, number> {
  const keys = new Map<string, number>();
  for (const { origin, outcome, reason, count } of pubsubOutcomes(records)) {
    const key = `pubsub|${origin}|${outcome}|${reason ?? ''}`;
    keys.set(key, (keys.get(key) ?? 0) + count);
  }
  return keys;
}
