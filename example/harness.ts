import { readFileSync } from 'node:fs';

import { type INestApplication, type INestApplicationContext } from '@nestjs/common';

import { v4 } from 'uuid';

import { bootstrapApiServer, bootstrapQueueWorker } from './app/bootstrap';
import {
  DEFAULT_GENERATION,
  type ExampleConfig,
  type ExampleProcessName,
  type TwentyGeneration,
} from './app/example-config';
import { GroundTruth, readGroundTruthFile, type GroundTruthRecord } from './app/ground-truth';
import { ExampleMutationsService } from './app/rest/example-mutations.service';
import { ExampleSeedService } from './app/seed/example-seed.service';
import {
  flattenDeliveredEvents,
  openSseSubscription,
  postGraphql,
  type DeliveredObjectRecordEvent,
  type SseSubscription,
} from './sse-client';
import { ProcessNestedRelationsHelper } from './twenty/engine/api/common/process-nested-relations.helper';
import { GlobalWorkspaceOrmManager } from './twenty/engine/twenty-orm/global-workspace-orm.manager';
import { TimelineActivityRoutingPlanService } from './twenty/modules/timeline/services/timeline-activity-routing-plan.service';
import {
  type AuthTokenPayload,
  AuthTokenService,
  toWorkspaceAuthContext,
} from './twenty/engine/core-modules/auth/auth-token.service';
import {
  type SerializableAuthContext,
  type WorkspaceAuthContext,
} from './twenty/engine/core-modules/auth/types/auth-context.type';
import { CacheStorageNamespace } from './twenty/engine/core-modules/cache-storage/cache-storage-namespace.enum';
import {
  type CacheStorageService,
  getCacheStorageToken,
} from './twenty/engine/core-modules/cache-storage/cache-storage.service';
import { RedisClientService } from './twenty/engine/core-modules/redis-client/redis-client.service';
import { type EventStreamService } from './twenty/engine/subscriptions/event-stream.service';
import { getEventStreamRedisChannel } from './twenty/engine/subscriptions/subscription.service';
import { eventStreamIdToChannelId } from './twenty/engine/subscriptions/utils/get-channel-id-from-event-stream-id';
import { type ObjectRecord } from './twenty/engine/twenty-orm/workspace-record-store';
import { loadGeneration } from './twenty/generations/load-generation';
import { type RecordGqlOperationSignature } from './twenty/twenty-shared/types';
import {
  type WorkflowAction,
  WorkflowActionType,
  type WorkflowRunStepInfos,
} from './twenty/modules/workflow/common/workflow.types';

export { CURRENT_WORKSPACE_MEMBER_ID } from './app/seed/example-seed.service';
export type { GroundTruthRecord } from './app/ground-truth';
export type { DeliveredObjectRecordEvent } from './sse-client';
export { readGroundTruthFile };

export type StartTwentyLikeAppOptions = {
  generation?: TwentyGeneration;
  // single: API server + in-process (sync) workflow queue; server / worker:
  // the two Twenty processes, which need Redis to share state and the queue;
  // client: seed / mutate / subscribe against processes started elsewhere
  // (e.g. `node --require <register> dist/example/app/main.js`), given `url`.
  mode?: ExampleProcessName;
  redisUrl?: string;
  // client mode: the external API server, e.g. http://127.0.0.1:3000
  url?: string;
  // API server port (single / server); 0 picks a free one.
  port?: number;
  groundTruthFile?: string;
  emitWorkflowRunEvents?: boolean;
};

type AuthInput = { token?: string; authContext?: WorkspaceAuthContext };

// With several API servers on one Redis: the one a REST mutation or an SSE
// stream goes to (default: the app's `url`).
type ServerInput = { serverUrl?: string };

export type UiMutationInput = AuthInput &
  ServerInput & {
    objectNameSingular: string;
    id?: string;
    data?: Record<string, unknown>;
  };

export type WorkflowRunResult = {
  workflowRunId: string;
  status: string;
  stepInfos: WorkflowRunStepInfos;
};

export type SseStream = {
  eventStreamId: string;
  channelId: string;
  workspaceId: string;
  token: string;
  // data.onEventSubscription of every SSE message, initial value included.
  messages: SseSubscription['messages'];
  receivedAt: SseSubscription['receivedAt'];
  errors: unknown[];
  events: () => DeliveredObjectRecordEvent[];
  waitForEvents: (
    predicate: (events: DeliveredObjectRecordEvent[]) => boolean,
    timeoutMs?: number,
  ) => Promise<DeliveredObjectRecordEvent[]>;
  addQuery: (input: { queryId: string; operationSignature: RecordGqlOperationSignature }) => Promise<boolean>;
  removeQuery: (input: { queryId: string }) => Promise<boolean>;
  close: () => void;
};

