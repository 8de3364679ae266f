/**
 * The cross-process trace tests of cross-process.test.ts (see cross-process-trace.ts)
 * for the two other generations the example reproduces: v1 (bare array, no
 * permission checks) and v8 (object payload, processObjectRecordStreamEvents
 * with positional args).
 */
import { describeCrossProcessTrace } from './cross-process-trace';

jest.setTimeout(60_000);

describeCrossProcessTrace([
  { generation: 'v1', db: 1 },
  { generation: 'v8', db: 2 },
]);
