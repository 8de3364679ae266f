import { DropReason } from '../semconv';

/** What each drop reason means in Twenty's code: the condition, in words an operator can act on. */
export const REASON_CONDITIONS: Record<DropReason, string> = {
  no_active_streams:
    'eventStreamService.getActiveStreamIds(workspaceId) returned [] (Redis set workspace:<ws>:activeStreams is empty): no browser has an open event stream for this workspace - IS_SSE_DB_EVENTS_ENABLED off, stream TTL expired, or the events belong to another workspace',
  stream_expired:
    'streamData for an active stream id is undefined: the key eventStream:<ws>:<channelId> expired (30 min TTL, heartbeat stopped) or was deleted; the id is then removed from the active set',
  stream_without_queries:
    'Object.keys(streamData.queries).length === 0: no addQueryToEventStream has succeeded on this stream yet (the race right after (re)connect)',
  subscriber_without_user_workspace:
    "streamData.authContext.userWorkspaceId is undefined: the SUBSCRIBER's identity (an API-key stream), not the event author's - a workflow author never reaches this check",
  subscriber_without_role:
    "permissionsContext.userWorkspaceRoleMap has no role for the subscriber's userWorkspaceId (stale workspace cache or a user without a role), or a role has no rolesPermissions entry",
  subscriber_application_inactive:
    'the subscriber stream carries an applicationId whose application is not active, so resolveStreamRoleIds returns []',
  object_not_readable: "the subscriber's role has canReadObjectRecords=false on this object",
  restricted_fields_only:
    'filterRestrictedFieldsFromEvent removed every updated field (all restricted for the subscriber), leaving updatedFields empty',
  record_share_denied:
    'the record-share gate (IS_RECORD_SHARING_ENABLED) does not admit this record for the subscriber',
  record_access_denied:
    "the record-access gate (RecordAccessPolicyService.resolveAdmittedRecordIds) did not admit the record for the subscriber: no record share for the subscriber's principals, no access inherited from a parent record, SYSTEM/APPLICATION object visibility (enforced even without a sharing licence), or a row-level rule that excludes it",
  no_matching_query:
    "no registered query of the stream matches the event (object name, RLS filter or the table's filter); before the ObjectRecordEventPublisher only `after` is tested, so an update that moves a record OUT of a table's filter is never delivered",
  no_live_connection:
    'SubscriptionService.publishToEventStream published to EVENT_STREAM_CHANNEL:<ws>:<channelId> and Redis answered 0 subscribers (RedisPubSub.publish discards that reply): the stream is still registered (its 30 min TTL runs) but no API server holds its SSE connection - the tab is gone, is reconnecting, or the server that held it stopped without cleaning up',
  not_emitted:
    'the workflow step changed a record but no database event was emitted (formatTwentyOrmEventToDatabaseBatchEvent emits nothing when no field changed, and writes outside the twenty-orm event path emit nothing)',
  unattributed:
    'a drop the instrumentation could not explain: Twenty probably changed this code path - please report it with the trace',
};
