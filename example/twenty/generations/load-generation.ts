import { type TwentyGeneration } from '../../app/example-config';

import { type GenerationParts } from './generation-parts.type';

// Loaded on demand so that a process only ever holds one version's classes,
// as a real Twenty deployment does (version detection looks at what exists).
export const loadGeneration = (generation: TwentyGeneration): GenerationParts => {
  switch (generation) {
    case 'v1':
      return (require('./v1') as { generationParts: GenerationParts }).generationParts;
    case 'v5':
      return (require('./v5') as { generationParts: GenerationParts }).generationParts;
    case 'v8':
      return (require('./v8') as { generationParts: GenerationParts }).generationParts;
    case 'publisher':
      return (require('./publisher') as { generationParts: GenerationParts }).generationParts;
    case 'record_share':
      return (require('./record_share') as { generationParts: GenerationParts }).generationParts;
    case 'record_access':
      return (require('./record_access') as { generationParts: GenerationParts }).generationParts;
  }
};
