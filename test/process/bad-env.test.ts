import { spawnSync } from 'child_process';
import path from 'path';

/**
 * Each variable set to garbage: one clear line naming it and what it accepts;
 * the app boots and works (the example app starts, patched or not as the
 * remaining settings say).
 */
const root = path.resolve(__dirname, '../..');
const node = process.env.TEST_NODE_BIN ?? process.execPath;

const CASES: [string, string, boolean][] = [
  // variable, garbage, instrumentation still on afterwards
  ['TWENTY_SSE_OTEL_ENABLED', 'maybe', false],
  ['TWENTY_SSE_OTEL_GENERATION', 'v99', true],
  ['TWENTY_SSE_OTEL_CAPTURE_IDS', 'everything', true],
  ['OTEL_SDK_DISABLED', 'perhaps', true],
  ['OTEL_EXPORTER_OTLP_PROTOCOL', 'carrier-pigeon', true],
  ['OTEL_EXPORTER_OTLP_TRACES_PROTOCOL', 'grpc', true],
  ['OTEL_TRACES_EXPORTER', 'jaeger-thrift', true],
  ['OTEL_METRICS_EXPORTER', 'nope', true],
  ['OTEL_TRACES_SAMPLER', 'sometimes', true],
  ['OTEL_TRACES_SAMPLER_ARG', '2.5', true],
  ['OTEL_BSP_SCHEDULE_DELAY', '-5', true],
  ['OTEL_BSP_MAX_QUEUE_SIZE', 'lots', true],
  ['OTEL_METRIC_EXPORT_INTERVAL', 'soon', true],
  ['OTEL_EXPORTER_OTLP_ENDPOINT', 'not a url', true],
];

describe('bad env values', () => {
  it.each(CASES)('%s=%s: one line naming it, the app boots', (variable, garbage, stillOn) => {
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      EXAMPLE_LOG_LEVELS: 'none',
      TWENTY_SSE_OTEL_ENABLED: 'true',
      OTEL_TRACES_EXPORTER: 'none',
      OTEL_METRICS_EXPORTER: 'none',
      [variable]: garbage,
    };
    delete env.REDIS_URL;
    const run = spawnSync(
      node,
      ['--require', path.join(root, 'dist/src/register.js'), path.join(root, 'test/fixtures/inspect-targets.js'), 'v5'],
      {
        cwd: root,
        env,
        encoding: 'utf8',
        timeout: 60_000,
      },
    );
    expect(run.status).toBe(0);
    const lines = run.stderr.split('\n').filter((line) => line.includes(variable));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^\[twenty-sse-otel\] /);
    expect(lines[0]).toMatch(/(use|is not|not supported|Using)/);
    const inspection = JSON.parse(run.stdout.trim().split('\n').pop()!) as { methods: { wrapped: boolean }[] };
    expect(inspection.methods.length).toBeGreaterThan(8);
    expect(inspection.methods.every((m) => m.wrapped === stillOn)).toBe(true);
  });
});
