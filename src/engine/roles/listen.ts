import { ATTR, Stage } from '../../semconv';
import { batchAttributes, workflowAttributes } from '../attributes';
import { batchFacts, currentFrame } from '../context';
import { frameFor, NO_OPTIONS, StageInvocation, StageRun } from '../stage-run';
import { InvocationFactory } from '../wrap';
import { RoleContext } from './types';

/** A stage that takes a whole batch and either passes all of it on or fails (listen, publish). */
export function wholeBatch(stage: Stage): (ctx: RoleContext) => InvocationFactory {
  return (ctx) => {
    const { telemetry, model } = ctx;
    const spanName = `${ctx.className}.${ctx.methodName}`;
    const codeAttributes = { [ATTR.CODE_FUNCTION]: spanName };
    return (_self, args) => {
      const batch = model.readBatch(args[0]);
      if (!batch) return undefined;
      const parentFrame = currentFrame();
      const facts = batchFacts(batch.events, parentFrame, model.authorOrigin);
      const run = new StageRun(telemetry, stage, spanName, facts.dominant, NO_OPTIONS, parentFrame);
      run.describe(codeAttributes, batchAttributes(telemetry, batch), workflowAttributes(parentFrame?.workflow));
      const frame = frameFor(run, parentFrame);
      frame.publishOrigin = facts.dominant;
      return new StageInvocation(run, frame, (stageRun, threw) =>
        stageRun.addAll(threw ? 'failed' : 'forwarded', facts.counts),
      );
    };
  };
}
