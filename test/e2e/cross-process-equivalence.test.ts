/**
 * What the browser receives does not depend on the package. The same seeded
 * scenario (UI and workflow mutations, three subscribers with different
 * permissions, a raw SSE reader) runs against three deployments of the example
 * app's two real processes on real Redis:
 *   (a) neither process instrumented,
 *   (b) both instrumented (register entry via NODE_OPTIONS),
 *   (c) mixed: only the worker instrumented (the server gets carriers it does
 *       not know about).
 * The SSE messages each subscriber received, after normalizing ids and
 * timestamps, are deeply equal across the three; the reserved carrier key
 * never appears in what goes over the wire.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import IORedis from 'ioredis';

import { startTwentyLikeApp, type SseStream, type TwentyLikeApp } from '../../example/harness';
import { ATTR, CARRIER_KEY, METRIC } from '../../src/semconv';
import { OtlpReceiver } from '../helpers/otlp-receiver';
import {
  type Deployment,
  type Generation,
  pollUntil,
  redisUrlWithDb,
  startDeployment,
  stopAllProcesses,
} from '../helpers/processes';
import { normalizeIdsAndTimes as normalize, openRawSse, type RawSse, waitForSubscriber } from './cross-process-sse';

jest.setTimeout(60_000);

type Variant = 'none' | 'both' | 'worker-only';
const VARIANTS: { variant: Variant; instrumentServer: boolean; instrumentWorker: boolean }[] = [
  { variant: 'none', instrumentServer: false, instrumentWorker: false },
  { variant: 'both', instrumentServer: true, instrumentWorker: true },
  { variant: 'worker-only', instrumentServer: false, instrumentWorker: true },
];

const GENERATIONS: { generation: Generation; firstDb: number }[] = [
  { generation: 'v5', firstDb: 3 },
  { generation: 'publisher', firstDb: 6 },
];

interface ScenarioResult {
  /** Normalized SSE messages per subscriber (admin, restricted, filtered). */
  messages: Record<string, unknown>;
  rawText: string;
  /** The raw subscriber's messages as parsed off the wire, normalized. */
  rawMessages: unknown;
  eventCounts: Record<string, number>;
  errors: unknown[];
}

