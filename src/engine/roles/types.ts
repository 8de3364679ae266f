import { Telemetry } from '../../otel/telemetry';
import { AppModel, StreamRules } from '../model';
import { InvocationFactory } from '../wrap';
import { ProbeSpec } from './probes';

/**
 * What a patched method does for the telemetry. A role is chosen per
 * (class, method) by the app model's target tables; the same roles back
 * @TraceStage.
 */
export type Role =
  | 'workflow_run'
  | 'workflow_step'
  | 'workflow_action'
  | 'emit'
  | 'emit_deferred'
  | 'emit_discard'
  | 'listen'
  | 'publish'
  | 'publish_fanout'
  | 'fanout'
  | 'stream'
  | 'pubsub'
  | 'legacy_pubsub'
  | 'deliver'
  | 'probe'
  | 'pubsub_client'
  | 'stream_lookup'
  | 'sse_subscribe';

export interface RoleContext {
  telemetry: Telemetry;
  className: string;
  methodName: string;
  model: AppModel;
  /** The stream rules of the generation in use; the call's arguments help when it is not known yet. */
  rules(args: unknown[]): StreamRules | undefined;
  /** For the `probe` role: what to record from the helper's result. */
  probe?: ProbeSpec;
}

export type RoleHandler = (ctx: RoleContext) => InvocationFactory;
