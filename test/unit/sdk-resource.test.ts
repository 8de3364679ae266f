/**
 * The resource the package's own SDK exports under: every process gets a
 * distinct service.instance.id unless the operator names one in
 * OTEL_RESOURCE_ATTRIBUTES (or the service through OTEL_SERVICE_NAME). Two
 * replicas of one service without distinct instance ids export identical
 * series, and Prometheus reads their interleaved values as resets.
 */
import type { Attributes } from '@opentelemetry/api';
import { tracing } from '@opentelemetry/sdk-node';
import { readOtelEnv } from '../../src/otel/otel-env';
import { startSdk } from '../../src/otel/sdk';

const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/** Starts the SDK, ends one span through it and returns the resource attributes that span was exported with. */
async function exportedResource(defaultServiceName = 'twenty-server'): Promise<Attributes> {
  const exporter = new tracing.InMemorySpanExporter();
  const sdk = startSdk({
    settings: readOtelEnv({ OTEL_METRICS_EXPORTER: 'none' }).settings,
    defaultServiceName,
    spanExporter: exporter,
  });
  try {
    sdk.tracerProvider.getTracer('resource-test').startSpan('probe').end();
    await sdk.forceFlush();
    const [span] = exporter.getFinishedSpans();
    await span.resource.waitForAsyncAttributes?.();
    return span.resource.attributes;
  } finally {
    await sdk.shutdown();
  }
}

describe('the SDK resource', () => {
  const saved = { attributes: process.env.OTEL_RESOURCE_ATTRIBUTES, serviceName: process.env.OTEL_SERVICE_NAME };
  afterEach(() => {
    for (const [key, value] of [
      ['OTEL_RESOURCE_ATTRIBUTES', saved.attributes],
      ['OTEL_SERVICE_NAME', saved.serviceName],
    ] as const) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  });

  test('each SDK start gets its own service.instance.id (UUID v4) next to the default service name', async () => {
    delete process.env.OTEL_RESOURCE_ATTRIBUTES;
    delete process.env.OTEL_SERVICE_NAME;
    const first = await exportedResource();
    const second = await exportedResource();
    expect(first['service.instance.id']).toMatch(UUID_V4);
    expect(second['service.instance.id']).toMatch(UUID_V4);
    expect(second['service.instance.id']).not.toBe(first['service.instance.id']);
    expect([first['service.name'], second['service.name']]).toEqual(['twenty-server', 'twenty-server']);
  });

  test("the operator's OTEL_RESOURCE_ATTRIBUTES service.instance.id wins, and the rest of it is kept", async () => {
    process.env.OTEL_RESOURCE_ATTRIBUTES = 'service.instance.id=api-7,deployment.environment.name=staging';
    const resource = await exportedResource();
    expect(resource).toMatchObject({
      'service.instance.id': 'api-7',
      'deployment.environment.name': 'staging',
      'service.name': 'twenty-server',
    });
  });

  test('OTEL_SERVICE_NAME still wins over the default name, and the instance id stays generated', async () => {
    delete process.env.OTEL_RESOURCE_ATTRIBUTES;
    process.env.OTEL_SERVICE_NAME = 'crm-api';
    const resource = await exportedResource('twenty-worker');
    expect(resource['service.name']).toBe('crm-api');
    expect(resource['service.instance.id']).toMatch(UUID_V4);
  });
});
