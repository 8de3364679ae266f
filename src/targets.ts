import { PatchSet } from './patches';
import { Role, invocationFactory } from './stages';
import { Generation } from './semconv';
import { Telemetry } from './telemetry';
import { hasMethod } from './wrap';

/**
 * Which Twenty classes and methods are patched, and in what role. Method
 * names are alternatives in order of preference: the first one the class has
 * is used (e.g. the newest deferred emitter's private emitDatabaseBatchEventNow
 * before emitDatabaseBatchEvent, the listener's handleEvent before the older handle).
 */
export interface MethodTarget {
  names: string[];
  role: Role;
  /** Generations in which this method is expected; absent = every generation. */
  generations?: Generation[];
}

export interface ClassTarget {
  className: string;
  /** Also match any class whose name matches (workflow action classes). */
  pattern?: RegExp;
  methods: MethodTarget[];
  /** Generations in which the class is expected; absent = every generation. */
  generations?: Generation[];
  /** Expected only in the process that runs it: reported but never alarming. */
  optional?: boolean;
}

const LEGACY: Generation[] = ['v1', 'v5', 'v8'];

export const TARGETS: ClassTarget[] = [
  {
    className: 'RunWorkflowJob',
    methods: [{ names: ['handle'], role: 'workflow_run' }],
    optional: true,
  },
  {
    className: 'WorkflowExecutorWorkspaceService',
    methods: [{ names: ['executeStep'], role: 'workflow_step' }],
    optional: true,
  },
  {
    className: 'UpdateRecordWorkflowAction',
    pattern: /WorkflowAction$/,
    methods: [{ names: ['execute'], role: 'workflow_action' }],
    optional: true,
  },
  {
    className: 'WorkspaceEventEmitter',
    methods: [{ names: ['emitDatabaseBatchEventNow', 'emitDatabaseBatchEvent'], role: 'emit' }],
  },
  {
    className: 'EntityEventsToDbListener',
    methods: [{ names: ['handleEvent', 'handle'], role: 'listen' }],
  },
  {
    className: 'WorkspaceEventEmitterService',
    generations: LEGACY,
    methods: [
      { names: ['publish'], role: 'publish' },
      { names: ['publishToEventStreams'], role: 'fanout' },
      { names: ['processObjectRecordStreamEvents', 'processStreamEvents'], role: 'stream' },
      { names: ['fetchObjectRecordStreamContext', 'fetchPermissionsContext'], role: 'permissions_context', generations: ['v5', 'v8'] },
      { names: ['filterRestrictedFieldsFromEvent'], role: 'filter_fields', generations: ['v5', 'v8'] },
      { names: ['getMatchingObjectRecordQueryIds', 'getMatchingQueryIds'], role: 'match_queries', generations: ['v5', 'v8'] },
    ],
  },
  {
    className: 'ObjectRecordEventPublisher',
    generations: ['publisher'],
    methods: [
      { names: ['publish'], role: 'publish_fanout' },
      { names: ['processObjectRecordStreamEvents'], role: 'stream' },
      { names: ['fetchObjectRecordStreamContext', 'fetchPermissionsContext'], role: 'permissions_context' },
      { names: ['resolveStreamRoleIds'], role: 'role_ids' },
      { names: ['resolveStreamObjectsPermissions'], role: 'objects_permissions' },
      { names: ['buildSubscriberRecordShareGate'], role: 'record_share_gate' },
      { names: ['filterRestrictedFieldsFromEvent'], role: 'filter_fields' },
      { names: ['getMatchingObjectRecordQueryIds'], role: 'match_queries' },
    ],
  },
  {
    className: 'EventStreamService',
    methods: [
      { names: ['getActiveStreamIds'], role: 'active_streams' },
      { names: ['getStreamsData'], role: 'streams_data' },
      { names: ['matchQueriesWithEvent'], role: 'match_queries', generations: ['v1'] },
    ],
  },
  {
    className: 'SubscriptionService',
    methods: [
      { names: ['publishToEventStream'], role: 'pubsub' },
      { names: ['publish'], role: 'legacy_pubsub', generations: LEGACY },
      { names: ['subscribeToEventStream'], role: 'deliver' },
    ],
  },
];

function findTarget(className: string): ClassTarget | undefined {
  return TARGETS.find((target) => target.className === className) ?? TARGETS.find((target) => target.pattern?.test(className));
}

/** Generation from the classes seen: the newest publisher, else the shape of WorkspaceEventEmitterService. */
export function detectGeneration(classes: Map<string, Function>): Generation | undefined {
  if (classes.has('ObjectRecordEventPublisher')) return 'publisher';
  const service = classes.get('WorkspaceEventEmitterService');
  if (!service) return undefined;
  const prototype = service.prototype as object;
  if (hasMethod(prototype, 'processObjectRecordStreamEvents')) return 'v8';
  if (hasMethod(prototype, 'processStreamEvents')) {
    return hasMethod(prototype, 'fetchPermissionsContext') || hasMethod(prototype, 'filterRestrictedFieldsFromEvent') ? 'v5' : 'v1';
  }
  return undefined;
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

  constructor(private readonly telemetry: Telemetry) {}

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
      for (const methodTarget of target.methods) {
        const name = methodTarget.names.find((candidateName) => hasMethod(cls.prototype as object, candidateName));
        if (!name) continue;
        const component = `${className}.${name}`;
        const factory = invocationFactory(methodTarget.role, {
          telemetry: this.telemetry,
          className,
          methodName: name,
        });
        if (this.patches.wrap(cls.prototype as object, name, component, factory, (where, error) => this.telemetry.fault(where, error))) {
          this.wrappedMethods.set(`${className}.${methodTarget.names.join('|')}`, name);
        }
      }
      return true;
    } catch (error) {
      this.telemetry.fault('instrumenter', error);
      return false;
    }
  }

  generation(): Generation | undefined {
    const forced = this.telemetry.config.generation;
    if (forced !== 'auto') return forced;
    return detectGeneration(this.seen);
  }

  /** Found/missing per expected target of the generation in use; also feeds the targets metric. */
  report(): { generation: Generation | undefined; lines: TargetReportLine[]; line: string } {
    const generation = this.generation();
    const lines: TargetReportLine[] = [];
    for (const target of TARGETS) {
      if (target.generations && generation && !target.generations.includes(generation)) continue;
      const classFound = this.seen.has(target.className) || (target.pattern && [...this.seen.keys()].some((name) => target.pattern!.test(name)));
      if (target.pattern) {
        const actions = [...this.seen.keys()].filter((name) => target.pattern!.test(name));
        lines.push({ className: '*WorkflowAction', method: 'execute', status: actions.length > 0 ? 'found' : 'missing' });
        continue;
      }
      for (const methodTarget of target.methods) {
        if (methodTarget.generations && generation && !methodTarget.generations.includes(generation)) continue;
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
    const optionalMissing = missing.filter((line) => TARGETS.find((t) => t.className === line.className || line.className === '*WorkflowAction')?.optional);
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
