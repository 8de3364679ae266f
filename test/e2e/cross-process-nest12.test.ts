/**
 * The cross-process trace tests of cross-process.test.ts (see
 * cross-process-trace.ts) with both example processes on Nest 12, whose
 * packages are ES modules only: the CommonJS build of the app (Nest 12
 * reached through require, the register entry by --require) for the bare-array
 * payload, and the ESM build (the register entry by --import) for the object
 * payload. Same trace shape, same counts, same startup report as on Nest 11.
 */
import { describeCrossProcessTrace } from './cross-process-trace';

jest.setTimeout(60_000);

describeCrossProcessTrace([
  { generation: 'v5', db: 5, nest: 12 },
  { generation: 'publisher', db: 6, nest: 12, moduleSystem: 'esm' },
]);
