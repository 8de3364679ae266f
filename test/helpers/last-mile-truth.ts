import { type GroundTruthRecord } from '../../example/harness';

/**
 * What the pubsub stage should report, from the example's ground truth: each
 * `forwarded` record (stream stage) is one publish of its events to one
 * stream; the publish reached a live subscriber when an API server recorded
 * the message as `received` on its Redis subscriber connection. Receipts are
 * matched by stream channel and record ids; with several servers subscribed to
 * one channel each one receives the same publishes, so per key the count is
 * the largest number any one process received. A key published several
 * times is matched oldest first, so scenarios give every publish its own
 * records (or publish a key again only once the earlier one is settled).
 *
 * Returns `pubsub|origin|outcome|reason` -> events.
 */
export function expectedPubsubKeys(records: GroundTruthRecord[]): Map<string, number> {
  const keyOf = (channel: string, recordIds: string[]) => `${channel}|${recordIds.join(',')}`;
  const receivedPerProcess = new Map<string, Map<number, number>>();
  for (const record of records) {
    if (record.kind !== 'received') continue;
    const key = keyOf(record.streamChannelId, record.recordIds);
    const perProcess = receivedPerProcess.get(key) ?? new Map<number, number>();
    perProcess.set(record.pid, (perProcess.get(record.pid) ?? 0) + 1);
    receivedPerProcess.set(key, perProcess);
  }
  const received = new Map<string, number>();
  for (const [key, perProcess] of receivedPerProcess) received.set(key, Math.max(...perProcess.values()));

  const keys = new Map<string, number>();
  const add = (key: string, count: number) => keys.set(key, (keys.get(key) ?? 0) + count);
  for (const record of records) {
    if (record.kind !== 'forwarded') continue;
    const key = keyOf(record.streamChannelId, record.recordIds);
    const left = received.get(key) ?? 0;
    if (left > 0) {
      received.set(key, left - 1);
      add(`pubsub|${record.origin}|forwarded|`, record.count);
    } else {
      add(`pubsub|${record.origin}|dropped|no_live_connection`, record.count);
    }
  }
  return keys;
}
