import { DropReason } from '../semconv';

/** How one unit (an event, or an (event, stream) pair) ended a stage. */
export type PairOutcome = { outcome: 'forwarded' } | { outcome: 'dropped'; reason: DropReason } | { outcome: 'failed' };

// Outcomes are never mutated: one shared object per kind instead of one per pair.
export const FORWARDED: PairOutcome = Object.freeze({ outcome: 'forwarded' });
export const FAILED: PairOutcome = Object.freeze({ outcome: 'failed' });
const DROPPED = new Map<DropReason, PairOutcome>();

export function dropped(reason: DropReason): PairOutcome {
  let outcome = DROPPED.get(reason);
  if (!outcome) {
    outcome = Object.freeze({ outcome: 'dropped', reason });
    DROPPED.set(reason, outcome);
  }
  return outcome;
}

/**
 * Pairs the drop rules let through count as forwarded only if their payload
 * really went out: past the number of published items (or all of them when
 * the publish failed) they take `unexplained`.
 */
export function limitToPublished(
  outcomes: PairOutcome[],
  publishedItems: number,
  publishFailed: boolean,
  unexplained: PairOutcome,
): PairOutcome[] {
  let budget = publishFailed ? 0 : publishedItems;
  for (let index = 0; index < outcomes.length; index++) {
    if (outcomes[index] !== FORWARDED) continue;
    if (budget > 0) budget--;
    else outcomes[index] = unexplained;
  }
  return outcomes;
}
