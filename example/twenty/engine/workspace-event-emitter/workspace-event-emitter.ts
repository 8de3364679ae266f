import { Injectable } from '@nestjs/common';
import { EventEmitter2 } from '@nestjs/event-emitter';

import { GroundTruth } from '../../../app/ground-truth';
import { type ObjectRecordEvent } from '../../twenty-shared/database-events';
import { isDefined } from '../../twenty-shared/utils';
import { type DatabaseEventAction } from '../api/graphql/graphql-query-runner/enums/database-event-action';
import { type FlatObjectMetadata } from '../metadata-modules/flat-entity.types';

import { type WorkspaceEventBatch } from './types/workspace-event-batch.type';
import { computeEventName } from './utils/compute-event-name';

export type DatabaseBatchEventInput = {
  objectMetadataNameSingular: string;
  action: DatabaseEventAction;
  events: ObjectRecordEvent[];
  objectMetadata: FlatObjectMetadata;
  workspaceId: string;
};

// The transaction handle the ORM passes along (TypeORM's QueryRunner in Twenty).
export type QueryRunnerLike = { isTransactionActive: boolean };

@Injectable()
export class WorkspaceEventEmitter {
  constructor(
    private readonly eventEmitter: EventEmitter2,
    private readonly groundTruth: GroundTruth,
  ) {}

  public emitDatabaseBatchEvent(
    databaseBatchEventInput: DatabaseBatchEventInput | undefined,
    _queryRunner?: QueryRunnerLike,
  ) {
    if (!isDefined(databaseBatchEventInput)) {
      return;
    }

    const { objectMetadataNameSingular, action, events, objectMetadata, workspaceId } = databaseBatchEventInput;

    if (!events.length) {
      return;
    }

    const eventName = computeEventName(objectMetadataNameSingular, action);

    const workspaceEventBatch: WorkspaceEventBatch<ObjectRecordEvent> = {
      name: eventName,
      workspaceId,
      objectMetadata,
      events,
    };

    this.groundTruth.emitted(workspaceEventBatch);
    this.eventEmitter.emit(eventName, workspaceEventBatch);
  }

  public emitCustomBatchEvent<T extends object>(eventName: string, events: T[], workspaceId: string | undefined) {
    if (!events.length) {
      return;
    }

    this.eventEmitter.emit(eventName, { name: eventName, workspaceId, events });
  }
}
