import { isDefined } from '../../../twenty-shared/utils';
import { EVENT_STREAM_TTL_MS } from '../constants/event-stream-ttl.constant';
import { type EventStreamService } from '../event-stream.service';
import { EventStreamException, EventStreamExceptionCode } from '../event-stream.exception';
import { type SubscriptionService } from '../subscription.service';
import { eventStreamIdToChannelId } from './get-channel-id-from-event-stream-id';
import { wrapAsyncIteratorWithLifecycle } from './wrap-async-iterator-with-lifecycle';

// What the two resolver generations (bare-array WorkspaceEventEmitterResolver,
// object-payload EventStreamResolver) do the same way. Each resolver keeps its
// own decorated methods, which Nest and the instrumentation see; the bodies
// call these.

type StreamStateService = Pick<
  EventStreamService,
  'getStreamData' | 'destroyEventStream' | 'refreshEventStreamTTL' | 'isAuthorized' | 'addQuery' | 'removeQuery'
>;

// Subscribes the SSE connection to its stream channel (SubscriptionService.subscribeToEventStream),
// destroys the stream if that fails, and keeps the stream alive while the connection lasts.
export const openEventStreamIterator = async <Payload>({
  subscriptionService,
  eventStreamService,
  workspaceId,
  eventStreamChannelId,
  initialValue,
}: {
  subscriptionService: SubscriptionService;
  eventStreamService: StreamStateService;
  workspaceId: string;
  eventStreamChannelId: string;
  initialValue?: Payload;
}) => {
  let iterator: AsyncIterator<Payload>;

  try {
    iterator = await subscriptionService.subscribeToEventStream<Payload>({ workspaceId, eventStreamChannelId });
  } catch (error) {
    await eventStreamService.destroyEventStream({ workspaceId, eventStreamChannelId });
    throw error;
  }

  return wrapAsyncIteratorWithLifecycle(iterator, {
    ...(initialValue !== undefined && { initialValue }),
    onHeartbeat: () => eventStreamService.refreshEventStreamTTL({ workspaceId, eventStreamChannelId }),
    heartbeatIntervalMs: EVENT_STREAM_TTL_MS / 5,
    onCleanup: () => eventStreamService.destroyEventStream({ workspaceId, eventStreamChannelId }),
  });
};

// addQueryToEventStream / removeQueryFromEventStream: find the stream, check the caller owns it, apply the change.
// A missing stream is an error in the bare-array era and `false` in the object-payload era.
export const changeEventStreamQueries = async ({
  eventStreamService,
  workspaceId,
  eventStreamId,
  authContext,
  onMissingStream,
  notAuthorizedMessage,
  change,
}: {
  eventStreamService: StreamStateService;
  workspaceId: string;
  eventStreamId: string;
  authContext: { userWorkspaceId?: string; apiKeyId?: string };
  onMissingStream: 'throw' | 'return-false';
  notAuthorizedMessage: string;
  change: (eventStreamChannelId: string) => Promise<void>;
}): Promise<boolean> => {
  const eventStreamChannelId = eventStreamIdToChannelId(eventStreamId);
  const streamData = await eventStreamService.getStreamData(workspaceId, eventStreamChannelId);

  if (!isDefined(streamData)) {
    if (onMissingStream === 'return-false') {
      return false;
    }

    throw new EventStreamException('Event stream does not exist', EventStreamExceptionCode.EVENT_STREAM_DOES_NOT_EXIST);
  }

  const isAuthorized = await eventStreamService.isAuthorized({ streamData, authContext });

  if (!isAuthorized) {
    throw new EventStreamException(notAuthorizedMessage, EventStreamExceptionCode.NOT_AUTHORIZED);
  }

  await change(eventStreamChannelId);

  return true;
};
