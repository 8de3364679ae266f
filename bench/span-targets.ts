/**
 * The Twenty methods the comparison modes put a plain span on ("the same
 * methods" the package makes stages of), and the hook that applies a wrapper
 * to them as Nest's scanner registers each provider: the same moment the
 * package's own scanner hook uses. Shared by the in-process benchmark (modes
 * e and f) and the end-to-end one (mode e, through span-preload.ts).
 */
import { WORKFLOW_TARGETS } from '../src/twenty/common-targets';

export interface SpanTarget {
  className: string;
  /** One entry per method; each lists alternative names in order of preference (generations rename them). */
  methods: string[][];
  /** Generations where the method does not exist (the legacy per-event channel is gone there). */
  skipIn?: string[];
}

/** Generations without the legacy per-event channel. */
export const WITHOUT_LEGACY_CHANNEL = ['publisher', 'record_share', 'record_access'];

/** Emit, listen, publish, fan-out, per-stream processing and the two publishes. */
export function pipelineSpanTargets(generation: string): SpanTarget[] {
  return [
    { className: 'WorkspaceEventEmitter', methods: [['emitDatabaseBatchEventNow', 'emitDatabaseBatchEvent']] },
    { className: 'EntityEventsToDbListener', methods: [['handleEvent', 'handle']] },
    {
      className: 'WorkspaceEventEmitterService',
      methods: [['publish'], ['publishToEventStreams'], ['processObjectRecordStreamEvents', 'processStreamEvents']],
    },
    { className: 'ObjectRecordEventPublisher', methods: [['publish'], ['processObjectRecordStreamEvents']] },
    { className: 'SubscriptionService', methods: [['publishToEventStream']] },
    { className: 'SubscriptionService', methods: [['publish']], skipIn: WITHOUT_LEGACY_CHANNEL },
  ].filter((target) => !target.skipIn?.includes(generation));
}

/** The workflow step, which the end-to-end workload reaches (the in-process one does not): the package's own target. */
export const WORKFLOW_STEP_TARGET: SpanTarget = (() => {
  for (const target of WORKFLOW_TARGETS) {
    const step = target.methods.find((method) => method.role === 'workflow_step');
    if (step) return { className: target.className, methods: [step.names] };
  }
  throw new Error('no workflow_step target in src/twenty/common-targets.ts');
})();

function findOwner(prototype: object, name: string): object | undefined {
  let owner: object | null = prototype;
  while (owner && owner !== Object.prototype) {
    const descriptor = Object.getOwnPropertyDescriptor(owner, name);
    if (descriptor) return typeof descriptor.value === 'function' ? owner : undefined;
    owner = Object.getPrototypeOf(owner);
  }
  return undefined;
}

/**
 * Patches provider classes as Nest's scanner registers them, with `wrap`
 * applied to each target method found. Returns the list of wrapped
 * Class.method names (filled as providers are scanned).
 */
export function hookScannerWith(
  targets: SpanTarget[],
  wrap: (owner: object, name: string, spanName: string) => void,
): string[] {
  const wrapped: string[] = [];
  const done = new WeakSet<Function>();
  const scanner = (require('@nestjs/core/scanner') as { DependenciesScanner: { prototype: Record<string, Function> } })
    .DependenciesScanner;
  const originalInsert = scanner.prototype.insertProvider;
  scanner.prototype.insertProvider = function (this: unknown, ...args: unknown[]) {
    const provider = args[0] as { useClass?: unknown } | Function | undefined;
    const cls =
      typeof provider === 'function'
        ? provider
        : typeof provider?.useClass === 'function'
          ? (provider.useClass as Function)
          : undefined;
    if (cls && !done.has(cls)) {
      done.add(cls);
      for (const target of targets) {
        if (target.className !== cls.name) continue;
        for (const alternatives of target.methods) {
          const name = alternatives.find((candidate) => findOwner(cls.prototype as object, candidate));
          if (!name) continue;
          wrap(findOwner(cls.prototype as object, name)!, name, `${cls.name}.${name}`);
          wrapped.push(`${cls.name}.${name}`);
        }
      }
    }
    return originalInsert.apply(this, args);
  };
  return wrapped;
}
