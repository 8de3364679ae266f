import { spawn } from 'child_process';
import path from 'path';
import { ATTR, METRIC } from '../../src/semconv';
import { freePort } from '../helpers/processes';
import { lastJsonLine, runNode } from '../helpers/run-node';
import { OtlpReceiver } from '../helpers/otlp-receiver';

/**
 * Collector down, slow, or coming back: what Twenty produces (every payload
 * published to every stream, in order, and every mutation result) is the same
 * as without the package; no unhandled rejection; export errors are logged at
 * most once per interval; memory stays bounded by the queue limits; telemetry
 * resumes when the collector returns.
 */
const root = path.resolve(__dirname, '../..');
const node = process.env.TEST_NODE_BIN ?? process.execPath;
const workload = path.join(root, 'test/fixtures/workload.js');
const register = path.join(root, 'dist/src/register.js');

interface WorkloadResult {
  digest: string;
  published: number[];
  results: number;
  unhandled: number;
  heapBefore: number;
  heapAfter: number;
}

async function runWorkload(
  extra: Record<string, string>,
  instrumented: boolean,
): Promise<{ result: WorkloadResult; stderr: string }> {
  const run = await runNode(['--expose-gc', ...(instrumented ? ['--require', register] : []), workload], extra);
  return { result: lastJsonLine<WorkloadResult>(run, 'workload'), stderr: run.stderr };
}

const ENABLED = {
  TWENTY_SSE_OTEL_ENABLED: 'true',
  OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
  OTEL_BSP_SCHEDULE_DELAY: '100',
  OTEL_METRIC_EXPORT_INTERVAL: '300',
  OTEL_EXPORTER_OTLP_TIMEOUT: '500',
};

describe('the collector is down, slow, or comes back', () => {
  let baseline: WorkloadResult;
  beforeAll(async () => {
    baseline = (await runWorkload({ WORKLOAD_EVENTS: '90' }, false)).result;
  });

  it('down: same results and order, no unhandled rejection, one failure line per signal', async () => {
    const closedPort = await freePort();
    const { result, stderr } = await runWorkload(
      { ...ENABLED, WORKLOAD_EVENTS: '90', OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${closedPort}` },
      true,
    );
    expect(result.digest).toBe(baseline.digest);
    expect(result.published).toEqual(baseline.published);
    expect(result.unhandled).toBe(0);
    const failures = stderr.split('\n').filter((line) => line.includes('export failed'));
    expect(failures.filter((l) => l.includes('traces')).length).toBeLessThanOrEqual(1);
    expect(failures.filter((l) => l.includes('metrics')).length).toBeLessThanOrEqual(1);
    expect(failures.length).toBeGreaterThanOrEqual(1);
  });

  it('slow (answers after the export timeout): same results and order', async () => {
    const slow = new OtlpReceiver();
    const url = await slow.start(0, 2_000);
    try {
      const { result } = await runWorkload(
        { ...ENABLED, WORKLOAD_EVENTS: '90', OTEL_EXPORTER_OTLP_ENDPOINT: url },
        true,
      );
      expect(result.digest).toBe(baseline.digest);
      expect(result.unhandled).toBe(0);
    } finally {
      await slow.stop();
    }
  });

  it('down with a long workload: heap growth stays bounded by the queue limits', async () => {
    const closedPort = await freePort();
    const { result } = await runWorkload(
      {
        ...ENABLED,
        WORKLOAD_EVENTS: '1500',
        OTEL_BSP_MAX_QUEUE_SIZE: '256',
        OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${closedPort}`,
      },
      true,
    );
    const uninstrumented = (await runWorkload({ WORKLOAD_EVENTS: '1500' }, false)).result;
    expect(result.digest).toBe(uninstrumented.digest);
    // retained growth beyond what Twenty itself retains: queued spans are capped at 256
    const extra = result.heapAfter - result.heapBefore - (uninstrumented.heapAfter - uninstrumented.heapBefore);
    expect(extra).toBeLessThan(32 * 1024 * 1024);
  });

  it('comes back: telemetry resumes and the recovery is logged once', async () => {
    const port = await freePort();
    const receiver = new OtlpReceiver();
    const child = spawn(node, ['--require', register, workload], {
      cwd: root,
      env: {
        ...process.env,
        EXAMPLE_LOG_LEVELS: 'none',
        REDIS_URL: '',
        NODE_OPTIONS: '',
        ...ENABLED,
        WORKLOAD_EVENTS: '60',
        PHASES: '2',
        OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}`,
      },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    try {
      await waitFor(() => stdout.includes('PHASE1_DONE'), 30_000);
      await waitFor(() => stderr.includes('export failed'), 30_000);
      await receiver.start(port);
      child.stdin.write('go\n');
      // 'close', not 'exit': the output is complete only once the pipes closed.
      const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
      expect(code).toBe(0);
      const result = JSON.parse(stdout.trim().split('\n').pop()!) as WorkloadResult;
      expect(result.unhandled).toBe(0);
      expect(receiver.spans.some((span) => span.attributes[ATTR.STAGE] === 'stream')).toBe(true);
      expect(receiver.latestSum(METRIC.STAGE_EVENTS, { [ATTR.STAGE]: 'emit' })).toBeGreaterThanOrEqual(30);
      expect(stderr.split('\n').filter((line) => line.includes('export recovered')).length).toBeGreaterThanOrEqual(1);
    } finally {
      child.kill('SIGKILL');
      await receiver.stop();
    }
  });
});

async function waitFor(condition: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
