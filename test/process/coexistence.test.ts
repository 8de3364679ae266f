import { createServer, Server } from 'http';
import { AddressInfo } from 'net';
import path from 'path';
import { gunzipSync } from 'zlib';
import { ATTR } from '../../src/semconv';
import { OtlpReceiver } from '../helpers/otlp-receiver';
import { lastJsonLine, runNode } from '../helpers/run-node';

/**
 * An app that registered its own global tracer provider and context manager
 * (a NodeSDK, or Sentry's OpenTelemetry setup): both its telemetry and ours
 * arrive, and nothing of its own is replaced. Tried with our register entry
 * loaded first (as with NODE_OPTIONS in Twenty, whose instrument.ts runs later)
 * and, for the NodeSDK, with the app's SDK preloaded before ours.
 */
const root = path.resolve(__dirname, '../..');

class SentryCatcher {
  bodies: string[] = [];
  private server?: Server;
  async start(): Promise<string> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => {
        let body = Buffer.concat(chunks);
        if (req.headers['content-encoding'] === 'gzip') body = gunzipSync(body);
        this.bodies.push(body.toString('utf8'));
        res.writeHead(200);
        res.end('{}');
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    return `http://public@127.0.0.1:${(this.server!.address() as AddressInfo).port}/1`;
  }
  async stop() {
    await new Promise<void>((resolve) => this.server!.close(() => resolve()));
  }
}

async function run(args: string[], env: Record<string, string>) {
  const result = await runNode(args, {
    TWENTY_SSE_OTEL_ENABLED: 'true',
    OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
    OTEL_BSP_SCHEDULE_DELAY: '100',
    OTEL_METRIC_EXPORT_INTERVAL: '500',
    ...env,
  });
  return lastJsonLine<{ ownTraceId?: string; ownSpanActive: boolean }>(result, 'coexist fixture');
}

const register = path.join(root, 'dist/src/register.js');
const fixture = path.join(root, 'test/fixtures/coexist.js');

describe("coexistence with the app's own OpenTelemetry", () => {
  it.each([
    ['register first, then the app starts a NodeSDK', ['--require', register, fixture, 'nodesdk']],
    [
      'a NodeSDK preloaded first, then the register entry',
      ['--require', path.join(root, 'test/fixtures/preload-nodesdk.js'), '--require', register, fixture, 'nodesdk'],
    ],
  ])('%s: both telemetries arrive', async (_name, args) => {
    const ours = new OtlpReceiver();
    const theirs = new OtlpReceiver();
    const oursUrl = await ours.start();
    const theirsUrl = await theirs.start();
    try {
      const out = await run(args as string[], { OTEL_EXPORTER_OTLP_ENDPOINT: oursUrl, APP_OTLP: theirsUrl });
      expect(out.ownSpanActive).toBe(true);
      expect(theirs.spans.map((s) => s.name)).toContain('app-own-span');
      expect(theirs.spans.every((s) => s.attributes[ATTR.STAGE] === undefined)).toBe(true);
      const stages = new Set(ours.spans.map((s) => s.attributes[ATTR.STAGE]));
      for (const stage of ['workflow_step', 'emit', 'listen', 'publish', 'fanout', 'stream', 'pubsub'])
        expect(stages).toContain(stage);
      // our emit span of the UI update joined the app's own trace (its span was active)
      const uiEmit = ours.spans.find((s) => s.attributes[ATTR.STAGE] === 'emit' && s.attributes[ATTR.ORIGIN] === 'ui');
      expect(uiEmit?.traceId).toBe(out.ownTraceId);
    } finally {
      await ours.stop();
      await theirs.stop();
    }
  });

  it('Sentry initialised after the register entry (Twenty with EXCEPTION_HANDLER_DRIVER=sentry): both arrive', async () => {
    const ours = new OtlpReceiver();
    const sentry = new SentryCatcher();
    const oursUrl = await ours.start();
    const dsn = await sentry.start();
    try {
      const out = await run(['--require', register, fixture, 'sentry'], {
        OTEL_EXPORTER_OTLP_ENDPOINT: oursUrl,
        SENTRY_DSN: dsn,
      });
      expect(out.ownSpanActive).toBe(true);
      expect(sentry.bodies.join('\n')).toContain('app-own-span');
      const stages = new Set(ours.spans.map((s) => s.attributes[ATTR.STAGE]));
      for (const stage of ['workflow_step', 'emit', 'listen', 'publish', 'fanout', 'stream', 'pubsub'])
        expect(stages).toContain(stage);
    } finally {
      await ours.stop();
      await sentry.stop();
    }
  });
});
