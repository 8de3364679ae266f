/**
 * Every name this package emits, in one place. The instrumentation, the
 * dashboard generator, the alert-rule tests, the doctor CLI and the README all
 * read from here, so a rename happens once.
 */
import type * as Semconv from '@opentelemetry/semantic-conventions';

/**
 * A stable OpenTelemetry name, checked by the compiler against the constant
 * of @opentelemetry/semantic-conventions (brought by sdk-node) that it must
 * equal, and by test/unit/semconv.test.ts against the installed package. It
 * is not loaded at run time: the register entry reads this module even when
 * the instrumentation is off, and that path loads nothing else. The messaging
 * names are still in development there (no stable export), so they are
 * spelled plainly.
 */
function stable<K extends keyof typeof Semconv>(_constant: K, name: (typeof Semconv)[K]): (typeof Semconv)[K] {
  return name;
}

/** The stable names used here, by their semantic-conventions constant. */
export const STABLE_NAMES = {
  ATTR_CODE_FUNCTION_NAME: stable('ATTR_CODE_FUNCTION_NAME', 'code.function.name'),
  ATTR_ERROR_TYPE: stable('ATTR_ERROR_TYPE', 'error.type'),
  ATTR_SERVICE_INSTANCE_ID: stable('ATTR_SERVICE_INSTANCE_ID', 'service.instance.id'),
  ATTR_SERVICE_NAME: stable('ATTR_SERVICE_NAME', 'service.name'),
  ATTR_TELEMETRY_DISTRO_NAME: stable('ATTR_TELEMETRY_DISTRO_NAME', 'telemetry.distro.name'),
} as const;
const {
  ATTR_CODE_FUNCTION_NAME,
  ATTR_ERROR_TYPE,
  ATTR_SERVICE_INSTANCE_ID,
  ATTR_SERVICE_NAME,
  ATTR_TELEMETRY_DISTRO_NAME,
} = STABLE_NAMES;

/** Stages of Twenty's SSE record-event pipeline, in pipeline order. */
export const STAGES = [
  'workflow_step',
  'emit',
  'listen',
  'publish',
  'fanout',
  'stream',
  'pubsub',
  'legacy_pubsub',
  'deliver',
] as const;
export type Stage = (typeof STAGES)[number];

export const OUTCOMES = ['forwarded', 'dropped', 'failed'] as const;
export type Outcome = (typeof OUTCOMES)[number];

export const ORIGINS = ['workflow', 'ui', 'api_key', 'application', 'system', 'unknown'] as const;
export type Origin = (typeof ORIGINS)[number];

/**
 * How an on-call engineer should read a drop reason. The alert rules, the
 * dashboard, the doctor and the rule tests all follow this one split:
 * - `filtering`: Twenty doing its job (nobody watches the workspace, the tab
 *   watches another object or filter). Shown, never alarming.
 * - `churn`: routine while it stays a small share of its stage (tabs closing
 *   or reconnecting, workflow updates that change nothing); loss above
 *   `routineShare`, e.g. streams expiring under load.
 * - `loss`: an event a watcher should have had. Counted in the
 *   workflow-versus-UI loss share; a spike alerts on its own.
 * A `failed` outcome is loss at any stage, whatever the reason table says.
 * A new reason is one line in DROP_REASONS: its kind (and routine share)
 * decides the alerts, the dashboard's loss/routine split and the doctor's
 * verdict; the generated rules, dashboard and rule tests follow.
 */
export type DropReasonKind = 'filtering' | 'churn' | 'loss';

interface DropReasonInfo {
  /**
   * The drop condition's short code, the one the README's reason table, the runbook, the doctor and `check`
   * print: D1-D11 for the checks of WorkspaceEventEmitterService and of ObjectRecordEventPublisher up to
   * 009451dc (a prime marks the publisher's variant of a check, D7b its record-share gate), N1-N7 for the
   * September 2026 record-access gate forms, P0 for a Redis publish nobody received, '-' and '?' for none.
   */
  code: string;
  stage: Stage | 'any';
  kind: DropReasonKind;
  /** churn only: the largest share of the stage's units this reason takes on healthy traffic. */
  routineShare?: number;
}

