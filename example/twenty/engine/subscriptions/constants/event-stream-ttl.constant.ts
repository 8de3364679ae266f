export const EVENT_STREAM_TTL_MS = 30 * 60 * 1000;
