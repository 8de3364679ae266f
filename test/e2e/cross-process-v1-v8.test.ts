/**
 * The cross-process trace tests of cross-process.test.ts (see cross-process-trace.ts)
 * for the other generations the example reproduces: v1 (bare array, no
 * permission checks), v8 (object payload, processObjectRecordStreamEvents
 * with positional args) and the September 2026 publishers record_share and
 * record_access (the record-access gate; workflow events emitted after the
 * step's transaction commits).
 */
import { describeCrossProcessTrace } from './cross-process-trace';

jest.setTimeout(60_000);

describeCrossProcessTrace([
  { generation: 'v1', db: 1 },
  { generation: 'v8', db: 2 },
  { generation: 'record_share', db: 5 },
  { generation: 'record_access', db: 6 },
]);