/** Drop reasons, each tied to its drop condition in Twenty's code (by code), the stage where it happens and its kind. */
export const DROP_REASONS = {
  no_active_streams: { code: 'D1', stage: 'fanout', kind: 'filtering' },
  // A tab that vanished without closing (sleep, crash, lost network) costs one batch when its key expires (30 min TTL).
  stream_expired: { code: 'D2', stage: 'stream', kind: 'churn', routineShare: 0.05 },
  // The instant between a tab subscribing and registering its first query.
  stream_without_queries: { code: 'D3', stage: 'stream', kind: 'churn', routineShare: 0.05 },
  subscriber_without_user_workspace: { code: 'D4', stage: 'stream', kind: 'loss' },
  subscriber_without_role: { code: 'D5', stage: 'stream', kind: 'loss' },
  subscriber_application_inactive: { code: "D4'", stage: 'stream', kind: 'loss' },
  object_not_readable: { code: 'D6', stage: 'stream', kind: 'loss' },
  restricted_fields_only: { code: 'D7', stage: 'stream', kind: 'loss' },
  record_share_denied: { code: 'D7b', stage: 'stream', kind: 'loss' },
  record_access_denied: { code: 'N2/N4', stage: 'stream', kind: 'loss' },
  no_matching_query: { code: 'D8', stage: 'stream', kind: 'filtering' },
  // A closed tab's stream keeps getting publishes until its 30 min TTL, a reconnect takes a moment. Judged by
  // TwentySseNoLiveConnection (most publishes reaching nobody while browsers are connected), not the generic churn alert.
  no_live_connection: { code: 'P0', stage: 'pubsub', kind: 'churn', routineShare: 0.5 },
  // A workflow update that writes the values a record already has emits nothing, by design.
  not_emitted: { code: '-', stage: 'workflow_step', kind: 'churn', routineShare: 0.1 },
  unattributed: { code: '?', stage: 'any', kind: 'loss' },
} as const satisfies Record<string, DropReasonInfo>;
export type DropReason = keyof typeof DROP_REASONS;
export const DROP_REASON_NAMES = Object.keys(DROP_REASONS) as DropReason[];

export const dropReasonKind = (reason: DropReason): DropReasonKind => DROP_REASONS[reason].kind;
export const dropReasonsOfKind = (kind: DropReasonKind): DropReason[] =>
  DROP_REASON_NAMES.filter((reason) => dropReasonKind(reason) === kind);
/** Below this many units entering a stage (in an alert window, or the doctor's window), shares are not judged: a quiet night pages nobody. */
export const LOSS_SHARE_MIN_UNITS = 30;
/** How far the workflow share of a stage's units may exceed the UI share before it counts as workflow-specific (0.1 = 10 points). */
export const WORKFLOW_DIVERGENCE_THRESHOLD = 0.1;
/** The routine share of a churn reason (undefined for the other kinds). */
export const routineShareOf = (reason: DropReason): number | undefined =>
  (DROP_REASONS[reason] as DropReasonInfo).routineShare;

export const GENERATIONS = ['v1', 'v5', 'v8', 'publisher', 'record_share', 'record_access'] as const;
export type Generation = (typeof GENERATIONS)[number];

/** Span and metric attribute keys. Metric labels use only the low-cardinality ones. */
export const ATTR = {
  STAGE: 'twenty.sse.stage',
  ORIGIN: 'twenty.sse.origin',
  OUTCOME: 'twenty.sse.outcome',
  DROP_REASON: 'twenty.sse.drop.reason',
  EVENTS_IN: 'twenty.sse.events.in',
  EVENTS_FORWARDED: 'twenty.sse.events.forwarded',
  EVENTS_DROPPED: 'twenty.sse.events.dropped',
  EVENTS_FAILED: 'twenty.sse.events.failed',
  WORKSPACE_ID: 'twenty.workspace.id',
  OBJECT_NAME: 'twenty.object.name',
  EVENT_NAME: 'twenty.event.name',
  EVENT_ACTION: 'twenty.event.action',
  STREAM_CHANNEL_ID: 'twenty.stream.channel_id',
  STREAM_COUNT: 'twenty.stream.count',
  WORKFLOW_RUN_ID: 'twenty.workflow.run_id',
  WORKFLOW_STEP_ID: 'twenty.workflow.step_id',
  WORKFLOW_STEP_TYPE: 'twenty.workflow.step_type',
  GENERATION: 'twenty.generation',
  SUBSCRIBER_USER_WORKSPACE_ID: 'twenty.subscriber.user_workspace.id',
  CODE_FUNCTION: ATTR_CODE_FUNCTION_NAME,
  ERROR_TYPE: ATTR_ERROR_TYPE,
  // messaging semantic conventions (pubsub = PRODUCER, deliver = CONSUMER)
  MESSAGING_SYSTEM: 'messaging.system',
  MESSAGING_OPERATION_NAME: 'messaging.operation.name',
  MESSAGING_OPERATION_TYPE: 'messaging.operation.type',
  MESSAGING_DESTINATION_TEMPLATE: 'messaging.destination.template',
  MESSAGING_BATCH_MESSAGE_COUNT: 'messaging.batch.message_count',
  // attributes of twenty.sse.instrumentation.* metrics
  TARGET_CLASS: 'twenty.sse.target.class',
  TARGET_METHOD: 'twenty.sse.target.method',
  TARGET_STATUS: 'twenty.sse.target.status',
  COMPONENT: 'twenty.sse.component',
  // the last mile: the Redis PUBLISH reply and the SSE connections of the API server
  PUBSUB_SUBSCRIBERS: 'twenty.sse.pubsub.subscribers',
  CLOSE_REASON: 'twenty.sse.connection.close_reason',
  RESUBSCRIBE_PREVIOUS: 'twenty.sse.resubscription.previous',
} as const;