export type StreamState = {
  eventStreamId: string;
  channelId: string;
  workspaceId: string;
  // Payloads published to the stream's channel (only with `listen: true`).
  published: unknown[];
  stopListening: () => Promise<void>;
};

export type TwentyLikeApp = {
  generation: TwentyGeneration;
  mode: ExampleProcessName;
  config: ExampleConfig;
  app: INestApplication | INestApplicationContext;
  url?: string;
  seed: ExampleSeedService;
  ui: {
    createRecord: (input: UiMutationInput) => Promise<ObjectRecord | null>;
    updateRecord: (input: UiMutationInput & { id: string }) => Promise<ObjectRecord | null>;
    deleteRecord: (input: UiMutationInput & { id: string }) => Promise<ObjectRecord | null>;
    restoreRecord: (input: UiMutationInput & { id: string }) => Promise<ObjectRecord | null>;
    destroyRecord: (input: UiMutationInput & { id: string }) => Promise<ObjectRecord | null>;
  };
  workflows: {
    runAutomatic: (input: {
      workspaceId: string;
      steps: WorkflowAction[];
      wait?: boolean;
    }) => Promise<WorkflowRunResult>;
    runManual: (input: {
      workspaceId: string;
      workspaceMemberId: string;
      steps: WorkflowAction[];
      wait?: boolean;
    }) => Promise<WorkflowRunResult>;
    steps: typeof workflowSteps;
  };
  streams: {
    open: (
      input: AuthInput & ServerInput & { workspaceId?: string; eventStreamId?: string; timeoutMs?: number },
    ) => Promise<SseStream>;
    addQuery: (input: {
      eventStreamId: string;
      queryId: string;
      operationSignature: RecordGqlOperationSignature;
      workspaceId?: string;
    }) => Promise<boolean>;
    createStreamState: (input: {
      workspaceId: string;
      authContext: SerializableAuthContext;
      eventStreamId?: string;
      queries?: Record<string, RecordGqlOperationSignature>;
      listen?: boolean;
    }) => Promise<StreamState>;
    expire: (input: { workspaceId: string; eventStreamId: string }) => Promise<void>;
    destroy: (input: { workspaceId: string; eventStreamId: string }) => Promise<void>;
    getActiveStreamIds: (workspaceId: string) => Promise<string[]>;
  };
  faults: {
    failEnrichment: (times?: number) => void;
    // The next workspace-transaction COMMITs fail (rollback): where events wait for COMMIT they are discarded.
    failNextCommits: (times?: number) => void;
    // The newest listener's await before publish throws (September 2026 generations only).
    failListenerPrecheck: (times?: number) => void;
  };
  groundTruth: GroundTruth;
  // In-process records plus, when a file is set, those other processes appended.
  readGroundTruth: () => GroundTruthRecord[];
  // Resolves once no ground-truth record has appeared for `quietMs`.
  settle: (options?: { quietMs?: number; timeoutMs?: number }) => Promise<void>;
  close: () => Promise<void>;
};

export const workflowSteps = {
  createRecord: (objectName: string, objectRecord: Record<string, unknown>, id = v4()): WorkflowAction => ({
    id,
    type: WorkflowActionType.CREATE_RECORD,
    settings: { input: { objectName, objectRecord } },
  }),
  updateRecord: (
    objectName: string,
    objectRecordId: string,
    objectRecord: Record<string, unknown>,
    id = v4(),
  ): WorkflowAction => ({
    id,
    type: WorkflowActionType.UPDATE_RECORD,
    settings: {
      input: { objectName, objectRecordId, objectRecord, fieldsToUpdate: Object.keys(objectRecord) },
    },
  }),
  deleteRecord: (objectName: string, objectRecordId: string, id = v4()): WorkflowAction => ({
    id,
    type: WorkflowActionType.DELETE_RECORD,
    settings: { input: { objectName, objectRecordId } },
  }),
  upsertRecord: (objectName: string, objectRecord: Record<string, unknown>, id = v4()): WorkflowAction => ({
    id,
    type: WorkflowActionType.UPSERT_RECORD,
    settings: { input: { objectName, objectRecord } },
  }),
};

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const waitUntil = async (condition: () => Promise<boolean> | boolean, timeoutMs: number, what: string) => {
  const deadline = Date.now() + timeoutMs;

  while (!(await condition())) {
    if (Date.now() > deadline) {
      throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    }
    await sleep(10);
  }
};

