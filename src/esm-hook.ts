import Module = require('module');
import { pathToFileURL } from 'url';
import { resolveFromSdkNode } from './otel/sdk-deps';

const REGISTERED = Symbol.for('opentelemetry-instrumentation-twenty-sse.esm-hook');
type GlobalWithFlag = typeof globalThis & { [REGISTERED]?: boolean };
type Register = (specifier: string, parentURL: string, options?: { data?: unknown }) => void;

/**
 * Registers import-in-the-middle's loader (the one @opentelemetry/instrumentation
 * ships as hook.mjs) for `@nestjs/core` only, so that an ES module `import` of
 * Nest reaches the instrumentation's module hook as a CommonJS `require` does.
 * Needed for ESM apps whatever the Nest major; CommonJS apps are hooked through
 * `require('@nestjs/core')` even on Nest 12. Returns false where Node has no
 * `module.register`.
 */
export function registerEsmHook(): boolean {
  const flagged = globalThis as GlobalWithFlag;
  if (flagged[REGISTERED]) return true;
  const register = (Module as unknown as { register?: Register }).register;
  if (typeof register !== 'function') return false;
  const hook = pathToFileURL(resolveFromSdkNode('@opentelemetry/instrumentation/hook.mjs')).href;
  register(hook, pathToFileURL(__filename).href, { data: { include: ['@nestjs/core'] } });
  flagged[REGISTERED] = true;
  return true;
}
