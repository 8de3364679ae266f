import { WORKFLOW_ACTION } from './facts';
import { ClassTarget } from './generation';
import { PROBES } from './rules';

/** The workflow side, in the queue worker (and in a single process with a sync queue). */
export const WORKFLOW_TARGETS: ClassTarget[] = [
  { className: 'RunWorkflowJob', methods: [{ names: ['handle'], role: 'workflow_run' }], optional: true },
  {
    className: 'WorkflowExecutorWorkspaceService',
    methods: [{ names: ['executeStep'], role: 'workflow_step' }],
    optional: true,
  },
  {
    className: 'UpdateRecordWorkflowAction',
    pattern: WORKFLOW_ACTION,
    methods: [{ names: ['execute'], role: 'workflow_action' }],
    optional: true,
  },
];

/** The emitter and the listener, the same in every generation. */
export const EMIT_LISTEN_TARGETS: ClassTarget[] = [
  {
    className: 'WorkspaceEventEmitter',
    methods: [
      { names: ['emitDatabaseBatchEventNow', 'emitDatabaseBatchEvent'], role: 'emit' },
      // PR #25174: inside a workspace transaction the public emit only queues; the private one emits after COMMIT
      { names: ['emitDatabaseBatchEvent'], role: 'emit_deferred', onlyWith: 'emitDatabaseBatchEventNow' },
      {
        names: ['discardDatabaseBatchEventsAfterRollback'],
        role: 'emit_discard',
        onlyWith: 'emitDatabaseBatchEventNow',
      },
      { names: ['clearPendingDatabaseBatchEvents'], role: 'emit_discard', onlyWith: 'emitDatabaseBatchEventNow' },
    ],
  },
  { className: 'EntityEventsToDbListener', methods: [{ names: ['handleEvent', 'handle'], role: 'listen' }] },
];

/** EventStreamService: the active streams and their data (D1, D2, D3). */
export const EVENT_STREAM_SERVICE: ClassTarget = {
  className: 'EventStreamService',
  methods: [
    { names: ['getActiveStreamIds'], role: 'probe', probe: PROBES.activeStreamIds },
    { names: ['getStreamsData'], role: 'probe', probe: PROBES.streamsData },
    { names: ['getStreamData'], role: 'stream_lookup' },
  ],
};

/** SubscriptionService: the event-stream publish and the subscription (and the legacy channel where it exists). */
export function subscriptionService(withLegacyChannel: boolean): ClassTarget {
  return {
    className: 'SubscriptionService',
    methods: [
      { names: ['publishToEventStream'], role: 'pubsub' },
      ...(withLegacyChannel ? [{ names: ['publish'], role: 'legacy_pubsub' as const }] : []),
      { names: ['subscribeToEventStream'], role: 'deliver' },
    ],
  };
}

/**
 * The last mile: the pub/sub client (its publisher's reply is the subscriber
 * count of a publish) and the resolver whose subscription is an SSE
 * connection. The resolver lives only in the API server.
 */
export function lastMileTargets(
  resolverClassName: 'WorkspaceEventEmitterResolver' | 'EventStreamResolver',
): ClassTarget[] {
  return [
    { className: 'RedisClientService', methods: [{ names: ['getPubSubClient'], role: 'pubsub_client' }] },
    {
      className: resolverClassName,
      methods: [{ names: ['onEventSubscription'], role: 'sse_subscribe' }],
      apiServerOnly: true,
    },
  ];
}
