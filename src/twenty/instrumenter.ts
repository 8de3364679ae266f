import { StreamRules } from '../engine/model';
import { invocationFactory, RoleContext } from '../engine/roles';
import { PatchSet } from '../engine/patches';
import { hasMethod } from '../engine/wrap';
import { Telemetry } from '../otel/telemetry';
import { Generation } from '../semconv';
import { allTargets, detectGeneration } from './detect';
import { ClassTarget, GenerationModule } from './generation';
import { generationModule } from './generations';
import { TWENTY_MODEL } from './model';
import { readObjectStreamCall } from './stream-args';

/** Every class and method the instrumentation patches, across generations. */
export const TARGETS: ClassTarget[] = allTargets();

export { detectGeneration };

function findTarget(className: string): ClassTarget | undefined {
  return (
    TARGETS.find((target) => target.className === className) ??
    TARGETS.find((target) => target.pattern?.test(className))
  );
}

/**
 * The rules when the generation is not known (a decorated fork whose classes
 * the instrumenter never saw): read by the shape of the per-stream call.
 */
export function rulesForUnknownGeneration(args: unknown[]): StreamRules {
  return generationModule(readObjectStreamCall(args) ? 'publisher' : 'v5');
}

export interface TargetReportLine {
  className: string;
  method: string;
  status: 'found' | 'missing';
}

/**
 * Patches Twenty classes as they are discovered (by the Nest registration
 * hook or the Nest module) and reports what was found. Idempotent per class;
 * `restore()` undoes every patch exactly.
 */
export class Instrumenter {
  private readonly seen = new Map<string, Function>();
  private patched = new WeakSet<Function>();
  private readonly wrappedMethods = new Map<string, string>();
  private readonly patches = new PatchSet();
  private readonly known = new Set<Function>();
  private detected: GenerationModule | undefined;
  private detectedAt = -1;
  // bumped whenever a class is recorded (a newer class under a known name must be looked at again)
  private seenVersion = 0;
  private httpServer: boolean | undefined;

  constructor(private readonly telemetry: Telemetry) {
    telemetry.generationName = () => this.generation();
  }

  /** Puts every patched method back as it was; the classes stay known so `reinstrument()` can patch them again. */
  restore(): void {
    this.patches.restore();
    this.patched = new WeakSet();
    this.wrappedMethods.clear();
  }

  /** Patches again every target class seen before a `restore()` (Nest will not register them a second time). */
  reinstrument(): void {
    for (const cls of [...this.known]) this.instrumentClass(cls);
  }

  /** Patches `candidate` if it is a Twenty class we target. Returns true when it was a target. */
  instrumentClass(candidate: unknown): boolean {
    try {
      if (typeof candidate !== 'function' || !candidate.prototype) return false;
      const cls = candidate as Function;
      const className = cls.name;
      if (!className) return false;
      const target = findTarget(className);
      if (!target) return false;
      if (this.patched.has(cls)) return true;
      this.patched.add(cls);
      this.seen.set(className, cls);
      this.known.add(cls);
      this.seenVersion++;
      for (const methodTarget of target.methods) {
        if (methodTarget.onlyWith && !hasMethod(cls.prototype as object, methodTarget.onlyWith)) continue;
        const name = methodTarget.names.find((candidateName) => hasMethod(cls.prototype as object, candidateName));
        if (!name) continue;
        const ctx: RoleContext = {
          telemetry: this.telemetry,
          className,
          methodName: name,
          model: TWENTY_MODEL,
          rules: (args) => this.generationModule() ?? rulesForUnknownGeneration(args),
          probe: methodTarget.probe,
        };
        const factory = invocationFactory(methodTarget.role, ctx);
        if (
          this.patches.wrap(cls.prototype as object, name, `${className}.${name}`, factory, (where, error) =>
            this.telemetry.fault(where, error),
          )
        ) {
          this.wrappedMethods.set(`${className}.${methodTarget.names.join('|')}`, name);
        }
      }
      return true;
    } catch (error) {
      this.telemetry.fault('instrumenter', error);
      return false;
    }
  }

  /** Whether this process serves HTTP (NestFactory.create) or not (createApplicationContext: the queue worker). */
  setHttpServer(httpServer: boolean): void {
    this.httpServer = httpServer;
  }

  generation(): Generation | undefined {
    return this.generationModule()?.id;
  }

  /** The generation in use: forced by TWENTY_SSE_OTEL_GENERATION, else detected from the classes seen so far. */
  generationModule(): GenerationModule | undefined {
    const forced = this.telemetry.config.generation;
    if (forced !== 'auto') return generationModule(forced);
    if (this.detectedAt !== this.seenVersion) {
      const id = detectGeneration(this.seen);
      this.detected = id ? generationModule(id) : undefined;
      this.detectedAt = this.seenVersion;
    }
    return this.detected;
  }

  /** Found/missing per expected target of the generation in use; also feeds the targets metric. */
  report(): { generation: Generation | undefined; lines: TargetReportLine[]; line: string } {
    const module = this.generationModule();
    const generation = module?.id;
    const expected = module ? module.targets : TARGETS;
    const lines: TargetReportLine[] = [];
    const optionalClasses = new Set<string>();
    for (const target of expected) {
      if (target.pattern) {
        const actions = [...this.seen.keys()].filter((name) => target.pattern!.test(name));
        lines.push({
          className: '*WorkflowAction',
          method: 'execute',
          status: actions.length > 0 ? 'found' : 'missing',
        });
        if (target.optional) optionalClasses.add('*WorkflowAction');
        continue;
      }
      if (target.optional) optionalClasses.add(target.className);
      const cls = this.seen.get(target.className);
      const classFound = cls !== undefined;
      if (target.apiServerOnly && !classFound && this.httpServer === false) continue;
      for (const methodTarget of target.methods) {
        if (methodTarget.onlyWith && !(cls && hasMethod(cls.prototype as object, methodTarget.onlyWith))) continue;
        const used = this.wrappedMethods.get(`${target.className}.${methodTarget.names.join('|')}`);
        lines.push({
          className: target.className,
          method: used ?? methodTarget.names.join('|'),
          status: classFound && used ? 'found' : 'missing',
        });
      }
    }
    for (const line of lines) this.telemetry.setTargetStatus(line.className, line.method, line.status);
    const found = lines.filter((line) => line.status === 'found');
    const missing = lines.filter((line) => line.status === 'missing');
    const optionalMissing = missing.filter((line) => optionalClasses.has(line.className));
    const line =
      `generation ${generation ?? 'unknown'}${this.telemetry.config.generation === 'auto' ? ' (detected)' : ' (forced)'}; ` +
      `${found.length} targets found, ${missing.length} missing` +
      (missing.length > 0
        ? ` (${missing.map((m) => `${m.className}.${m.method}`).join(', ')}` +
          (optionalMissing.length > 0 ? '; workflow targets exist only in the queue worker' : '') +
          ')'
        : '');
    return { generation, lines, line };
  }
}
