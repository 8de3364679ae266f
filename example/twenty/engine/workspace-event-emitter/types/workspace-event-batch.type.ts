import { type FlatObjectMetadata } from '../../metadata-modules/flat-entity.types';

export type WorkspaceEventBatch<E> = {
  name: string;
  workspaceId: string;
  objectMetadata: FlatObjectMetadata;
  events: E[];
};
