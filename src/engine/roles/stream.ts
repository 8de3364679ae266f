import { ATTR, DropReason } from '../../semconv';
import { batchAttributes, workflowAttributes } from '../attributes';
import { AuthorOrigin, batchFacts, BatchFacts, currentFrame, Frame, originOf, StreamScope } from '../context';
import { EventLedger } from '../event-ledger';
import { presentId } from '../ids';
import { PairOutcome } from '../outcomes';
import { frameFor, NO_OPTIONS, StageInvocation, StageRun } from '../stage-run';
import { InvocationFactory } from '../wrap';
import { RoleContext } from './types';

/**
 * The per-stream method: each (event, stream) pair of the batch ends
 * forwarded, dropped with a reason, or failed. The generation's drop rules
 * decide from what the helpers inside returned; the engine counts.
 */
export function stream(ctx: RoleContext): InvocationFactory {
  const { telemetry, model } = ctx;
  const spanName = `${ctx.className}.${ctx.methodName}`;
  const codeAttributes = { [ATTR.CODE_FUNCTION]: spanName };
  return (_self, args) => {
    const rules = ctx.rules(args);
    const call = rules?.readStreamCall(args);
    if (!rules || !call) return undefined;
    const { channelId, batch } = call;
    const parentFrame = currentFrame();
    const fanout = parentFrame?.fanout;
    fanout?.accountedChannels.add(channelId);
    const scope: StreamScope = {
      facts: new Map(),
      ledger: new EventLedger(batch.events, model.eventIdentity),
      publishedItems: 0,
      explicitDrops: [],
    };
    const facts = batchFacts(batch.events, parentFrame, model.authorOrigin);
    if (facts.counts.size === 1) scope.singleOrigin = facts.dominant;
    const run = new StageRun(telemetry, 'stream', spanName, facts.dominant, NO_OPTIONS, parentFrame);
    if (run.recording) {
      const subscriber = presentId(call.subscriberId, telemetry.config.captureIds);
      run.describe(codeAttributes, batchAttributes(telemetry, batch), workflowAttributes(parentFrame?.workflow));
      if (subscriber) run.span.setAttribute(ATTR.SUBSCRIBER_USER_WORKSPACE_ID, subscriber);
      run.span.setAttribute(ATTR.STREAM_CHANNEL_ID, channelId);
    }
    const frame = frameFor(run, parentFrame);
    frame.stream = scope;
    frame.emittedAt = facts.emittedAt;
    const count = batch.events.length;
    return new StageInvocation(run, frame, (stageRun, threw) => {
      if (!threw && !scope.publishFailed && scope.publishedItems === count && scope.explicitDrops.length === 0) {
        // every event of the batch went out to this stream: nothing for the drop rules to explain
        stageRun.addAll('forwarded', facts.counts);
        return;
      }
      const outcomes = rules.classifyStream({
        call,
        facts: scope.facts,
        fanoutFacts: fanout?.facts,
        ledger: scope.ledger,
        publishedItems: scope.publishedItems,
        publishFailed: scope.publishFailed === true,
        threw,
      });
      applyPairOutcomes(stageRun, batch.events, outcomes, parentFrame, facts, scope.explicitDrops, model.authorOrigin);
    });
  };
}

function applyPairOutcomes(
  run: StageRun,
  events: readonly unknown[],
  outcomes: PairOutcome[],
  frame: Frame | undefined,
  facts: BatchFacts,
  explicitDrops: { reason: DropReason; count: number }[],
  author: AuthorOrigin,
): void {
  // drops a fork declared with recordDrop() name what the rules could not
  const pending =
    explicitDrops.length > 0 ? explicitDrops.map((drop) => ({ reason: drop.reason, count: drop.count })) : undefined;
  // one origin for the whole batch (the common case): no per-event lookup
  const single = facts.counts.size === 1 ? facts.dominant : undefined;
  for (let index = 0; index < outcomes.length; index++) {
    const pair = outcomes[index];
    const origin = single ?? originOf(events[index], frame, author);
    if (pending && pair.outcome === 'dropped' && pair.reason === 'unattributed') {
      const declared = pending.find((drop) => drop.count > 0);
      if (declared) {
        declared.count--;
        run.add('dropped', origin, 1, declared.reason);
        continue;
      }
    }
    run.add(pair.outcome, origin, 1, pair.outcome === 'dropped' ? pair.reason : undefined);
  }
}
