import path from 'path';
import { ATTR, ERROR_TYPE_QUEUE_FULL, SDK_METRIC } from '../../src/semconv';
import { lastJsonLine, REGISTER, ROOT, runNode } from '../helpers/run-node';
import { OtlpReceiver } from '../helpers/otlp-receiver';

/**
 * Under the register entry, spans the SDK's batch processor drops on a full
 * queue (every span sampled, a collector slower than the workload) are counted
 * in otel.sdk.processor.span.processed{error.type=queue_full}, exported with
 * the package's metrics, and printed on stderr with their count.
 */
const workload = path.join(ROOT, 'test/fixtures/workload.js');

const ENABLED = {
  TWENTY_SSE_OTEL_ENABLED: 'true',
  OTEL_SERVICE_NAME: 'flood',
  OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
  OTEL_BSP_SCHEDULE_DELAY: '20',
  OTEL_METRIC_EXPORT_INTERVAL: '60000',
  WORKLOAD_EVENTS: '60',
};

async function run(receiver: OtlpReceiver, delayMs: number, env: Record<string, string>) {
  const url = await receiver.start(0, delayMs);
  try {
    const child = await runNode(['--require', REGISTER, workload], {
      ...ENABLED,
      OTEL_EXPORTER_OTLP_ENDPOINT: url,
      ...env,
    });
    lastJsonLine(child, 'workload');
    return child.stderr;
  } finally {
    await receiver.stop();
  }
}

const droppedIn = (stderr: string) =>
  [...stderr.matchAll(/\[twenty-sse-otel\] (\d+) spans? dropped: the span queue was full/g)].reduce(
    (sum, match) => sum + Number(match[1]),
    0,
  );

describe('spans dropped on a full span queue, under the register entry', () => {
  it('dropped = spans of the workload - spans received; exported as a metric and printed with the count', async () => {
    // the same deterministic workload with room for every span: how many it makes
    const roomy = new OtlpReceiver();
    const roomyStderr = await run(roomy, 0, {
      OTEL_BSP_MAX_QUEUE_SIZE: '100000',
      OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '512',
    });
    const offered = roomy.spans.filter((span) => span.service === 'flood').length;
    expect(offered).toBeGreaterThan(100);
    expect(droppedIn(roomyStderr)).toBe(0);
    expect(roomy.latestSum(SDK_METRIC.SPAN_PROCESSED, { [ATTR.ERROR_TYPE]: ERROR_TYPE_QUEUE_FULL }, 'flood')).toBe(0);

    const slow = new OtlpReceiver();
    const stderr = await run(slow, 250, { OTEL_BSP_MAX_QUEUE_SIZE: '16', OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '8' });
    const received = slow.spans.filter((span) => span.service === 'flood').length;
    const dropped = slow.latestSum(SDK_METRIC.SPAN_PROCESSED, { [ATTR.ERROR_TYPE]: ERROR_TYPE_QUEUE_FULL }, 'flood');
    expect(received).toBeGreaterThan(0);
    expect(dropped).toBeGreaterThan(0);
    expect(dropped).toBe(offered - received);
    expect(droppedIn(stderr)).toBe(dropped);
  });
});