export const startTwentyLikeApp = async (options: StartTwentyLikeAppOptions = {}): Promise<TwentyLikeApp> => {
  const generation = options.generation ?? DEFAULT_GENERATION;
  const mode = options.mode ?? 'single';

  if (mode !== 'single' && !options.redisUrl) {
    throw new Error(`mode "${mode}" needs redisUrl: the server and the worker share Redis`);
  }

  const config: ExampleConfig = {
    generation,
    processName: mode,
    redisUrl: options.redisUrl,
    messageQueueType: mode === 'single' ? 'sync' : 'redis',
    // A client only reads the file the Twenty-like processes append to.
    groundTruthFile: mode === 'client' ? undefined : options.groundTruthFile,
    emitWorkflowRunEvents: options.emitWorkflowRunEvents ?? false,
  };

  let app: INestApplication | INestApplicationContext;
  let url: string | undefined;

  if (mode === 'worker' || mode === 'client') {
    app = await bootstrapQueueWorker(config);
    url = mode === 'client' ? options.url : undefined;
    if (mode === 'client' && !url) {
      throw new Error('mode "client" needs the url of the running API server');
    }
  } else {
    const httpApp = await bootstrapApiServer(config, { port: options.port ?? 0 });
    const address = httpApp.getHttpServer().address() as { port: number };

    app = httpApp;
    url = `http://127.0.0.1:${address.port}`;
  }

  const generationParts = loadGeneration(generation);
  const seed = app.get(ExampleSeedService);
  const mutations = app.get(ExampleMutationsService);
  const authTokenService = app.get(AuthTokenService);
  const redisClientService = app.get(RedisClientService);
  const eventStreamService = app.get(generationParts.eventStreamServiceClass) as EventStreamService;
  const subscriptionsCache = app.get<CacheStorageService>(
    getCacheStorageToken(CacheStorageNamespace.EngineSubscriptions),
  );
  const groundTruth = app.get(GroundTruth);
  const openStreams = new Map<string, SseStream>();
  const listeners: StreamState[] = [];

  const resolveAuthContext = async ({ token, authContext }: AuthInput): Promise<WorkspaceAuthContext> => {
    if (authContext) {
      return authContext;
    }
    const payload = token ? await authTokenService.resolveToken(token) : undefined;

    if (!payload) {
      throw new Error('Pass a valid token or an authContext');
    }

    return toWorkspaceAuthContext(payload);
  };

  const tokenFor = async ({ token, authContext }: AuthInput): Promise<string> => {
    if (token) {
      return token;
    }
    if (!authContext) {
      throw new Error('Pass a token or an authContext');
    }
    const payload: AuthTokenPayload = {
      workspaceId: authContext.workspace.id,
      userId: authContext.user?.id,
      userWorkspaceId: authContext.userWorkspaceId,
      workspaceMemberId: authContext.workspaceMemberId,
      apiKeyId: authContext.apiKey?.id,
      applicationId: authContext.viaApplication?.id ?? authContext.application?.id,
    };

    return authTokenService.issueToken(payload);
  };

  const REST_ROUTES = {
    create: { method: 'POST', path: (plural: string) => `/rest/${plural}` },
    update: { method: 'PATCH', path: (plural: string, id?: string) => `/rest/${plural}/${id}` },
    delete: { method: 'DELETE', path: (plural: string, id?: string) => `/rest/${plural}/${id}` },
    restore: { method: 'POST', path: (plural: string, id?: string) => `/rest/${plural}/${id}/restore` },
    destroy: { method: 'DELETE', path: (plural: string, id?: string) => `/rest/${plural}/${id}/destroy` },
  } as const;

  // With a token and an HTTP server the mutation goes over REST, like a browser.
  const mutateRecord =
    (mutation: keyof typeof REST_ROUTES) =>
    async (input: UiMutationInput): Promise<ObjectRecord | null> => {
      // A client must not emit events itself: it always goes through the server.
      const token = input.token ?? (mode === 'client' ? await tokenFor(input) : undefined);
      const serverUrl = input.serverUrl ?? url;

      if (token && serverUrl) {
        const route = REST_ROUTES[mutation];
        const response = await fetch(`${serverUrl}${route.path(input.objectNameSingular, input.id)}`, {
          method: route.method,
          headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
          ...(route.method !== 'DELETE' && {
            body: JSON.stringify({ ...(input.data ?? {}), ...(input.id && { id: input.id }) }),
          }),
        });
        const body = (await response.json()) as { data?: ObjectRecord | null; message?: string };

        if (!response.ok) {
          throw new Error(`REST ${mutation} failed (${response.status}): ${body.message ?? ''}`);
        }

        return body.data ?? null;
      }

      return mutations.mutateRecord({
        mutation,
        authContext: await resolveAuthContext(input),
        objectNameSingular: input.objectNameSingular,
        id: input.id,
        data: input.data,
      });
    };

  const runWorkflow = async ({
    workspaceId,
    steps,
    manual,
    workspaceMemberId,
    wait = true,
  }: {
    workspaceId: string;
    steps: WorkflowAction[];
    manual: boolean;
    workspaceMemberId?: string;
    wait?: boolean;
  }): Promise<WorkflowRunResult> => {
    const { workflowRunId } = await mutations.runWorkflow({ workspaceId, steps, manual, workspaceMemberId });
    const workflowRun = wait
      ? await mutations.waitForWorkflowRun({ workspaceId, workflowRunId })
      : await mutations.getWorkflowRun({ workspaceId, workflowRunId });

    return { workflowRunId, status: workflowRun.status, stepInfos: workflowRun.state.stepInfos };
  };

  const addQueryInProcess = async ({
    workspaceId,
    eventStreamId,
    queryId,
    operationSignature,
  }: {
    workspaceId: string;
    eventStreamId: string;
    queryId: string;
    operationSignature: RecordGqlOperationSignature;
  }) => {
    await eventStreamService.addQuery({
      workspaceId,
      eventStreamChannelId: eventStreamIdToChannelId(eventStreamId),
      queryId,
      operationSignature,
    });

    return true;
  };

  const openStream: TwentyLikeApp['streams']['open'] = async (input) => {
    const serverUrl = input.serverUrl ?? url;

    if (!serverUrl) {
      throw new Error('streams.open needs the API server (mode single or server)');
    }
    const token = await tokenFor(input);
    const workspaceId = input.workspaceId ?? (await resolveAuthContext({ token })).workspace.id;
    const eventStreamId = input.eventStreamId ?? v4();
    const channelId = eventStreamIdToChannelId(eventStreamId);
    const timeoutMs = input.timeoutMs ?? 5000;
    const subscription = openSseSubscription({ url: serverUrl, token, generation, eventStreamId });
    const redisChannel = getEventStreamRedisChannel(workspaceId, channelId);

    // Ready once the resolver created the stream and the Redis iterator subscribed.
    await waitUntil(
      async () => {
        if (subscription.errors.length > 0) {
          throw new Error(`SSE subscription failed: ${JSON.stringify(subscription.errors[0])}`);
        }

        return (
          (await eventStreamService.getStreamData(workspaceId, channelId)) !== undefined &&
          (await redisClientService.countChannelSubscribers(redisChannel)) > 0
        );
      },
      timeoutMs,
      `event stream ${eventStreamId} to be subscribed`,
    );

    const callMutation = (query: string, variables: Record<string, unknown>) =>
      postGraphql<Record<string, boolean>>({ url: serverUrl, token, query, variables });

    const stream: SseStream = {
      eventStreamId,
      channelId,
      workspaceId,
      token,
      messages: subscription.messages,
      receivedAt: subscription.receivedAt,
      errors: subscription.errors,
      events: () => flattenDeliveredEvents(subscription.messages),
      waitForEvents: async (predicate, waitTimeoutMs = 5000) => {
        await waitUntil(() => predicate(stream.events()), waitTimeoutMs, 'SSE events');

        return stream.events();
      },
      addQuery: async ({ queryId, operationSignature }) =>
        (
          await callMutation(
            'mutation AddQueryToEventStream($input: AddQuerySubscriptionInput!) { addQueryToEventStream(input: $input) }',
            { input: { eventStreamId, queryId, operationSignature } },
          )
        ).addQueryToEventStream,
      removeQuery: async ({ queryId }) =>
        (
          await callMutation(
            'mutation RemoveQueryFromEventStream($input: RemoveQueryFromEventStreamInput!) { removeQueryFromEventStream(input: $input) }',
            { input: { eventStreamId, queryId } },
          )
        ).removeQueryFromEventStream,
      close: () => {
        subscription.unsubscribe();
        subscription.client.dispose();
        openStreams.delete(eventStreamId);
      },
    };

    openStreams.set(eventStreamId, stream);

    return stream;
  };

  const createStreamState: TwentyLikeApp['streams']['createStreamState'] = async ({
    workspaceId,
    authContext,
    eventStreamId = v4(),
    queries = {},
    listen = false,
  }) => {
    const channelId = eventStreamIdToChannelId(eventStreamId);

    await eventStreamService.createEventStream({ workspaceId, eventStreamChannelId: channelId, authContext });
    for (const [queryId, operationSignature] of Object.entries(queries)) {
      await addQueryInProcess({ workspaceId, eventStreamId, queryId, operationSignature });
    }

    const published: unknown[] = [];
    let stopListening = async (): Promise<void> => undefined;

    if (listen) {
      // Straight on the pub/sub client, not through SubscriptionService, so the
      // instrumentation does not count it as an SSE delivery.
      const pubSub = redisClientService.getPubSubClient();
      const subscriptionId = await pubSub.subscribe(
        getEventStreamRedisChannel(workspaceId, channelId),
        (payload: unknown) => published.push(payload),
      );

      stopListening = async () => pubSub.unsubscribe(subscriptionId);
    }

    const state = { eventStreamId, channelId, workspaceId, published, stopListening };

    listeners.push(state);

    return state;
  };

  const readGroundTruth = (): GroundTruthRecord[] => {
    if (!options.groundTruthFile) {
      return [...groundTruth.records];
    }
    try {
      return readGroundTruthFile(readFileSync(options.groundTruthFile, 'utf8'));
    } catch {
      return [...groundTruth.records];
    }
  };

  return {
    generation,
    mode,
    config,
    app,
    url,
    seed,
    ui: {
      createRecord: mutateRecord('create'),
      updateRecord: mutateRecord('update'),
      deleteRecord: mutateRecord('delete'),
      restoreRecord: mutateRecord('restore'),
      destroyRecord: mutateRecord('destroy'),
    },
    workflows: {
      runAutomatic: ({ workspaceId, steps, wait }) => runWorkflow({ workspaceId, steps, manual: false, wait }),
      runManual: ({ workspaceId, workspaceMemberId, steps, wait }) =>
        runWorkflow({ workspaceId, steps, manual: true, workspaceMemberId, wait }),
      steps: workflowSteps,
    },
    streams: {
      open: openStream,
      addQuery: async ({ eventStreamId, queryId, operationSignature, workspaceId }) => {
        const stream = openStreams.get(eventStreamId);

        if (stream) {
          return stream.addQuery({ queryId, operationSignature });
        }
        if (!workspaceId) {
          throw new Error('workspaceId is required for a stream not opened with streams.open');
        }

        return addQueryInProcess({ workspaceId, eventStreamId, queryId, operationSignature });
      },
      createStreamState,
      // D2: the stream's key disappears while its id stays in the active set.
      expire: ({ workspaceId, eventStreamId }) =>
        subscriptionsCache.del(`eventStream:${workspaceId}:${eventStreamIdToChannelId(eventStreamId)}`),
      destroy: ({ workspaceId, eventStreamId }) =>
        eventStreamService.destroyEventStream({
          workspaceId,
          eventStreamChannelId: eventStreamIdToChannelId(eventStreamId),
        }),
      getActiveStreamIds: (workspaceId) => eventStreamService.getActiveStreamIds(workspaceId),
    },
    faults: {
      failEnrichment: (times = 1) => app.get(ProcessNestedRelationsHelper).failNextCalls(times),
      failNextCommits: (times = 1) => app.get(GlobalWorkspaceOrmManager).failNextCommits(times),
      failListenerPrecheck: (times = 1) =>
        app.get(TimelineActivityRoutingPlanService, { strict: false }).failNextCalls(times),
    },
    groundTruth,
    readGroundTruth,
    settle: async ({ quietMs = 100, timeoutMs = 10_000 } = {}) => {
      const deadline = Date.now() + timeoutMs;
      let lastCount = -1;
      let stableSince = Date.now();

      while (Date.now() < deadline) {
        const count = readGroundTruth().length;

        if (count !== lastCount) {
          lastCount = count;
          stableSince = Date.now();
        } else if (Date.now() - stableSince >= quietMs) {
          return;
        }
        await sleep(10);
      }
    },
    close: async () => {
      for (const stream of [...openStreams.values()]) {
        stream.close();
      }
      for (const listener of listeners) {
        await listener.stopListening();
      }
      await app.close();
    },
  };
};
