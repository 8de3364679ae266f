import { Generation } from '../../semconv';
import { GenerationModule } from '../generation';
import { PUBLISHER_GENERATION } from './publisher';
import { RECORD_ACCESS } from './record-access';
import { RECORD_SHARE } from './record-share';
import { V1 } from './v1';
import { V5 } from './v5';
import { V8 } from './v8';

/** Every generation, newest first: detection asks them in this order and the first that recognises the classes wins. */
export const GENERATION_MODULES: readonly GenerationModule[] = [
  RECORD_ACCESS,
  RECORD_SHARE,
  PUBLISHER_GENERATION,
  V8,
  V5,
  V1,
];

export function generationModule(id: Generation): GenerationModule {
  const found = GENERATION_MODULES.find((module) => module.id === id);
  if (!found) throw new Error(`no module for generation ${id}`);
  return found;
}
