import { Attributes } from '@opentelemetry/api';
import { ATTR } from '../../semconv';
import { ActionScope, currentFrame, WorkflowMark } from '../context';
import { workflowAttributes } from '../attributes';
import { frameFor, NO_OPTIONS, noFinish, PassThroughFrame, StageInvocation, StageRun } from '../stage-run';
import { InvocationFactory } from '../wrap';
import { RoleContext } from './types';

/**
 * The workflow roles mark the async context as origin=workflow, so that every
 * event the step causes (in this process) counts as a workflow event.
 */

function spanFor(ctx: RoleContext): { name: string; code: Attributes } {
  const name = `${ctx.className}.${ctx.methodName}`;
  return { name, code: { [ATTR.CODE_FUNCTION]: name } };
}

/** The whole run (a queue job): marks the run id. */
export function workflowRun(ctx: RoleContext): InvocationFactory {
  const { telemetry, model } = ctx;
  const { name, code } = spanFor(ctx);
  return (_self, args) => {
    const parentFrame = currentFrame();
    const parent = parentFrame?.workflow;
    const mark: WorkflowMark = {
      ...parent,
      workflowRunId: model.workflowRun(args).workflowRunId ?? parent?.workflowRunId,
    };
    const run = new StageRun(telemetry, 'workflow_step', name, 'workflow', NO_OPTIONS, parentFrame);
    run.describe(code, workflowAttributes(mark));
    const frame = frameFor(run, parentFrame);
    frame.workflow = mark;
    return new StageInvocation(run, frame, noFinish);
  };
}

/** One step of a run: marks run id, step id and step type. */
export function workflowStep(ctx: RoleContext): InvocationFactory {
  const { telemetry, model } = ctx;
  const { name, code } = spanFor(ctx);
  return (_self, args) => {
    const read = model.workflowStep(args);
    const parentFrame = currentFrame();
    const parent = parentFrame?.workflow;
    const mark: WorkflowMark = {
      workflowRunId: read.workflowRunId ?? parent?.workflowRunId,
      stepId: read.stepId ?? parent?.stepId,
      stepType: read.stepType ?? parent?.stepType,
    };
    const run = new StageRun(telemetry, 'workflow_step', name, 'workflow', NO_OPTIONS, parentFrame);
    run.describe(code, workflowAttributes(mark));
    const frame = frameFor(run, parentFrame);
    frame.workflow = mark;
    return new StageInvocation(run, frame, noFinish);
  };
}

/**
 * One action of a step. A record-changing action is a unit of its own: it
 * ends forwarded when it emitted events, dropped as not_emitted when it did
 * not, failed when it threw or reported a failure.
 */
export function workflowAction(ctx: RoleContext): InvocationFactory {
  const { telemetry, model } = ctx;
  return (self, args) => {
    const view = model.workflowAction(self, args, ctx.className);
    const parentFrame = currentFrame();
    const parent = parentFrame?.workflow;
    const mark: WorkflowMark = {
      workflowRunId: view.mark.workflowRunId ?? parent?.workflowRunId,
      stepId: view.mark.stepId ?? parent?.stepId,
      stepType: view.mark.stepType ?? parent?.stepType,
    };
    if (!view.mutatesRecords) return new PassThroughFrame({ workflow: mark });
    const action: ActionScope = { emittedEvents: 0, deferredEvents: 0 };
    const name = `${view.className}.${ctx.methodName}`;
    const run = new StageRun(telemetry, 'workflow_step', name, 'workflow', NO_OPTIONS, parentFrame);
    run.describe({ [ATTR.CODE_FUNCTION]: name }, workflowAttributes(mark));
    const frame = frameFor(run, parentFrame);
    frame.workflow = mark;
    frame.action = action;
    return new StageInvocation(run, frame, (stageRun, threw, value) => {
      if (threw) stageRun.add('failed', 'workflow', 1);
      else if (model.actionFailed(value)) {
        stageRun.failWith({ constructor: { name: 'WorkflowActionError' } });
        stageRun.add('failed', 'workflow', 1);
      } else if (action.emittedEvents > 0) stageRun.add('forwarded', 'workflow', 1);
      else if (action.deferredEvents > 0) {
        // its events wait for the transaction: the unit ends when they are emitted (after COMMIT) or discarded (rollback)
        action.settle = (how) => {
          action.settle = undefined;
          if (how === 'emitted') stageRun.add('forwarded', 'workflow', 1);
          else {
            stageRun.failWith({ constructor: { name: 'TransactionRolledBack' } });
            stageRun.add('failed', 'workflow', 1);
          }
          stageRun.end();
        };
        return 'pending';
      } else stageRun.add('dropped', 'workflow', 1, 'not_emitted');
      return undefined;
    });
  };
}
