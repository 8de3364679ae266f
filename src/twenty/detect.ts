import { Generation } from '../semconv';
import { ClassTarget, GenerationModule } from './generation';
import { GENERATION_MODULES } from './generations';

/**
 * Which generation a process runs, from the classes it has and their
 * methods. The same question the static `check` asks of a build's source.
 */
export function detectGenerationFrom(
  methodsOf: (className: string) => ReadonlySet<string> | undefined,
): GenerationModule | undefined {
  return GENERATION_MODULES.find((module) => module.detect(methodsOf));
}

/**
 * Generation from the targets a process reported found (the
 * twenty_sse_instrumentation_targets metric): the found methods stand for the
 * classes' methods, which is all detection looks at.
 */
export function detectGenerationFromTargets(
  found: ReadonlyArray<{ className: string; method: string }>,
): Generation | undefined {
  const methods = new Map<string, Set<string>>();
  for (const { className, method } of found) {
    let names = methods.get(className);
    if (!names) methods.set(className, (names = new Set()));
    names.add(method);
  }
  return detectGenerationFrom((className) => methods.get(className))?.id;
}

/** Method names along a class's prototype chain (below Object.prototype). */
export function methodNames(cls: Function): Set<string> {
  const names = new Set<string>();
  let owner: object | null = cls.prototype as object;
  while (owner && owner !== Object.prototype) {
    for (const name of Object.getOwnPropertyNames(owner)) {
      if (name === 'constructor') continue;
      const descriptor = Object.getOwnPropertyDescriptor(owner, name);
      if (descriptor && typeof descriptor.value === 'function') names.add(name);
    }
    owner = Object.getPrototypeOf(owner);
  }
  return names;
}

/** Generation from classes seen at runtime (class name -> class). */
export function detectGeneration(classes: Map<string, Function>): Generation | undefined {
  const cache = new Map<string, Set<string>>();
  return detectGenerationFrom((className) => {
    const cls = classes.get(className);
    if (!cls) return undefined;
    let names = cache.get(className);
    if (!names) cache.set(className, (names = methodNames(cls)));
    return names;
  })?.id;
}

/** Every target of every generation, once per (class, method alternatives): what the instrumenter patches. */
export function allTargets(): ClassTarget[] {
  const byClass = new Map<string, ClassTarget>();
  for (const module of GENERATION_MODULES) {
    for (const target of module.targets) {
      let merged = byClass.get(target.className);
      if (!merged) byClass.set(target.className, (merged = { ...target, methods: [] }));
      for (const method of target.methods) {
        const key = method.names.join('|');
        if (!merged.methods.some((existing) => existing.names.join('|') === key)) merged.methods.push(method);
      }
    }
  }
  return [...byClass.values()];
}
