import { type GroundTruth } from '../../../../app/ground-truth';
import { type FlatObjectMetadata } from '../../metadata-modules/flat-entity.types';
import {
  type QueryRunnerLike,
  type WorkspaceEventEmitter,
} from '../../workspace-event-emitter/workspace-event-emitter';
import { type EventAuthorShape } from '../utils/format-twenty-orm-event-to-database-batch-event.util';
import { type WorkspaceRecordStore } from '../workspace-record-store';

export type WorkspaceInternalContext = {
  workspaceId: string;
  objectMetadataItem: FlatObjectMetadata;
  eventEmitterService: WorkspaceEventEmitter;
  recordStore: WorkspaceRecordStore;
  authorShape: EventAuthorShape;
  groundTruth: GroundTruth;
  // The workspace transaction the write runs in, if any (its events wait for COMMIT where the emitter defers).
  currentQueryRunner?: () => QueryRunnerLike | undefined;
};
