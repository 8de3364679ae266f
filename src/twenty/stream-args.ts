import { StreamCall } from '../engine/model';
import { asDict } from './facts';
import { readRecordBatch } from './model';
import { StreamInputs } from './rules';

/**
 * How the per-stream method's arguments are read: positional
 * `processStreamEvents(channelId, streamData, batch, permissionsContext?, ...)`
 * (V1-V9) or one options object
 * `processObjectRecordStreamEvents({ streamChannelId, streamData, workspaceEventBatch, ... })`
 * (ObjectRecordEventPublisher).
 */

function subscriberId(streamData: unknown): unknown {
  return asDict(asDict(streamData)?.authContext)?.userWorkspaceId;
}

export function readPositionalStreamCall(args: unknown[]): StreamCall | undefined {
  if (typeof args[0] !== 'string') return undefined;
  const batch = readRecordBatch(args[2]);
  if (!batch) return undefined;
  const maybePermissions = asDict(args[3]);
  const inputs: StreamInputs = {
    streamData: args[1],
    permissionsContext: maybePermissions && 'userWorkspaceRoleMap' in maybePermissions ? maybePermissions : undefined,
  };
  return { channelId: args[0], batch, subscriberId: subscriberId(args[1]), inputs };
}

export function readObjectStreamCall(args: unknown[]): StreamCall | undefined {
  const input = asDict(args[0]);
  if (!input || typeof input.streamChannelId !== 'string') return undefined;
  const batch = readRecordBatch(input.workspaceEventBatch ?? input.eventBatch ?? input.batch);
  if (!batch) return undefined;
  const inputs: StreamInputs & { options: Record<string, unknown> } = {
    streamData: input.streamData,
    permissionsContext: asDict(input.permissionsContext),
    options: input,
  };
  return { channelId: input.streamChannelId, batch, subscriberId: subscriberId(input.streamData), inputs };
}
