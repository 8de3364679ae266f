import Module = require('module');

/**
 * `@opentelemetry/sdk-node` is this package's one SDK dependency; it brings
 * the instrumentation base class, the OTLP exporters and the semantic
 * conventions. They are loaded from where sdk-node resolves them (its own
 * dependencies), not declared a second time here, and this works whether or
 * not the package manager hoists them next to this package.
 */
let fromSdkNode: NodeRequire | undefined;

export function requireFromSdkNode<T>(id: string): T {
  fromSdkNode ??= Module.createRequire(require.resolve('@opentelemetry/sdk-node'));
  return fromSdkNode(id) as T;
}

export function resolveFromSdkNode(id: string): string {
  fromSdkNode ??= Module.createRequire(require.resolve('@opentelemetry/sdk-node'));
  return fromSdkNode.resolve(id);
}
