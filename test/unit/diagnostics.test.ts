import { diag, DiagLogLevel } from '@opentelemetry/api';
import { makeTestTelemetry } from '../helpers/telemetry';

/**
 * Internal diagnostics go through OpenTelemetry's diag, the channel an
 * instrumentation user configures (OTEL_LOG_LEVEL, or the app's own diag
 * logger), not to stderr; they stay counted in twenty.sse.instrumentation.errors.
 */
describe('a swallowed instrumentation fault', () => {
  const warnings: string[] = [];
  beforeAll(() => {
    diag.setLogger(
      {
        verbose: () => undefined,
        debug: () => undefined,
        info: () => undefined,
        error: () => undefined,
        warn: (...parts: unknown[]) => warnings.push(parts.join(' ')),
      },
      DiagLogLevel.WARN,
    );
  });
  afterAll(() => diag.disable());

  it('is reported once a minute through diag, not on the package log, and counted every time', async () => {
    const { telemetry, logs, metricPoints } = makeTestTelemetry();
    telemetry.fault('SubscriptionService.publishToEventStream', new Error('boom'));
    telemetry.fault('SubscriptionService.publishToEventStream', new Error('boom again'));
    const reported = warnings.filter((line) => line.includes('SubscriptionService.publishToEventStream'));
    expect(reported).toHaveLength(1);
    expect(reported[0]).toContain(
      'instrumentation fault in SubscriptionService.publishToEventStream (swallowed, Twenty unaffected): boom',
    );
    expect(logs).toEqual([]);
    const points = await metricPoints('twenty.sse.instrumentation.errors');
    expect(points.map((point) => point.value)).toEqual([2]);
  });
});
