import { type Provider, type Type } from '@nestjs/common';

import { type TwentyGeneration } from '../../app/example-config';

// What differs between the Twenty versions the example reproduces.
export type GenerationParts = {
  generation: TwentyGeneration;
  // EventStreamService of that version (V1 carries the object-name matcher).
  eventStreamServiceClass: Type<unknown>;
  // WorkspaceEventEmitterService (V1-V8) or ObjectRecordEventPublisher.
  publisherProviders: Provider[];
  entityEventsToDbListener: Type<unknown>;
  // September 2026 (PR #25174): database events raised inside a workspace transaction wait for COMMIT.
  // Its WorkspaceEventEmitter, when the generation's emitter defers them.
  workspaceEventEmitterClass?: Type<unknown>;
  // Only the API server registers it.
  eventStreamResolver: Type<unknown>;
};
