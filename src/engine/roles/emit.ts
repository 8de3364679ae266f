import { ATTR, Origin } from '../../semconv';
import { describeBatch, workflowAttributes } from '../attributes';
import {
  ActionScope,
  currentFrame,
  deferralOf,
  dominantOrigin,
  EventMark,
  rememberedOrigin,
  rememberDeferral,
  rememberEmit,
  rememberEmitTime,
  takeActionsDeferredOn,
  WorkflowMark,
} from '../context';
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
    let workflow: WorkflowMark | undefined = parentFrame?.workflow;
    let mark: EventMark | undefined;
    for (const event of events) {
      const authored = model.authorOrigin(event);
      const origin: Origin = parentFrame?.workflow ? 'workflow' : (rememberedOrigin(event) ?? authored);
      mark = rememberEmit(event, origin, authored, now, mark);
      counts.set(origin, (counts.get(origin) ?? 0) + 1);
      // held back until COMMIT: the action that raised it learns it was emitted, wherever the flush runs
      const deferral = deferralOf(event);
      if (deferral?.action && deferral.action !== parentFrame?.action) countEmitted(deferral.action, 1);
      workflow ??= deferral?.workflow;
    }
    if (parentFrame?.action) countEmitted(parentFrame.action, events.length);
    const run = new StageRun(telemetry, 'emit', spanName, dominantOrigin(counts), NO_OPTIONS, parentFrame);
    if (run.recording) run.describe(codeAttributes, describeBatch(telemetry, batch), workflowAttributes(workflow));
    rememberEmitTime(events, now);
    const frame = frameFor(run, parentFrame);
    frame.emittedAt = now;
    return new StageInvocation(run, frame, (stageRun, threw) =>
      stageRun.addAll(threw ? 'failed' : 'forwarded', counts),
    );
  };
}

function countEmitted(action: ActionScope, count: number): void {
  action.emittedEvents += count;
  action.settle?.('emitted');
}

/**
 * The public emit of an emitter that holds events back while a transaction
 * is open (they are emitted after COMMIT, by another method, possibly in
 * another async context): remembers who raised them.
 */
export function deferEmit(ctx: RoleContext): InvocationFactory {
  const { model } = ctx;
  return (_self, args) => {
    const handle = model.deferralHandle(args);
    if (!handle) return undefined;
    const batch = model.readEmit(args);
    if (!batch || batch.events.length === 0) return undefined;
    const frame = currentFrame();
    if (!frame?.workflow && !frame?.action) return undefined;
    const deferral = { workflow: frame.workflow, action: frame.action };
    for (const event of batch.events) rememberDeferral(event, handle, deferral);
    if (frame.action) frame.action.deferredEvents += batch.events.length;
    return undefined;
  };
}

/** The emitter drops held-back events after a rollback: the actions still waiting on them end failed. */
export function discardDeferred(ctx: RoleContext): InvocationFactory {
  const { model } = ctx;
  return (_self, args) => {
    const handle = model.deferralHandleOf(args[0]);
    if (!handle) return undefined;
    return () => {
      for (const action of takeActionsDeferredOn(handle)) action.settle?.('discarded');
    };
  };
}
