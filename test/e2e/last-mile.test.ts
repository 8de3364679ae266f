/**
 * The last mile on the example's real processes: queue worker and API
 * servers started with the register entry, real Redis, real graphql-sse
 * clients over HTTP, telemetry exported over OTLP/HTTP to a local receiver.
 *
 * 1. (publisher) A tab whose connection goes away without its stream being
 *    cleaned up: its API server is killed (a crash, or a deploy that does not
 *    drain) and the tab is closed. The stream stays registered in Redis until
 *    its TTL; every event published to it meanwhile, by the worker
 *    (workflow) and by the other server (UI), reaches no subscriber and is
 *    dropped at pubsub as no_live_connection: exactly those events, no others.
 *    A tab of the killed server that does come back (same stream id, on the
 *    other server) counts as a re-subscription of a still-registered stream;
 *    once the dead stream's TTL ran out its events end as stream_expired.
 *    Stopping the surviving server closes its connections as server_shutdown.
 * 2. (v5) A proxy stand-in between the browser and the API server cuts every
 *    connection after N seconds; the tab reconnects with the same stream id,
 *    as Twenty's front end does. Opened, closed (client_gone), lifetimes (all
 *    in the bucket holding N) and re-subscriptions equal what the proxy saw.
 *
 * In both, every counter of the stream and pubsub stages equals the example's
 * ground truth (pubsub: a publish reached a subscriber when an API server's
 * Redis subscriber connection received it).
 */
import { mkdtempSync } from 'node:fs';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import IORedis from 'ioredis';

import { startTwentyLikeApp, type GroundTruthRecord, type SseStream, type TwentyLikeApp } from '../../example/harness';
import { openSseSubscription, postGraphql } from '../../example/sse-client';
import { ATTR, METRIC } from '../../src/semconv';
import { groundTruthKeys, sorted } from '../integration/drop-conditions.shared';
import { expectedPubsubKeys } from '../helpers/last-mile-truth';
import { OtlpReceiver } from '../helpers/otlp-receiver';
import {
  type Generation,
  pollUntil,
  redisUrlWithDb,
  type ServerProcess,
  type SpawnedProcess,
  startServer,
  startWorker,
  stopAllProcesses,
} from '../helpers/processes';

jest.setTimeout(120_000);

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface LastMileDeployment {
  receiver: OtlpReceiver;
  redisUrl: string;
  redis: IORedis;
  groundTruthFile: string;
  worker: SpawnedProcess;
  servers: ServerProcess[];
  client: TwentyLikeApp;
  output(): string;
}

/** A worker and `servers` API servers (services twenty-server-a, -b, ...), all instrumented, on one Redis database. */
function useLastMileDeployment(generation: Generation, db: number, servers: number): () => LastMileDeployment {
  let state: LastMileDeployment | undefined;
  beforeAll(async () => {
    const receiver = new OtlpReceiver();
    const endpoint = await receiver.start();
    const redisUrl = redisUrlWithDb(db);
    const redis = new IORedis(redisUrl, { maxRetriesPerRequest: 3 });
    const groundTruthFile = join(mkdtempSync(join(tmpdir(), 'last-mile-')), 'ground-truth.jsonl');
    const common = { generation, redisUrl, groundTruthFile };
    const [worker, ...started] = await Promise.all([
      startWorker({ ...common, otel: { endpoint, serviceName: 'twenty-worker' } }),
      ...Array.from({ length: servers }, (_, index) => {
        const name = String.fromCharCode('a'.charCodeAt(0) + index);
        return startServer({
          ...common,
          otel: { endpoint, serviceName: `twenty-server-${name}` },
          label: `server ${name}`,
        });
      }),
    ]);
    const client = await startTwentyLikeApp({
      generation,
      mode: 'client',
      url: started[0].url,
      redisUrl,
      groundTruthFile,
    });
    state = {
      receiver,
      redisUrl,
      redis,
      groundTruthFile,
      worker,
      servers: started as ServerProcess[],
      client,
      output: () => [worker, ...started].map((process) => process.output()).join('\n'),
    };
  });
  afterAll(async () => {
    await state?.client.close().catch(() => undefined);
    await stopAllProcesses();
    state?.redis.disconnect();
    await state?.receiver.stop();
  });
  return () => {
    if (!state) throw new Error('the deployment is not started yet');
    return state;
  };
}

