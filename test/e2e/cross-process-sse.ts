/**
 * Shared by the cross-process e2e tests: a graphql-sse subscription read as
 * raw bytes off the HTTP response (what a browser's EventSource gets), and
 * normalization of SSE messages for comparisons across deployments.
 */
import type IORedis from 'ioredis';

import { onEventSubscriptionDocument } from '../../example/sse-client';
import { getEventStreamRedisChannel } from '../../example/twenty/engine/subscriptions/subscription.service';
import { eventStreamIdToChannelId } from '../../example/twenty/engine/subscriptions/utils/get-channel-id-from-event-stream-id';
import { type Generation, pollUntil } from '../helpers/processes';

export interface RawSse {
  eventStreamId: string;
  /** The stream's channel id (as in the ground truth) and the Redis pub/sub channel the server subscribes for it. */
  channelId: string;
  redisChannel: string;
  /** Everything received so far, byte for byte (decoded as UTF-8). */
  text: () => string;
  /** The `event: next` messages received so far, their data parsed. */
  messages: () => unknown[];
  close: () => void;
}

/** Opens `onEventSubscription` over graphql-sse (distinct connections mode: one POST, text/event-stream). */
export function openRawSse({
  url,
  token,
  generation,
  eventStreamId,
  workspaceId,
}: {
  url: string;
  token: string;
  generation: Generation;
  eventStreamId: string;
  workspaceId: string;
}): RawSse {
  const controller = new AbortController();
  let text = '';
  void (async () => {
    try {
      const response = await fetch(`${url}/metadata`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${token}` },
        body: JSON.stringify({ query: onEventSubscriptionDocument(generation), variables: { eventStreamId } }),
        signal: controller.signal,
      });
      const reader = response.body!.getReader();
      const decoder = new TextDecoder();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        text += decoder.decode(value, { stream: true });
      }
    } catch {
      // aborted by close()
    }
  })();
  const channelId = eventStreamIdToChannelId(eventStreamId);
  return {
    eventStreamId,
    channelId,
    redisChannel: getEventStreamRedisChannel(workspaceId, channelId),
    text: () => text,
    messages: () => parseSseMessages(text),
    close: () => controller.abort(),
  };
}

/** Complete `event: next` messages of an SSE text, data parsed as JSON. */
export function parseSseMessages(text: string): unknown[] {
  const messages: unknown[] = [];
  const blocks = text.split('\n\n');
  blocks.pop(); // incomplete (or empty) tail
  for (const block of blocks) {
    const lines = block.split('\n');
    if (!lines.includes('event: next')) continue;
    const data = lines
      .filter((line) => line.startsWith('data:'))
      .map((line) => line.slice(5).replace(/^ /, ''))
      .join('\n');
    messages.push(JSON.parse(data));
  }
  return messages;
}

/** Resolves once the server subscribed the stream's Redis channel. */
export async function waitForSubscriber(redis: IORedis, channel: string, timeoutMs = 10_000): Promise<void> {
  await pollUntil(
    async () => Number(((await redis.pubsub('NUMSUB', channel)) as [string, number])[1]),
    (n) => n > 0,
    {
      timeoutMs,
      what: `a subscriber on ${channel}`,
    },
  );
}

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi;
const ISO_TIME = /\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?Z/g;

/** Ids become <id1>, <id2>, ... in order of first appearance (shared `ids` map); ISO timestamps become <time>. */
export function normalizeIdsAndTimes(value: unknown, ids: Map<string, string>): unknown {
  const text = JSON.stringify(value)
    .replace(UUID, (id) => {
      const key = id.toLowerCase();
      if (!ids.has(key)) ids.set(key, `<id${ids.size + 1}>`);
      return ids.get(key)!;
    })
    .replace(ISO_TIME, '<time>');
  return JSON.parse(text);
}
