import { createClient, type Client } from 'graphql-sse';

import { type TwentyGeneration } from './app/example-config';
import { monotonicNowMs } from './app/ground-truth';

const OBJECT_RECORD_EVENT_FIELDS = `
  action
  objectNameSingular
  recordId
  userId
  workspaceMemberId
  properties { updatedFields before after diff }
`;

// The subscription document each Twenty front-end version sends.
export const onEventSubscriptionDocument = (generation: TwentyGeneration): string => {
  const selection =
    generation === 'v1' || generation === 'v5'
      ? `eventWithQueryIdsList { queryIds event { ${OBJECT_RECORD_EVENT_FIELDS} } }`
      : generation === 'v8'
        ? `objectRecordEventsWithQueryIds { queryIds objectRecordEvent { ${OBJECT_RECORD_EVENT_FIELDS} } }
           metadataEventsWithQueryIds { queryIds metadataEvent }`
        : `objectRecordEventsWithQueryIds { queryIds objectRecordEvent { ${OBJECT_RECORD_EVENT_FIELDS} } }
           metadataEvents { type metadataName recordId properties }`;

  return `subscription OnEventSubscription($eventStreamId: String!) {
    onEventSubscription(eventStreamId: $eventStreamId) { eventStreamId ${selection} }
  }`;
};

export type DeliveredObjectRecordEvent = {
  queryIds: string[];
  event: {
    action?: string;
    objectNameSingular: string;
    recordId: string;
    userId?: string | null;
    workspaceMemberId?: string | null;
    properties: { updatedFields?: string[] | null; before?: unknown; after?: unknown; diff?: unknown };
  };
};

type OnEventSubscriptionMessage = {
  eventStreamId: string;
  eventWithQueryIdsList?: { queryIds: string[]; event: DeliveredObjectRecordEvent['event'] }[];
  objectRecordEventsWithQueryIds?: {
    queryIds: string[];
    objectRecordEvent: DeliveredObjectRecordEvent['event'];
  }[];
};

// Both payload generations, as one list of { queryIds, event }.
export const flattenDeliveredEvents = (messages: OnEventSubscriptionMessage[]): DeliveredObjectRecordEvent[] =>
  messages.flatMap((message) => [
    ...(message.eventWithQueryIdsList ?? []).map(({ queryIds, event }) => ({ queryIds, event })),
    ...(message.objectRecordEventsWithQueryIds ?? []).map(({ queryIds, objectRecordEvent }) => ({
      queryIds,
      event: objectRecordEvent,
    })),
  ]);

export type SseSubscription = {
  client: Client;
  messages: OnEventSubscriptionMessage[];
  // When each message arrived (same index), on the machine's monotonic clock (ground-truth monotonicAt).
  receivedAt: number[];
  errors: unknown[];
  completed: boolean;
  unsubscribe: () => void;
};

// How Twenty's SSEClientEffect keeps a stream up: it retries forever
// (`retryAttempts: Infinity`) after a broken connection, re-sending the same
// subscription (same eventStreamId); its own delay is random up to minutes,
// tests pass a short fixed one. `connected` fires on every (re)connect.
export type SseReconnect = {
  retryWaitMs: number;
  onConnected?: (reconnected: boolean) => void;
};

// A real graphql-sse client, like Twenty's SSEClientEffect (distinct connections mode).
// Without `reconnect` a broken connection ends the subscription with an error.
export const openSseSubscription = ({
  url,
  token,
  generation,
  eventStreamId,
  reconnect,
}: {
  url: string;
  token: string;
  generation: TwentyGeneration;
  eventStreamId: string;
  reconnect?: SseReconnect;
}): SseSubscription => {
  const client = createClient({
    url: `${url}/metadata`,
    headers: { Authorization: `Bearer ${token}` },
    ...(reconnect
      ? {
          retryAttempts: Infinity,
          retry: () => new Promise<void>((resolve) => setTimeout(resolve, reconnect.retryWaitMs)),
          ...(reconnect.onConnected && { on: { connected: reconnect.onConnected } }),
        }
      : { retryAttempts: 0 }),
  });
  const subscription: SseSubscription = {
    client,
    messages: [],
    receivedAt: [],
    errors: [],
    completed: false,
    unsubscribe: () => undefined,
  };

  subscription.unsubscribe = client.subscribe<{ onEventSubscription: OnEventSubscriptionMessage }>(
    { query: onEventSubscriptionDocument(generation), variables: { eventStreamId } },
    {
      next: (value) => {
        if (value.errors?.length) {
          subscription.errors.push(...value.errors);
        }
        if (value.data?.onEventSubscription) {
          subscription.messages.push(value.data.onEventSubscription);
          subscription.receivedAt.push(monotonicNowMs());
        }
      },
      error: (error) => subscription.errors.push(error),
      complete: () => {
        subscription.completed = true;
      },
    },
  );

  return subscription;
};

export const postGraphql = async <T>({
  url,
  token,
  query,
  variables,
}: {
  url: string;
  token: string;
  query: string;
  variables: Record<string, unknown>;
}): Promise<T> => {
  const response = await fetch(`${url}/metadata`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await response.json()) as { data?: T; errors?: { message: string }[] };

  if (body.errors?.length) {
    throw new Error(`GraphQL error: ${body.errors.map((error) => error.message).join('; ')}`);
  }

  return body.data as T;
};