/** Latest `twenty.sse.stage.events` per stage|origin|outcome|reason, summed over every process, for the stages the ground truth covers. */
function metricKeys(receiver: OtlpReceiver): Map<string, number> {
  const keys = new Map<string, number>();
  for (const point of receiver.latestPoints(METRIC.STAGE_EVENTS)) {
    const stage = point.attributes[ATTR.STAGE] as string;
    const outcome = point.attributes[ATTR.OUTCOME] as string;
    const relevant =
      stage === 'stream' ||
      stage === 'pubsub' ||
      (outcome === 'dropped' && (stage === 'fanout' || stage === 'workflow_step'));
    if (!relevant || point.value === 0) continue;
    const key = `${stage}|${point.attributes[ATTR.ORIGIN]}|${outcome}|${point.attributes[ATTR.DROP_REASON] ?? ''}`;
    keys.set(key, (keys.get(key) ?? 0) + point.value);
  }
  return keys;
}

function groundTruthAllKeys(records: GroundTruthRecord[]): Map<string, number> {
  const keys = groundTruthKeys(records);
  for (const [key, count] of expectedPubsubKeys(records)) keys.set(key, (keys.get(key) ?? 0) + count);
  return keys;
}

/** Waits until the exported counters of every process equal the ground truth (exports run every 500 ms). */
async function expectCountersEqualGroundTruth(deployment: LastMileDeployment): Promise<Map<string, number>> {
  await deployment.client.settle({ quietMs: 300 });
  const truth = groundTruthAllKeys(deployment.client.readGroundTruth());
  await pollUntil(
    () => metricKeys(deployment.receiver),
    (keys) => JSON.stringify(sorted(keys)) === JSON.stringify(sorted(truth)),
    {
      timeoutMs: 15_000,
      what: 'the exported stream and pubsub counters to equal the ground truth',
      describe: (keys) => `\nexported: ${JSON.stringify(sorted(keys))}\ntruth:    ${JSON.stringify(sorted(truth))}`,
    },
  );
  expect(sorted(metricKeys(deployment.receiver))).toEqual(sorted(truth));
  return truth;
}

const noLiveConnection = (receiver: OtlpReceiver, origin: string) =>
  receiver.latestSum(METRIC.STAGE_EVENTS, {
    [ATTR.STAGE]: 'pubsub',
    [ATTR.ORIGIN]: origin,
    [ATTR.DROP_REASON]: 'no_live_connection',
  });

async function numsub(redis: IORedis, channel: string): Promise<number> {
  return Number(((await redis.pubsub('NUMSUB', channel)) as [string, number])[1]);
}

