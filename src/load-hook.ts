import { PatchSet } from './engine/patches';
import { Instrumenter } from './twenty/instrumenter';
import { FaultHandler } from './engine/wrap';

/**
 * The Nest hook of the zero-code path, applied to the exports of the
 * `@nestjs/core` package entry, the one thing Nest 10, 11 and 12 all expose
 * the same way, whether Nest is CommonJS (10, 11) or ES modules only (12) and
 * whether the app is CommonJS or ESM:
 * - `NestContainer.prototype.addProvider` / `addController`: the scanner calls
 *   them for every provider and controller class, before Nest instantiates it
 *   and before any explorer (@OnEvent, @Process, resolvers) reads its
 *   metadata; each class is patched right there, for NestFactory.create and
 *   createApplicationContext alike;
 * - `NestFactoryStatic.prototype.create` / `createApplicationContext` /
 *   `createMicroservice` (reached through the exported `NestFactory`
 *   instance): once the app is built, the startup report is printed.
 * Nest's own internal files (scanner.js, nest-factory.js) are never looked
 * for: under Nest 12 Node loads them through its ES module loader, where a
 * CommonJS require hook cannot see them.
 */

export const NEST_REGISTRATION_METHODS = ['addProvider', 'addController'] as const;
export const NEST_FACTORY_METHODS = ['create', 'createApplicationContext', 'createMicroservice'] as const;

/** What could and could not be hooked in one @nestjs/core. */
export interface NestHookStatus {
  version: string;
  /** `Class.method` hook points attached to. */
  found: string[];
  /** `Class.method` hook points that @nestjs/core does not have (or not in the expected shape). */
  missing: string[];
}

export interface NestHookContext {
  instrumenter: Instrumenter;
  /** Receives every replaced Nest method, so unpatching restores it exactly. */
  patches: PatchSet;
  /** Called each time NestFactory finished building an app: `httpServer` true for create, false for an application context or microservice. */
  onAppReady: (httpServer: boolean) => void;
  /** Called after each provider or controller registration. */
  onRegistered?: () => void;
  onFault: FaultHandler;
}

function providerClass(provider: unknown): unknown {
  if (typeof provider === 'function') return provider;
  if (provider && typeof provider === 'object') {
    const custom = provider as { useClass?: unknown };
    if (typeof custom.useClass === 'function') return custom.useClass;
  }
  return undefined;
}

function prototypeOf(value: unknown): object | undefined {
  return typeof value === 'function' && value.prototype && typeof value.prototype === 'object'
    ? (value.prototype as object)
    : undefined;
}

export function hookNestCore(exported: unknown, version: string, context: NestHookContext): NestHookStatus {
  const status: NestHookStatus = { version, found: [], missing: [] };
  const entry = (exported ?? {}) as { NestContainer?: unknown; NestFactory?: unknown };

  const container = prototypeOf(entry.NestContainer);
  for (const method of NEST_REGISTRATION_METHODS) {
    const hooked =
      container !== undefined &&
      context.patches.wrap(
        container,
        method,
        `NestContainer.${method}`,
        (_self, args) => {
          context.instrumenter.instrumentClass(providerClass(args[0]));
          context.onRegistered?.();
          return undefined;
        },
        context.onFault,
      );
    (hooked ? status.found : status.missing).push(`NestContainer.${method}`);
  }

  const factory =
    entry.NestFactory && typeof entry.NestFactory === 'object'
      ? (Object.getPrototypeOf(entry.NestFactory) as object | null)
      : null;
  for (const method of NEST_FACTORY_METHODS) {
    const hooked =
      factory !== null &&
      context.patches.wrap(
        factory,
        method,
        `NestFactoryStatic.${method}`,
        () => () => context.onAppReady(method === 'create'),
        context.onFault,
      );
    (hooked ? status.found : status.missing).push(`NestFactoryStatic.${method}`);
  }
  return status;
}
