import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import path from 'path';
import { NODE, ROOT, runNode } from '../helpers/run-node';

/**
 * The plumbing of the end-to-end benchmark (bench/e2e.ts) with a tiny run:
 * both processes start in every mode, every event reaches every SSE
 * connection once and is matched to its emit, spans reach the sink only when
 * instrumented, and the section lands in the results file without touching
 * the rest of it. Counts only: timings are the benchmark's business.
 */
interface Deployment {
  round: number;
  mode: 'a' | 'c' | 'd';
  latencySamples: number;
  burstEvents: number;
  burstReceipts: number;
  p50Ms: number;
  p99Ms: number;
  workerEventsPerSec: number;
  spansPerEvent: number;
  spansDropped: number;
}

describe('bench/e2e.js, tiny run', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'e2e-bench-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('deploys a, c, d and e, matches every event on every connection, writes its section only', async () => {
    const out = path.join(dir, 'results.md');
    writeFileSync(out, '# in-process figures\n\nkept as they are\n');
    const streams = 2;
    const latencyEvents = 6;
    const burstRuns = 2;
    const burstSteps = 3;
    const run = await runNode(
      [
        path.join(ROOT, 'dist/bench/e2e.js'),
        ...[
          '--rounds',
          '1',
          '--streams',
          String(streams),
          '--warmup-runs',
          '1',
          '--latency-events',
          String(latencyEvents),
          '--rate',
          '50',
        ],
        ...[
          '--burst-runs',
          String(burstRuns),
          '--burst-steps',
          String(burstSteps),
          '--node',
          NODE,
          '--out',
          out,
          '--json',
        ],
      ],
      {},
      170_000,
    );
    if (run.code !== 0) throw new Error(`e2e bench failed (${run.code}):\n${run.stderr.slice(-4000)}`);
    const { results } = JSON.parse(run.stdout.trim().split('\n').pop()!) as { results: Deployment[] };

    expect(results.map((r) => r.mode).sort()).toEqual(['a', 'c', 'd', 'e']);
    for (const r of results) {
      expect(r.latencySamples).toBe(latencyEvents * streams);
      expect(r.burstEvents).toBe(burstRuns * burstSteps);
      expect(r.burstReceipts).toBe(burstRuns * burstSteps * streams);
      expect(r.p50Ms).toBeGreaterThan(0);
      expect(r.p99Ms).toBeGreaterThanOrEqual(r.p50Ms);
      expect(r.workerEventsPerSec).toBeGreaterThan(0);
      expect(r.spansDropped).toBe(0);
    }
    const byMode = Object.fromEntries(results.map((r) => [r.mode, r]));
    expect(byMode.a.spansPerEvent).toBe(0);
    // every stage of every event sampled: at least emit, listen, publish, fanout, one stream and one pubsub span per event
    expect(byMode.c.spansPerEvent).toBeGreaterThanOrEqual(6);
    expect(byMode.d.spansPerEvent).toBeLessThan(byMode.c.spansPerEvent);
    // nestjs-otel @Span on the worker's pipeline methods and the workflow step: spans, but none from the server
    expect(byMode.e.spansPerEvent).toBeGreaterThanOrEqual(6);
    expect(byMode.e.spansPerEvent).toBeLessThan(byMode.c.spansPerEvent);

    const written = readFileSync(out, 'utf8');
    expect(written.startsWith('# in-process figures\n\nkept as they are\n')).toBe(true);
    expect(written).toContain("## End-to-end: the example's two-process deployment");
    expect(written.match(/<!-- e2e:begin/g)).toHaveLength(1);
    expect(written).toContain('| c | enabled, every span sampled |');
    expect(written).toContain('| e | nestjs-otel @Span, every span sampled |');
  }, 180_000);
});
