import { Frame, WorkflowMark, currentFrame, runInFrame } from './engine/context';
import { DROP_REASONS, DropReason, Stage } from './semconv';
import { Role, invocationFactory } from './engine/roles';
import { activeRuntime } from './runtime';
import { rulesForUnknownGeneration } from './twenty/instrumenter';
import { TWENTY_MODEL } from './twenty/model';
import { getActiveTelemetry, Telemetry } from './otel/telemetry';
import { InvocationFactory, wrapFunction } from './engine/wrap';

const ROLE_OF_STAGE: Record<Stage, Role> = {
  workflow_step: 'workflow_step',
  emit: 'emit',
  listen: 'listen',
  publish: 'publish',
  fanout: 'fanout',
  stream: 'stream',
  pubsub: 'pubsub',
  legacy_pubsub: 'legacy_pubsub',
  deliver: 'deliver',
};

export interface TraceStageOptions {
  /** The exact role when the stage alone is ambiguous, e.g. 'workflow_action' for a record-mutating step or 'publish_fanout'. */
  role?: Role;
}

/**
 * Source-level twin of the zero-code patch: `@TraceStage('stream')` on
 * processStreamEvents applies the very same wrapper and accounting. Inert
 * until the instrumentation is started (register entry or TwentySseOtelModule).
 */
export function TraceStage(stage: Stage, options: TraceStageOptions = {}): MethodDecorator {
  const role = options.role ?? ROLE_OF_STAGE[stage];
  return (target, propertyKey, descriptor) => {
    const original = descriptor.value as unknown;
    if (typeof original !== 'function') return descriptor;
    const className = (target as { constructor?: { name?: string } }).constructor?.name ?? 'Anonymous';
    const methodName = String(propertyKey);
    const factories = new WeakMap<Telemetry, InvocationFactory>();
    const factory: InvocationFactory = (self, args) => {
      const telemetry = getActiveTelemetry();
      if (!telemetry) return undefined;
      let forTelemetry = factories.get(telemetry);
      if (!forTelemetry) {
        forTelemetry = invocationFactory(role, {
          telemetry,
          className,
          methodName,
          model: TWENTY_MODEL,
          rules: (args) => activeRuntime()?.instrumenter.generationModule() ?? rulesForUnknownGeneration(args),
        });
        factories.set(telemetry, forTelemetry);
      }
      return forTelemetry(self, args);
    };
    const wrapped = wrapFunction(original as Function, `${className}.${methodName}`, factory, (component, error) =>
      getActiveTelemetry()?.fault(component, error),
    );
    return { ...descriptor, value: wrapped as typeof descriptor.value };
  };
}

/**
 * Declares why the current per-stream invocation drops events, for forks that
 * know better than the inference (call it right before `return`/`continue`).
 * Returns false when not inside a traced stream stage or the reason is unknown.
 */
export function recordDrop(reason: DropReason, count = 1): boolean {
  if (!(reason in DROP_REASONS) || !Number.isInteger(count) || count <= 0) return false;
  const stream = currentFrame()?.stream;
  if (!stream) return false;
  stream.explicitDrops.push({ reason, count });
  return true;
}

/** Runs `fn` as part of a workflow step: everything it emits counts as origin=workflow. */
export function markWorkflowContext<T>(mark: WorkflowMark, fn: () => T): T {
  const parent: Frame | undefined = currentFrame();
  return runInFrame({ workflow: { ...parent?.workflow, ...mark } }, fn);
}