async function runScenario(
  app: TwentyLikeApp,
  url: string,
  generation: Generation,
  redisUrl: string,
): Promise<ScenarioResult> {
  const redis = new IORedis(redisUrl, { maxRetriesPerRequest: null });
  const streams: Record<string, SseStream> = {};
  let raw: RawSse | undefined;
  try {
    const { workspaceId } = await app.seed.workspace();
    const admin = await app.seed.user({ workspaceId });
    const { roleId: restrictedRoleId } = await app.seed.role({
      workspaceId,
      objects: { company: { restrictedFields: ['annualRecurringRevenue'] } },
    });
    const restricted = await app.seed.user({ workspaceId, roleId: restrictedRoleId });
    const filtered = await app.seed.user({ workspaceId });
    const lead = await app.seed.record({
      workspaceId,
      objectNameSingular: 'company',
      data: { name: 'Lead Co', stage: 'LEAD', annualRecurringRevenue: 10 },
    });
    const won = await app.seed.record({
      workspaceId,
      objectNameSingular: 'company',
      data: { name: 'Won Co', stage: 'WON', annualRecurringRevenue: 20 },
    });
    const person = await app.seed.record({ workspaceId, objectNameSingular: 'person', data: { name: 'Ada' } });

    // One at a time: the order of the subscribers in the workspace's active set is the order they are served in.
    streams.admin = await app.streams.open({ token: admin.token });
    await streams.admin.addQuery({ queryId: 'companies', operationSignature: { objectNameSingular: 'company' } });
    await streams.admin.addQuery({ queryId: 'people', operationSignature: { objectNameSingular: 'person' } });
    streams.restricted = await app.streams.open({ token: restricted.token });
    await streams.restricted.addQuery({ queryId: 'companies', operationSignature: { objectNameSingular: 'company' } });
    streams.filtered = await app.streams.open({ token: filtered.token });
    await streams.filtered.addQuery({
      queryId: 'lead-companies',
      operationSignature: { objectNameSingular: 'company', variables: { filter: { stage: { eq: 'LEAD' } } } },
    });
    // a fourth subscriber read byte for byte off the wire
    const rawStreamId = '00000000-0000-4000-8000-000000000001';
    raw = openRawSse({ url, token: admin.token, generation, eventStreamId: rawStreamId, workspaceId });
    await waitForSubscriber(redis, raw.redisChannel);
    await app.streams.addQuery({
      eventStreamId: rawStreamId,
      workspaceId,
      queryId: 'companies',
      operationSignature: { objectNameSingular: 'company' },
    });

    const all = [streams.admin, streams.restricted, streams.filtered];
    let adminEvents = 0;
    /**
     * After each step: the admin subscriber (who sees every company and person event) got the step's `events`,
     * the ground truth both processes write went quiet, and every event it says was forwarded reached its
     * subscriber. So each subscriber's messages come in the same order in every deployment.
     */
    const settleStep = async (events = 1) => {
      adminEvents += events;
      await streams.admin.waitForEvents((received) => received.length >= adminEvents, 10_000);
      await app.settle({ quietMs: 200, timeoutMs: 10_000 });
      const forwarded = app.readGroundTruth().filter((r) => r.workspaceId === workspaceId && r.kind === 'forwarded');
      for (const stream of all) {
        const expected = forwarded
          .filter((r) => 'streamChannelId' in r && r.streamChannelId === stream.channelId)
          .reduce((sum, r) => sum + r.count, 0);
        await stream.waitForEvents((received) => received.length >= expected, 10_000);
      }
    };
    const steps = app.workflows.steps;

    await app.ui.updateRecord({
      token: admin.token,
      objectNameSingular: 'companies',
      id: lead.id,
      data: { name: 'Lead Co 2' },
    });
    await settleStep();
    await app.ui.updateRecord({
      token: admin.token,
      objectNameSingular: 'companies',
      id: lead.id,
      data: { annualRecurringRevenue: 11 },
    });
    await settleStep();
    await app.workflows.runAutomatic({
      workspaceId,
      steps: [steps.updateRecord('company', won.id, { name: 'Won Co WF' }, '10000000-0000-4000-8000-000000000001')],
    });
    await settleStep();
    // leaves the filtered subscriber's filter
    await app.workflows.runAutomatic({
      workspaceId,
      steps: [steps.updateRecord('company', lead.id, { stage: 'WON' }, '10000000-0000-4000-8000-000000000002')],
    });
    await settleStep();
    await app.ui.createRecord({
      token: admin.token,
      objectNameSingular: 'companies',
      data: { name: 'New UI Co', stage: 'LEAD', annualRecurringRevenue: 5 },
    });
    await settleStep();
    await app.workflows.runAutomatic({
      workspaceId,
      steps: [
        steps.createRecord('company', { name: 'New WF Co', stage: 'LEAD' }, '10000000-0000-4000-8000-000000000003'),
        steps.updateRecord('person', person.id, { name: 'Ada L.' }, '10000000-0000-4000-8000-000000000004'),
      ],
    });
    await settleStep(2);
    await app.ui.deleteRecord({ token: admin.token, objectNameSingular: 'companies', id: won.id });
    await settleStep();
    await app.ui.restoreRecord({ token: admin.token, objectNameSingular: 'companies', id: won.id });
    await settleStep();
    await app.workflows.runManual({
      workspaceId,
      workspaceMemberId: admin.workspaceMemberId,
      steps: [
        steps.updateRecord(
          'company',
          won.id,
          { stage: 'LEAD', annualRecurringRevenue: 21 },
          '10000000-0000-4000-8000-000000000005',
        ),
      ],
    });
    await settleStep();
    await app.workflows.runAutomatic({
      workspaceId,
      steps: [
        steps.upsertRecord(
          'company',
          { id: lead.id, name: 'Lead Co upserted' },
          '10000000-0000-4000-8000-000000000006',
        ),
      ],
    });
    await settleStep();
    await app.workflows.runAutomatic({
      workspaceId,
      steps: [steps.deleteRecord('company', won.id, '10000000-0000-4000-8000-000000000007')],
    });
    await settleStep();
    await app.ui.destroyRecord({ token: admin.token, objectNameSingular: 'people', id: person.id });
    await settleStep();
    // the raw reader got every company event forwarded to it
    const rawExpected = app
      .readGroundTruth()
      .filter(
        (r) =>
          r.workspaceId === workspaceId &&
          r.kind === 'forwarded' &&
          'streamChannelId' in r &&
          r.streamChannelId === raw!.channelId,
      )
      .reduce((sum, r) => sum + r.count, 0);
    const rawEvents = () =>
      (raw!.messages() as { data?: { onEventSubscription?: Record<string, unknown[] | undefined> } }[]).reduce(
        (sum, message) => {
          const payload = message.data?.onEventSubscription;
          return sum + (payload?.eventWithQueryIdsList ?? payload?.objectRecordEventsWithQueryIds ?? []).length;
        },
        0,
      );
    await pollUntil(rawEvents, (n) => n >= rawExpected, { what: `the raw subscriber's ${rawExpected} events` });
    expect(rawEvents()).toBe(rawExpected);

    const ids = new Map<string, string>();
    // seeded principals and records first, so their placeholders do not depend on message order
    for (const id of [
      workspaceId,
      admin.userId,
      admin.workspaceMemberId,
      restricted.userId,
      filtered.userId,
      lead.id,
      won.id,
      person.id,
    ])
      normalize(id, ids);
    const messages: Record<string, unknown> = {};
    const eventCounts: Record<string, number> = {};
    const errors: unknown[] = [];
    for (const [name, stream] of Object.entries(streams)) {
      messages[name] = normalize(stream.messages, ids);
      eventCounts[name] = stream.events().length;
      errors.push(...stream.errors);
    }
    return { messages, rawText: raw.text(), rawMessages: normalize(raw.messages(), ids), eventCounts, errors };
  } finally {
    raw?.close();
    for (const stream of Object.values(streams)) stream.close();
    redis.disconnect();
  }
}

