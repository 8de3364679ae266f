import {
  batchFacts,
  childFrame,
  earliestEmitTime,
  originOf,
  rememberEmit,
  rememberEmitTime,
} from '../../src/engine/context';
import type { Origin } from '../../src/semconv';

// What the emit stage remembers, and where later stages find it.
const author = (event: unknown): Origin => ((event as { userId?: string }).userId ? 'ui' : 'system');

describe('emit marks', () => {
  it('keeps no per-event mark when the event itself tells its origin; the array keeps the emit time', () => {
    const events = [{ userId: 'u1' }, { userId: 'u2' }];
    for (const event of events) expect(rememberEmit(event, 'ui', author(event), 1000)).toBeUndefined();
    rememberEmitTime(events, 1000);
    expect(earliestEmitTime(events)).toBe(1000);
    // a new array of the same events: no per-event entry, so no time from the events themselves
    expect(earliestEmitTime([...events])).toBeUndefined();
    expect(originOf(events[0], undefined, author)).toBe('ui');
  });

  it('marks an event whose origin only the emit context knew, and finds it in any array', () => {
    const event = { userId: 'u1' };
    const mark = rememberEmit(event, 'workflow', author(event), 2000);
    expect(mark).toEqual({ origin: 'workflow', emittedAt: 2000 });
    const other = { userId: 'u2' };
    // events of one emit with the same origin share the mark object
    expect(rememberEmit(other, 'workflow', author(other), 2000, mark)).toBe(mark);
    expect(originOf(event, undefined, author)).toBe('workflow');
    expect(earliestEmitTime([{ userId: 'u3' }, other])).toBe(2000);
  });

  it('falls back to the emit time of the enclosing frame for an array the emit stage never saw', () => {
    const frame = childFrame(undefined);
    frame.emittedAt = 3000;
    const facts = batchFacts([{ userId: 'u9' }], frame, author);
    expect(facts.emittedAt).toBe(3000);
    expect([...facts.counts]).toEqual([['ui', 1]]);
    const unseen = batchFacts([{ userId: 'u8' }], undefined, author);
    expect(unseen.emittedAt).toBeUndefined();
  });
});