describe('last mile, generation publisher: a tab that went away without its stream being cleaned up', () => {
  const deployment = useLastMileDeployment('publisher', 8, 2);
  const COMPANIES = 12;
  let workspaceId: string;
  let token: string;
  let companies: { id: string }[];
  let tab1: SseStream; // on server a, open throughout
  let tab2: SseStream; // on server b, closed for good when b dies
  let tab3: SseStream; // on server b, comes back on server a
  let next = 0;
  const nextCompany = () => companies[next++].id;

  const uiUpdate = () =>
    deployment().client.ui.updateRecord({
      token,
      objectNameSingular: 'company',
      id: nextCompany(),
      data: { name: `ui ${next}` },
    });
  const workflowUpdate = async () => {
    const { client } = deployment();
    const run = await client.workflows.runAutomatic({
      workspaceId,
      steps: [client.workflows.steps.updateRecord('company', nextCompany(), { name: `workflow ${next}` })],
    });
    expect(run.status).toBe('COMPLETED');
  };
  const watchCompanies = (stream: SseStream) =>
    stream.addQuery({ queryId: 'companies', operationSignature: { objectNameSingular: 'company' } });

  beforeAll(async () => {
    const { client, servers } = deployment();
    ({ workspaceId } = await client.seed.workspace());
    ({ token } = await client.seed.user({ workspaceId }));
    companies = [];
    for (let index = 0; index < COMPANIES; index++) {
      companies.push(
        await client.seed.record({
          workspaceId,
          objectNameSingular: 'company',
          data: { name: `company ${index}`, stage: 'LEAD' },
        }),
      );
    }
    tab1 = await client.streams.open({ token, serverUrl: servers[0].url });
    tab2 = await client.streams.open({ token, serverUrl: servers[1].url });
    tab3 = await client.streams.open({ token, serverUrl: servers[1].url });
    for (const tab of [tab1, tab2, tab3]) expect(await watchCompanies(tab)).toBe(true);
  });

  it('while every tab is live, every publish reaches a subscriber', async () => {
    await uiUpdate();
    await workflowUpdate();
    for (const tab of [tab1, tab2, tab3]) await tab.waitForEvents((events) => events.length >= 2);
    await expectCountersEqualGroundTruth(deployment());
    expect(noLiveConnection(deployment().receiver, 'ui') + noLiveConnection(deployment().receiver, 'workflow')).toBe(0);
  });

  it('after the server holding two tabs dies, exactly the events sent meanwhile to their streams are no_live_connection', async () => {
    const { client, servers, redis, receiver } = deployment();
    const killed = servers[1];
    killed.child.kill('SIGKILL');
    await killed.exited;
    tab2.close();
    tab3.close();
    // nobody cleaned up: both streams are still registered, nobody listens to them
    const active = await client.streams.getActiveStreamIds(workspaceId);
    for (const tab of [tab2, tab3]) {
      expect(active).toContain(tab.channelId);
      expect(await numsub(redis, `EVENT_STREAM_CHANNEL:${workspaceId}:${tab.channelId}`)).toBe(0);
    }

    const uiSent = 3;
    const workflowSent = 2;
    for (let i = 0; i < uiSent; i++) await uiUpdate();
    for (let i = 0; i < workflowSent; i++) await workflowUpdate();
    await tab1.waitForEvents((events) => events.length >= 2 + uiSent + workflowSent);

    await expectCountersEqualGroundTruth(deployment());
    // one publish per event and dead stream, nothing else
    expect(noLiveConnection(receiver, 'ui')).toBe(uiSent * 2);
    expect(noLiveConnection(receiver, 'workflow')).toBe(workflowSent * 2);
    const deadChannels = new Set([tab2.channelId, tab3.channelId]);
    const dropSpans = receiver.spans.filter((span) => span.attributes[ATTR.DROP_REASON] === 'no_live_connection');
    expect(dropSpans.length).toBe((uiSent + workflowSent) * 2);
    for (const span of dropSpans) {
      expect(span.attributes[ATTR.STAGE]).toBe('pubsub');
      expect(span.attributes[ATTR.PUBSUB_SUBSCRIBERS]).toBe(0);
      expect(deadChannels.has(span.attributes[ATTR.STREAM_CHANNEL_ID] as string)).toBe(true);
    }
    expect(
      receiver.spans
        .filter(
          (span) =>
            span.attributes[ATTR.STAGE] === 'pubsub' && span.attributes[ATTR.STREAM_CHANNEL_ID] === tab1.channelId,
        )
        .every((span) => span.attributes[ATTR.PUBSUB_SUBSCRIBERS] === 1),
    ).toBe(true);
  });

  it('a tab coming back on another server is a re-subscription of a registered stream; once the TTL ran out the dead stream gets no more publishes', async () => {
    const { client, servers, receiver } = deployment();
    const before = { ui: noLiveConnection(receiver, 'ui'), workflow: noLiveConnection(receiver, 'workflow') };
    // the browser of tab 3 retries the same stream id; the load balancer sends it to server a
    const back = await client.streams.open({ token, serverUrl: servers[0].url, eventStreamId: tab3.eventStreamId });
    expect(await watchCompanies(back)).toBe(true);
    // tab 2's stream reaches its TTL
    await client.streams.expire({ workspaceId, eventStreamId: tab2.eventStreamId });
    await uiUpdate();
    // the UI event's fan-out removes the expired stream; let it finish before the workflow's fan-out looks
    await client.settle({ quietMs: 300 });
    await workflowUpdate();
    await uiUpdate();
    await back.waitForEvents((events) => events.length >= 3);
    await tab1.waitForEvents((events) => events.length >= 10);

    const truth = await expectCountersEqualGroundTruth(deployment());
    expect(noLiveConnection(receiver, 'ui')).toBe(before.ui);
    expect(noLiveConnection(receiver, 'workflow')).toBe(before.workflow);
    // the first event after the TTL found the expired stream (D2), which then left the active set
    expect([...truth.keys()].filter((key) => key.includes('stream_expired'))).toEqual([
      'stream|ui|dropped|stream_expired',
    ]);
    expect(truth.get('stream|ui|dropped|stream_expired')).toBe(1);
    expect(
      receiver.latestSum(
        METRIC.STREAM_RESUBSCRIPTIONS,
        { [ATTR.RESUBSCRIBE_PREVIOUS]: 'registered' },
        'twenty-server-a',
      ),
    ).toBe(1);
    expect(receiver.latestSum(METRIC.CONNECTIONS_OPENED, {}, 'twenty-server-a')).toBe(2);
    expect(receiver.latestSum(METRIC.CONNECTIONS_ACTIVE, {}, 'twenty-server-a')).toBe(2);
    back.close();
    tab1.close();
  });

  it('stopping the surviving server ends its open connections as server_shutdown, exported before it exits', async () => {
    const { client, servers, receiver } = deployment();
    const lastTab = await client.streams.open({ token, serverUrl: servers[0].url });
    await pollUntil(
      () => receiver.latestSum(METRIC.CONNECTIONS_ACTIVE, {}, 'twenty-server-a'),
      (active) => active === 1,
      { what: 'one open connection on server a' },
    );
    // the example's Nest app waits for open HTTP connections on close; the counts are exported as the signal arrives
    await servers[0].stop(2_000);
    expect(
      receiver.latestSum(METRIC.CONNECTIONS_CLOSED, { [ATTR.CLOSE_REASON]: 'server_shutdown' }, 'twenty-server-a'),
    ).toBe(1);
    expect(
      receiver.latestSum(METRIC.CONNECTIONS_CLOSED, { [ATTR.CLOSE_REASON]: 'client_gone' }, 'twenty-server-a'),
    ).toBe(2);
    expect(receiver.latestSum(METRIC.CONNECTIONS_ACTIVE, {}, 'twenty-server-a')).toBe(0);
    lastTab.close();
  });
});

