import { ATTR, Origin } from '../../semconv';
import { batchAttributes, workflowAttributes } from '../attributes';
import { batchFacts, currentFrame, dominantOrigin, FanoutScope } from '../context';
import { BatchView, StreamRules } from '../model';
import { dropped, FAILED, FORWARDED, PairOutcome } from '../outcomes';
import { frameFor, NO_OPTIONS, StageInvocation, StageRun } from '../stage-run';
import { Telemetry } from '../../otel/telemetry';
import { InvocationFactory } from '../wrap';
import { RoleContext } from './types';

/**
 * The fan-out of a batch to the active streams. With `withPublish`, the same
 * method is also the publish stage (a publisher whose publish does the
 * fan-out itself): one publish span around the fan-out span.
 */
export function fanout(withPublish: boolean): (ctx: RoleContext) => InvocationFactory {
  return (ctx) => {
    const { telemetry, model } = ctx;
    const spanName = `${ctx.className}.${ctx.methodName}`;
    const fanoutName = withPublish ? `${spanName} fanout` : spanName;
    const codeAttributes = { [ATTR.CODE_FUNCTION]: spanName };
    return (_self, args) => {
      const batch = model.readBatch(args[0]);
      if (!batch) return undefined;
      const parentFrame = currentFrame();
      const facts = batchFacts(batch.events, parentFrame, model.authorOrigin);
      const { counts, dominant: origin } = facts;
      const described = batchAttributes(telemetry, batch);
      const workflow = workflowAttributes(parentFrame?.workflow);
      let publishRun: StageRun | undefined;
      if (withPublish) {
        publishRun = new StageRun(telemetry, 'publish', spanName, origin, NO_OPTIONS, parentFrame);
        publishRun.describe(codeAttributes, described, workflow);
      }
      const fanoutRun = new StageRun(
        telemetry,
        'fanout',
        fanoutName,
        origin,
        publishRun ? { parent: publishRun.context } : NO_OPTIONS,
        parentFrame,
      );
      fanoutRun.describe(codeAttributes, described, workflow);
      const scope: FanoutScope = { facts: new Map(), accountedChannels: new Set() };
      const frame = frameFor(fanoutRun, parentFrame);
      frame.fanout = scope;
      frame.publishOrigin = origin;
      return new StageInvocation(fanoutRun, frame, (stageRun, threw, valueOrError) => {
        try {
          finishFanout(telemetry, ctx.rules(args), stageRun, scope, batch, counts, threw, valueOrError, spanName);
        } finally {
          if (publishRun) {
            if (threw) publishRun.failWith(valueOrError);
            publishRun.addAll(threw ? 'failed' : 'forwarded', counts);
            publishRun.end();
          }
        }
      });
    };
  };
}

function addOutcome(run: StageRun, outcome: PairOutcome, counts: Map<Origin, number>): void {
  run.addAll(outcome.outcome, counts, outcome.outcome === 'dropped' ? outcome.reason : undefined);
}

function finishFanout(
  telemetry: Telemetry,
  rules: StreamRules | undefined,
  run: StageRun,
  scope: FanoutScope,
  batch: BatchView,
  counts: Map<Origin, number>,
  threw: boolean,
  error: unknown,
  spanName: string,
): void {
  const verdict = rules?.classifyFanout({ facts: scope.facts, accountedChannels: scope.accountedChannels, threw }) ?? {
    batch: threw ? FAILED : scope.accountedChannels.size > 0 ? FORWARDED : dropped('unattributed'),
    pairs: [],
  };
  if (verdict.streamCount !== undefined) run.describe({ [ATTR.STREAM_COUNT]: verdict.streamCount });
  addOutcome(run, verdict.batch, counts);
  if (verdict.batch.outcome !== 'forwarded' || batch.events.length === 0) return;
  // (event, stream) pairs that never reached a per-stream invocation.
  for (const pair of verdict.pairs) {
    const pairRun = new StageRun(telemetry, 'stream', `${spanName} stream`, dominantOrigin(counts), {
      parent: run.context,
    });
    pairRun.describe({ [ATTR.CODE_FUNCTION]: spanName }, batchAttributes(telemetry, batch), {
      [ATTR.STREAM_CHANNEL_ID]: pair.channelId,
    });
    if (pair.outcome.outcome === 'failed') pairRun.failWith(error);
    addOutcome(pairRun, pair.outcome, counts);
    pairRun.end();
  }
}
