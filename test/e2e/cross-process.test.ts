/**
 * One trace from the queue worker to the browser: the example app's two real
 * processes (API server and queue worker), each started with the register
 * entry through NODE_OPTIONS, real Redis, a real graphql-sse client over HTTP,
 * telemetry exported over OTLP/HTTP JSON to a real receiver.
 *
 * For each payload shape (v5: bare array, carrier on the first item;
 * publisher: object, top-level carrier):
 * - an automatic workflow run in the worker gives ONE trace: workflow_step,
 *   emit, listen, publish, fanout, stream, pubsub spans from twenty-worker and
 *   the deliver span from twenty-server, deliver's parent = the pubsub span;
 * - a UI mutation (REST, handled by the server) gives one trace, all spans
 *   from twenty-server, same parentage;
 * - `twenty.sse.stage.events` arrives from both services, and both processes
 *   print the startup report line (0 missing in the worker, only the workflow
 *   targets in the server); both still end on SIGTERM.
 * The tests themselves are in cross-process-trace.ts (shared with cross-process-v1-v8.test.ts).
 */
import { describeCrossProcessTrace } from './cross-process-trace';

jest.setTimeout(60_000);

describeCrossProcessTrace([
  { generation: 'v5', db: 11 }, // bare-array payload: the carrier rides on the first item
  { generation: 'publisher', db: 12 }, // object payload: top-level carrier
]);