describe.each(GENERATIONS)(
  'SSE output with and without the package, generation $generation',
  ({ generation, firstDb }) => {
    const receiver = new OtlpReceiver();
    const results = new Map<Variant, ScenarioResult>();
    const deployments: Deployment[] = [];
    const clients: TwentyLikeApp[] = [];

    beforeAll(async () => {
      const endpoint = await receiver.start();
      // the three deployments side by side, each on its own Redis database (own job queue)
      const outcomes = await Promise.allSettled(
        VARIANTS.map(async ({ variant, instrumentServer, instrumentWorker }, index) => {
          const redisUrl = redisUrlWithDb(firstDb + index);
          const groundTruthFile = join(
            mkdtempSync(join(tmpdir(), `cross-process-eq-${variant}-`)),
            'ground-truth.jsonl',
          );
          const deployment = await startDeployment({
            generation,
            redisUrl,
            otlpEndpoint: endpoint,
            instrumentServer,
            instrumentWorker,
            groundTruthFile,
            labelPrefix: variant,
          });
          deployments.push(deployment);
          const client = await startTwentyLikeApp({
            generation,
            mode: 'client',
            url: deployment.url,
            redisUrl,
            groundTruthFile,
          });
          clients.push(client);
          results.set(variant, await runScenario(client, deployment.url, generation, redisUrl));
        }),
      );
      // all settled first, so afterAll stops every process that was started
      const failed = outcomes.find((outcome): outcome is PromiseRejectedResult => outcome.status === 'rejected');
      if (failed) throw failed.reason;
    });

    afterAll(async () => {
      await Promise.allSettled(clients.map((client) => client.close()));
      await Promise.allSettled(deployments.map((deployment) => deployment.stop()));
      await stopAllProcesses();
      await receiver.stop();
    });

    it('the scenario delivered events to every subscriber, without errors', () => {
      const none = results.get('none')!;
      expect(none.errors).toEqual([]);
      // admin sees every company and person event; the restricted and filtered subscribers see fewer
      expect(none.eventCounts.admin).toBe(13);
      expect(none.eventCounts.restricted).toBeGreaterThan(0);
      expect(none.eventCounts.restricted).toBeLessThan(none.eventCounts.admin);
      expect(none.eventCounts.filtered).toBeGreaterThan(0);
      expect(none.eventCounts.filtered).toBeLessThan(none.eventCounts.restricted);
    });

    it.each(['both', 'worker-only'] as const)(
      'instrumented (%s): the SSE messages equal the uninstrumented ones',
      (variant) => {
        const none = results.get('none')!;
        const other = results.get(variant)!;
        expect(other.errors).toEqual([]);
        expect(other.eventCounts).toEqual(none.eventCounts);
        expect(other.messages).toEqual(none.messages);
        expect(other.rawMessages).toEqual(none.rawMessages);
      },
    );

    it('the reserved carrier key never reaches the client, whatever is instrumented', () => {
      for (const variant of ['none', 'both', 'worker-only'] as const) {
        const result = results.get(variant)!;
        expect(result.rawText).toMatch(/event: next/);
        expect(result.rawText).not.toContain(CARRIER_KEY);
        expect(JSON.stringify(result.messages)).not.toContain(CARRIER_KEY);
      }
    });

    it('the instrumented processes really carried context: carriers were published and (when instrumented) delivered', async () => {
      const published = await pollUntil(
        () =>
          receiver.latestSum(
            METRIC.STAGE_EVENTS,
            { [ATTR.STAGE]: 'pubsub', [ATTR.ORIGIN]: 'workflow' },
            'twenty-worker',
          ),
        (n) => n > 0,
        { what: 'pubsub counts from the instrumented workers' },
      );
      expect(published).toBeGreaterThan(0);
      const delivered = await pollUntil(
        () =>
          receiver.latestSum(
            METRIC.STAGE_EVENTS,
            { [ATTR.STAGE]: 'deliver', [ATTR.OUTCOME]: 'forwarded' },
            'twenty-server',
          ),
        (n) => n > 0,
        { what: 'deliver counts from the instrumented server' },
      );
      expect(delivered).toBeGreaterThan(0);
    });
  },
);