/**
 * Why an SSE connection of an event stream ended, seen from the API server:
 * `client_gone` (the browser, or a proxy between, closed it), `server_shutdown`
 * (the process was asked to stop while it was open), `error` (reading the
 * stream failed, or it ended without the client leaving).
 */
export const CLOSE_REASONS = ['client_gone', 'server_shutdown', 'error'] as const;
export type CloseReason = (typeof CLOSE_REASONS)[number];

/**
 * Where the earlier connection of a re-subscribed stream was: still open on
 * this server (a half-open connection the browser already gave up),
 * closed on this server within RESUBSCRIBE_WINDOW_SECONDS, or unknown here
 * but the stream was still registered in Redis (its connection was on
 * another server, or a server went away without cleaning up).
 */
export const RESUBSCRIBE_PREVIOUS = ['open_here', 'closed_here', 'registered'] as const;
export type ResubscribePrevious = (typeof RESUBSCRIBE_PREVIOUS)[number];

/** How long after a close the same stream coming back counts as a reconnect (the browser's retry backs off up to about 2 minutes). */
export const RESUBSCRIBE_WINDOW_SECONDS = 300;

/**
 * Bucket boundaries of twenty.sse.connection.lifetime, in seconds. Pairs close
 * around the idle and request timeouts proxies commonly use (30 s, 60 s,
 * 100 s, 300 s, 1 h) so that a proxy cutting connections at one of them shows
 * as one narrow bucket.
 */
export const CONNECTION_LIFETIME_BUCKETS = [
  1, 2.5, 5, 10, 20, 29, 31, 45, 55, 59, 61, 90, 99, 101, 120, 240, 299, 301, 600, 1800, 3599, 3601, 7200, 14400,
] as const;

export const SPAN_EVENT_DROP = 'twenty.sse.drop';

export const METRIC = {
  STAGE_EVENTS: 'twenty.sse.stage.events',
  STAGE_DURATION: 'twenty.sse.stage.duration',
  DELIVERY_LATENCY: 'twenty.sse.delivery.latency',
  INSTRUMENTATION_TARGETS: 'twenty.sse.instrumentation.targets',
  INSTRUMENTATION_ERRORS: 'twenty.sse.instrumentation.errors',
  CONNECTIONS_OPENED: 'twenty.sse.connections.opened',
  CONNECTIONS_CLOSED: 'twenty.sse.connections.closed',
  CONNECTIONS_ACTIVE: 'twenty.sse.connections.active',
  CONNECTION_LIFETIME: 'twenty.sse.connection.lifetime',
  CONNECTION_LATE_EVENTS: 'twenty.sse.connection.late_events',
  STREAM_RESUBSCRIPTIONS: 'twenty.sse.stream.resubscriptions',
} as const;

/**
 * OpenTelemetry SDK self-metrics (semantic conventions, otel.sdk.*) that the
 * package's own SDK exports next to its metrics. The span processor records
 * them when handed the package's MeterProvider; a span dropped because the
 * queue is full is SPAN_PROCESSED with error.type=queue_full.
 */