interface ProxiedConnection {
  acceptedAt: number;
  /** A request came through (the HTTP client may also open a connection it never uses). */
  requested: boolean;
  endedAt?: number;
  cut: boolean;
}

/** A TCP proxy that cuts every connection `cutAfterMs` after accepting it, like a load balancer with a connection time limit. */
async function startCuttingProxy(
  targetPort: number,
  cutAfterMs: number,
): Promise<{ url: string; connections: ProxiedConnection[]; close(): Promise<void> }> {
  const connections: ProxiedConnection[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((downstream) => {
    const record: ProxiedConnection = { acceptedAt: performance.now(), requested: false, cut: false };
    connections.push(record);
    const upstream = connect(targetPort, '127.0.0.1');
    for (const socket of [downstream, upstream]) {
      sockets.add(socket);
      socket.on('error', () => undefined);
    }
    downstream.once('data', () => (record.requested = true));
    downstream.pipe(upstream);
    upstream.pipe(downstream);
    const end = () => {
      clearTimeout(timer);
      record.endedAt ??= performance.now();
      downstream.destroy();
      upstream.destroy();
      sockets.delete(downstream);
      sockets.delete(upstream);
    };
    const timer = setTimeout(() => {
      record.cut = true;
      end();
    }, cutAfterMs);
    downstream.on('close', end);
    upstream.on('close', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    connections,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

describe('last mile, generation v5: a proxy that cuts SSE connections every N seconds', () => {
  const deployment = useLastMileDeployment('v5', 7, 1);
  const CUT_AFTER_MS = 2_000;

  it('shows as N-second lifetimes, one reconnect per cut, and the counters still equal the ground truth', async () => {
    const { client, servers, receiver } = deployment();
    const server = servers[0];
    const { workspaceId } = await client.seed.workspace();
    const { token } = await client.seed.user({ workspaceId });
    const companies: { id: string }[] = [];
    for (let index = 0; index < 40; index++) {
      companies.push(
        await client.seed.record({
          workspaceId,
          objectNameSingular: 'company',
          data: { name: `company ${index}`, stage: 'LEAD' },
        }),
      );
    }
    const proxy = await startCuttingProxy(server.port, CUT_AFTER_MS);
    const eventStreamId = (await import('uuid')).v4();
    const addQuery = () =>
      postGraphql<{ addQueryToEventStream: boolean }>({
        url: server.url,
        token,
        query:
          'mutation AddQueryToEventStream($input: AddQuerySubscriptionInput!) { addQueryToEventStream(input: $input) }',
        variables: {
          input: { eventStreamId, queryId: 'companies', operationSignature: { objectNameSingular: 'company' } },
        },
      });
    // Twenty's front end registers its queries again once the (re)connected stream is ready.
    let registrations = Promise.resolve();
    const registerQueries = async () => {
      for (let attempt = 0; attempt < 50; attempt++) {
        const added = await addQuery().then(
          (result) => result.addQueryToEventStream,
          () => false,
        );
        if (added) return;
        await sleep(20);
      }
    };
    const tab = openSseSubscription({
      url: proxy.url,
      token,
      generation: 'v5',
      eventStreamId,
      reconnect: { retryWaitMs: 100, onConnected: () => (registrations = registrations.then(registerQueries)) },
    });

    try {
      // the user and a colleague keep editing companies through the API server (not through the proxy)
      const runUntil = performance.now() + 3.5 * CUT_AFTER_MS;
      let edited = 0;
      while (performance.now() < runUntil) {
        await client.ui.updateRecord({
          token,
          objectNameSingular: 'company',
          id: companies[edited].id,
          data: { name: `edit ${edited}` },
        });
        edited++;
        await sleep(250);
      }
      // close the tab midway through a fresh connection (1.2 s after it was accepted), before the proxy would cut it
      const current = await pollUntil(
        () => proxy.connections.filter((connection) => connection.requested).pop()!,
        (connection) => connection && !connection.cut && performance.now() - connection.acceptedAt < 800,
        { what: 'a fresh proxied connection', intervalMs: 20 },
      );
      await sleep(Math.max(0, current.acceptedAt + 1_200 - performance.now()));
      expect(current.cut).toBe(false);
      tab.unsubscribe();
      tab.client.dispose();
      await registrations;
      await pollUntil(
        () => current.endedAt,
        (endedAt) => endedAt !== undefined,
        { what: 'the last connection to end' },
      );

      const used = proxy.connections.filter((connection) => connection.requested);
      const total = used.length;
      const cuts = used.filter((connection) => connection.cut).length;
      expect(cuts).toBeGreaterThanOrEqual(3);
      expect(total).toBe(cuts + 1);
      await pollUntil(
        () => receiver.latestSum(METRIC.CONNECTIONS_CLOSED, { [ATTR.CLOSE_REASON]: 'client_gone' }, 'twenty-server-a'),
        (closed) => closed === total,
        {
          what: `${total} connections closed by the client on the server`,
          describe: (closed) => `${closed}\n${deployment().output()}`,
        },
      );
      expect(receiver.latestSum(METRIC.CONNECTIONS_OPENED, {}, 'twenty-server-a')).toBe(total);
      expect(receiver.latestSum(METRIC.CONNECTIONS_ACTIVE, {}, 'twenty-server-a')).toBe(0);
      expect(
        receiver.latestSum(
          METRIC.STREAM_RESUBSCRIPTIONS,
          { [ATTR.RESUBSCRIBE_PREVIOUS]: 'closed_here' },
          'twenty-server-a',
        ),
      ).toBe(cuts);

      // every lifetime lands in the bucket that holds N (1 s, 2.5 s]: the cut ones at N, the last one at 1.2 s
      const [lifetime] = receiver.latestPoints(
        METRIC.CONNECTION_LIFETIME,
        { [ATTR.CLOSE_REASON]: 'client_gone' },
        'twenty-server-a',
      );
      expect(lifetime.count).toBe(total);
      const bounds = lifetime.explicitBounds!;
      const bucketOf = (seconds: number) => bounds.findIndex((bound) => seconds <= bound);
      expect(bucketOf(CUT_AFTER_MS / 1000)).toBe(bucketOf(1.2));
      const expectedBuckets = bounds.map(() => 0).concat(0);
      expectedBuckets[bucketOf(CUT_AFTER_MS / 1000)] = total;
      expect(lifetime.bucketCounts).toEqual(expectedBuckets);
      const proxyLifetimes = used.map((connection) => (connection.endedAt! - connection.acceptedAt) / 1000);
      const proxySum = proxyLifetimes.reduce((sum, seconds) => sum + seconds, 0);
      // the server holds each connection a little less than the proxy does (request parsing, the resolver's Redis calls)
      expect(lifetime.value).toBeLessThanOrEqual(proxySum + 0.1 * total);
      expect(lifetime.value).toBeGreaterThan(proxySum - 0.3 * total);
      expect(edited).toBeGreaterThan(10);
    } finally {
      tab.client.dispose();
      await proxy.close();
    }
    await expectCountersEqualGroundTruth(deployment());
    expect(tab.errors).toEqual([]);
  });
});
