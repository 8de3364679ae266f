import Module = require('module');
import { Instrumenter } from './twenty/instrumenter';
import { Telemetry } from './otel/telemetry';
import { wrapMethod } from './engine/wrap';

/**
 * The zero-code path. Two hooks, both idempotent and both feeding the same
 * Instrumenter:
 * 1. every application module (not under node_modules) is looked at once,
 *    right after it has run: exported classes with a target name are patched
 *    before Nest ever sees them (SWC's getter-only exports are read, never
 *    reassigned);
 * 2. @nestjs/core's DependenciesScanner.insertProvider patches each provider
 *    class as Nest registers it, i.e. before instantiation and before any
 *    explorer (@OnEvent, @Process, resolvers) reads its metadata; this covers
 *    classes Nest gets from anywhere, for NestFactory.create and
 *    createApplicationContext alike. NestFactory's create and
 *    createApplicationContext are observed to print the startup report once
 *    the app is initialized.
 */
export interface LoadHookHandle {
  uninstall(): void;
}

type JsLoader = (module: NodeJS.Module, filename: string) => void;
type ModuleWithExtensions = typeof Module & { _extensions: Record<string, JsLoader> };

const NEST_SCANNER = /[\\/]@nestjs[\\/]core[\\/]scanner\.js$/;
const NEST_FACTORY = /[\\/]@nestjs[\\/]core[\\/]nest-factory\.js$/;
const NODE_MODULES = /[\\/]node_modules[\\/]/;

export function installLoadHook(instrumenter: Instrumenter, telemetry: Telemetry, onAppReady: () => void): LoadHookHandle {
  const extensions = (Module as ModuleWithExtensions)._extensions;
  const originalLoader = extensions['.js'];
  const fault = (component: string, error: unknown) => telemetry.fault(component, error);

  const hookedLoader: JsLoader = function (this: unknown, module, filename) {
    originalLoader.call(this, module, filename);
    try {
      if (NODE_MODULES.test(filename)) {
        if (NEST_SCANNER.test(filename)) hookNestScanner(module.exports, instrumenter, fault);
        else if (NEST_FACTORY.test(filename)) hookNestFactory(module.exports, onAppReady, fault);
        return;
      }
      scanExports(module.exports, instrumenter);
    } catch (error) {
      telemetry.fault('load-hook', error);
    }
  };
  extensions['.js'] = hookedLoader;
  return {
    uninstall() {
      if (extensions['.js'] === hookedLoader) extensions['.js'] = originalLoader;
    },
  };
}

function scanExports(exported: unknown, instrumenter: Instrumenter): void {
  if (typeof exported === 'function') {
    instrumenter.instrumentClass(exported);
    return;
  }
  if (!exported || typeof exported !== 'object') return;
  for (const key of Object.keys(exported)) {
    const descriptor = Object.getOwnPropertyDescriptor(exported, key);
    // SWC and tsc emit either plain values or a getter returning the local binding; both are safe to read.
    const value = descriptor && ('value' in descriptor ? descriptor.value : descriptor.get?.call(exported));
    if (typeof value === 'function') instrumenter.instrumentClass(value);
  }
}

function providerClass(provider: unknown): unknown {
  if (typeof provider === 'function') return provider;
  if (provider && typeof provider === 'object') {
    const custom = provider as { useClass?: unknown };
    if (typeof custom.useClass === 'function') return custom.useClass;
  }
  return undefined;
}

export function hookNestScanner(exported: unknown, instrumenter: Instrumenter, onFault: (c: string, e: unknown) => void): void {
  const scanner = (exported as { DependenciesScanner?: { prototype: object } } | undefined)?.DependenciesScanner;
  if (!scanner?.prototype) return;
  for (const method of ['insertProvider', 'insertController']) {
    wrapMethod(
      scanner.prototype,
      method,
      `DependenciesScanner.${method}`,
      (_self, args) => {
        instrumenter.instrumentClass(providerClass(args[0]));
        return undefined;
      },
      onFault,
    );
  }
}

export function hookNestFactory(exported: unknown, onAppReady: () => void, onFault: (c: string, e: unknown) => void): void {
  const factory = (exported as { NestFactoryStatic?: { prototype: object } } | undefined)?.NestFactoryStatic;
  if (!factory?.prototype) return;
  for (const method of ['create', 'createApplicationContext', 'createMicroservice']) {
    wrapMethod(
      factory.prototype,
      method,
      `NestFactoryStatic.${method}`,
      () => ({
        run: (call) => call(),
        onReturn: () => onAppReady(),
        onThrow: () => undefined,
      }),
      onFault,
    );
  }
}
