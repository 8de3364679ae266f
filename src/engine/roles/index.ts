import { InvocationFactory } from '../wrap';
import { deliverRole } from './deliver';
import { deferEmit, discardDeferred, emit } from './emit';
import { pubsubClient, sseSubscribe, streamLookup } from './last-mile';
import { fanout } from './fanout';
import { wholeBatch } from './listen';
import { probe } from './probes';
import { legacyPubsub, pubsub } from './pubsub';
import { stream } from './stream';
import { Role, RoleContext, RoleHandler } from './types';
import { workflowAction, workflowRun, workflowStep } from './workflow';

export type { Role, RoleContext } from './types';
export type { ProbeSpec } from './probes';
export { IGNORE } from './probes';
export { wrapDeliveryIterator } from './deliver';

const HANDLERS: Record<Role, RoleHandler> = {
  workflow_run: workflowRun,
  workflow_step: workflowStep,
  workflow_action: workflowAction,
  emit,
  emit_deferred: deferEmit,
  emit_discard: discardDeferred,
  listen: wholeBatch('listen'),
  publish: wholeBatch('publish'),
  publish_fanout: fanout(true),
  fanout: fanout(false),
  stream,
  pubsub,
  legacy_pubsub: legacyPubsub,
  deliver: deliverRole,
  probe,
  pubsub_client: pubsubClient,
  stream_lookup: streamLookup,
  sse_subscribe: sseSubscribe,
};

/** The per-call factory of a role, for one patched method. */
export function invocationFactory(role: Role, ctx: RoleContext): InvocationFactory {
  return HANDLERS[role](ctx);
}
