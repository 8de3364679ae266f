import { createHash } from 'crypto';
import { CaptureIdsMode } from '../semconv';

/**
 * Turns an identifier into what telemetry may carry. `hashed` is a stable
 * SHA-256 prefix, so an operator can hash a known id to search for it without
 * the raw id ever leaving the process.
 */
export function presentId(id: unknown, mode: CaptureIdsMode): string | undefined {
  if (typeof id !== 'string' || id.length === 0 || mode === 'none') return undefined;
  if (mode === 'raw') return id;
  let hashed = hashes.get(id);
  if (hashed === undefined) {
    hashed = `sha256:${createHash('sha256').update(id).digest('hex').slice(0, 16)}`;
    // a handful of workspaces and subscribers repeat on every event: a small bounded cache
    if (hashes.size >= HASH_CACHE_SIZE) hashes.delete(hashes.keys().next().value as string);
    hashes.set(id, hashed);
  }
  return hashed;
}

const HASH_CACHE_SIZE = 1024;
const hashes = new Map<string, string>();
