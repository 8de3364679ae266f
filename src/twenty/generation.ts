import { Role } from '../engine/roles';
import type { ProbeSpec } from '../engine/roles';
import { StreamRules } from '../engine/model';
import { DropReason, Generation } from '../semconv';

/**
 * One Twenty generation: the form of the record-event pipeline a Twenty
 * release has. A module per generation (generations/<id>.ts) owns its target
 * classes and methods with their roles, the helper results it reads, how its
 * per-stream arguments are read, its drop rules with their D/N codes, and the
 * texts the demo, doctor and runbook print.
 */

/**
 * A method to patch. Names are alternatives in order of preference: the first
 * one the class has is used (e.g. the newest deferred emitter's private
 * emitDatabaseBatchEventNow before emitDatabaseBatchEvent).
 */
export interface MethodTarget {
  names: string[];
  role: Role;
  /** For the `probe` role: what the helper's result tells. */
  probe?: ProbeSpec;
  /** Only where the class also has this method (a form of the class that only some releases have); not reported otherwise. */
  onlyWith?: string;
}

export interface ClassTarget {
  className: string;
  /** Also match any class whose name matches (workflow action classes). */
  pattern?: RegExp;
  methods: MethodTarget[];
  /** Expected only in the process that runs it: reported but never alarming. */
  optional?: boolean;
  /** Exists only in the API server (a GraphQL resolver): left out of the report of a process without HTTP (the queue worker). */
  apiServerOnly?: boolean;
}

/** Where in Twenty's code something happens, for the diagnosis. */
export interface CodeLocation {
  file: string;
  method: string;
}

/** One drop condition of a generation, as the diagnosis and the runbook print it. */
export interface DropRule {
  /** The drop condition's code (D1..D11, N1..N7, P0), as DROP_REASONS in semconv.ts explains them. */
  code: string;
  reason: DropReason;
  where: CodeLocation;
  /** The condition in Twenty's code, in words an operator can act on. */
  condition: string;
}

export interface GenerationModule extends StreamRules {
  id: Generation;
  /** One line naming the generation's code, e.g. for the doctor and `check`. */
  title: string;
  /** Every target the generation expects, the ones it shares with others included. */
  targets: ClassTarget[];
  /** Where batch-level and stream-level drops happen. */
  fanoutAt: CodeLocation;
  streamAt: CodeLocation;
  /** The generation's drop conditions; a reason may appear under several codes. */
  dropRules: DropRule[];
  /** The D/N code(s) the diagnosis prints for a reason, when the generation names them its own way. */
  codeFor?(reason: DropReason): string | undefined;
  /**
   * Whether the classes found (class name -> its method names) are this
   * generation. Generations are asked newest first; the first yes wins.
   */
  detect(methodsOf: (className: string) => ReadonlySet<string> | undefined): boolean;
}