export const SDK_METRIC = {
  SPAN_PROCESSED: 'otel.sdk.processor.span.processed',
  SPAN_QUEUE_SIZE: 'otel.sdk.processor.span.queue.size',
  SPAN_QUEUE_CAPACITY: 'otel.sdk.processor.span.queue.capacity',
} as const;

/** The error.type the SDK sets on a span it dropped because the processor's queue was full. */
export const ERROR_TYPE_QUEUE_FULL = 'queue_full';

/**
 * Prometheus names after the collector's prometheus exporter (or
 * @opentelemetry/exporter-prometheus) translates the OTel names: dots become
 * underscores, counters get `_total`, unit `s` gets `_seconds`.
 */
export const PROM = {
  STAGE_EVENTS: 'twenty_sse_stage_events_total',
  STAGE_DURATION_BUCKET: 'twenty_sse_stage_duration_seconds_bucket',
  DELIVERY_LATENCY_BUCKET: 'twenty_sse_delivery_latency_seconds_bucket',
  INSTRUMENTATION_TARGETS: 'twenty_sse_instrumentation_targets',
  INSTRUMENTATION_ERRORS: 'twenty_sse_instrumentation_errors_total',
  CONNECTIONS_OPENED: 'twenty_sse_connections_opened_total',
  CONNECTIONS_CLOSED: 'twenty_sse_connections_closed_total',
  CONNECTIONS_ACTIVE: 'twenty_sse_connections_active',
  CONNECTION_LIFETIME_BUCKET: 'twenty_sse_connection_lifetime_seconds_bucket',
  CONNECTION_LATE_EVENTS: 'twenty_sse_connection_late_events_total',
  STREAM_RESUBSCRIPTIONS: 'twenty_sse_stream_resubscriptions_total',
  SDK_SPAN_PROCESSED: 'otel_sdk_processor_span_processed_total',
  LABEL_STAGE: 'twenty_sse_stage',
  LABEL_ORIGIN: 'twenty_sse_origin',
  LABEL_OUTCOME: 'twenty_sse_outcome',
  LABEL_DROP_REASON: 'twenty_sse_drop_reason',
  LABEL_TARGET_CLASS: 'twenty_sse_target_class',
  LABEL_TARGET_METHOD: 'twenty_sse_target_method',
  LABEL_TARGET_STATUS: 'twenty_sse_target_status',
  LABEL_COMPONENT: 'twenty_sse_component',
  LABEL_CLOSE_REASON: 'twenty_sse_connection_close_reason',
  LABEL_RESUBSCRIBE_PREVIOUS: 'twenty_sse_resubscription_previous',
} as const;

/** The reserved key that carries trace context, origin and publish time across Redis pub/sub. */
export const CARRIER_KEY = '__twentySseOtel';

/** Instrumentation scope name for the tracer and meter. */
export const SCOPE_NAME = 'opentelemetry-instrumentation-twenty-sse';

/** Resource attributes the package's own SDK sets. */
export const RESOURCE = {
  SERVICE_NAME: ATTR_SERVICE_NAME,
  SERVICE_INSTANCE_ID: ATTR_SERVICE_INSTANCE_ID,
  TELEMETRY_DISTRO_NAME: ATTR_TELEMETRY_DISTRO_NAME,
} as const;

/**
 * messaging.operation.name and .type of the two messaging stages. Their span
 * names are `<operation name> <destination>`, as the messaging conventions
 * name spans: `publish twenty-event-stream` (PRODUCER), `process ...` (CONSUMER).
 */
export const MESSAGING_OPERATIONS = {
  pubsub: { name: 'publish', type: 'send' },
  deliver: { name: 'process', type: 'process' },
} as const;

/** Value of messaging.system on pubsub and deliver spans (no registered value exists for Redis pub/sub). */
export const MESSAGING_SYSTEM_REDIS = 'redis';

/** Env vars this package reads on top of the standard OTEL_* ones. */
export const ENV = {
  ENABLED: 'TWENTY_SSE_OTEL_ENABLED',
  GENERATION: 'TWENTY_SSE_OTEL_GENERATION',
  CAPTURE_IDS: 'TWENTY_SSE_OTEL_CAPTURE_IDS',
} as const;

export const CAPTURE_IDS_MODES = ['hashed', 'raw', 'none'] as const;
export type CaptureIdsMode = (typeof CAPTURE_IDS_MODES)[number];
