import { ATTR, Origin } from '../../semconv';
import { describeBatch, workflowAttributes } from '../attributes';
import { currentFrame, dominantOrigin, originOf, rememberEmit } from '../context';
import { frameFor, NO_OPTIONS, StageInvocation, StageRun } from '../stage-run';
import { InvocationFactory } from '../wrap';
import { RoleContext } from './types';

/** The emitter: remembers each event's origin and emit time, and counts the events of a record-changing action. */
export function emit(ctx: RoleContext): InvocationFactory {
  const { telemetry, model } = ctx;
  const spanName = `${ctx.className}.${ctx.methodName}`;
  const codeAttributes = { [ATTR.CODE_FUNCTION]: spanName };
  return (_self, args) => {
    const batch = model.readEmit(args);
    if (!batch || batch.events.length === 0) return undefined;
    const events = batch.events;
    const parentFrame = currentFrame();
    const counts = new Map<Origin, number>();
    const now = Date.now();
    for (const event of events) {
      const origin = originOf(event, parentFrame, model.authorOrigin);
      rememberEmit(event, origin, now);
      counts.set(origin, (counts.get(origin) ?? 0) + 1);
    }
    if (parentFrame?.action) parentFrame.action.emittedEvents += events.length;
    const run = new StageRun(telemetry, 'emit', spanName, dominantOrigin(counts), NO_OPTIONS, parentFrame);
    if (run.recording) run.describe(codeAttributes, describeBatch(telemetry, batch), workflowAttributes(parentFrame?.workflow));
    return new StageInvocation(run, frameFor(run, parentFrame), (stageRun, threw) => stageRun.addAll(threw ? 'failed' : 'forwarded', counts));
  };
}
