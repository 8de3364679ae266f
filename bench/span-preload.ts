/**
 * Mode e of the end-to-end benchmark, loaded into the API server and the queue
 * worker with `NODE_OPTIONS=--require dist/bench/span-preload.js`: what "just
 * put nestjs-otel's @Span on it" gives. A global tracer provider with the SDK
 * defaults (parent-based always-on sampler, batch span processor) exporting
 * OTLP http/protobuf to OTEL_EXPORTER_OTLP_ENDPOINT, the AsyncLocalStorage
 * context manager, and `Span()` applied to the pipeline methods and the
 * workflow step as Nest scans their providers. No counters, no drop reasons,
 * no context through Redis: the server side gets no spans of its own.
 */
import type * as Api from '@opentelemetry/api';
import type * as ContextAsyncHooks from '@opentelemetry/context-async-hooks';
import type * as SdkNode from '@opentelemetry/sdk-node';
import type * as TracesProto from '@opentelemetry/exporter-trace-otlp-proto';
import { defaultServiceName } from '../src/otel/sdk';
import { requireFromSdkNode } from '../src/otel/sdk-deps';
import { hookScannerWith, pipelineSpanTargets, WORKFLOW_STEP_TARGET } from './span-targets';

const api = require('@opentelemetry/api') as typeof Api;
const { resources, tracing } = require('@opentelemetry/sdk-node') as typeof SdkNode;
const { AsyncLocalStorageContextManager } = require('@opentelemetry/context-async-hooks') as typeof ContextAsyncHooks;
const { OTLPTraceExporter } = requireFromSdkNode<typeof TracesProto>('@opentelemetry/exporter-trace-otlp-proto');

const provider = new tracing.BasicTracerProvider({
  resource: resources.resourceFromAttributes({ 'service.name': defaultServiceName() }),
  spanProcessors: [new tracing.BatchSpanProcessor(new OTLPTraceExporter())],
});
api.trace.setGlobalTracerProvider(provider);
api.context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());

const { Span } = require('nestjs-otel') as { Span: (name?: string) => MethodDecorator };
const targets = [...pipelineSpanTargets(process.env.EXAMPLE_TWENTY_GENERATION ?? 'v5'), WORKFLOW_STEP_TARGET];
hookScannerWith(targets, (owner, name) => {
  const descriptor = Object.getOwnPropertyDescriptor(owner, name)!;
  Span()(owner, name, descriptor);
  Object.defineProperty(owner, name, descriptor);
});

// Flush on SIGTERM/SIGINT (the benchmark stops each deployment with SIGTERM), then let the signal end the process.
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    const othersListen = process.listenerCount(signal) > 0;
    void provider.forceFlush().finally(() => {
      if (!othersListen) process.kill(process.pid, signal);
    });
  });
}
