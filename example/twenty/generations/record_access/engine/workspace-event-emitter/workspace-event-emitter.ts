import { Injectable } from '@nestjs/common';
import { EventEmitter2 } from '@nestjs/event-emitter';

import { GroundTruth } from '../../../../../app/ground-truth';
import { type ObjectRecordEvent } from '../../../../twenty-shared/database-events';
import { isDefined } from '../../../../twenty-shared/utils';
import { type WorkspaceEventBatch } from '../../../../engine/workspace-event-emitter/types/workspace-event-batch.type';
import { computeEventName } from '../../../../engine/workspace-event-emitter/utils/compute-event-name';
import {
  type DatabaseBatchEventInput,
  type QueryRunnerLike,
} from '../../../../engine/workspace-event-emitter/workspace-event-emitter';

type PendingDatabaseBatchEvent = { transactionDepth: number; emit: () => void };

// The emitter after PR #25174 (both September 2026 forms): a database batch event
// raised while a workspace transaction is active waits for the outer COMMIT and
// is dropped on rollback. The ORM marks the transaction's start and reports its
// end; emitDatabaseBatchEventNow does what emitDatabaseBatchEvent did before.
@Injectable()
export class WorkspaceEventEmitter {
  constructor(
    private readonly eventEmitter: EventEmitter2,
    private readonly groundTruth: GroundTruth,
  ) {}

  private readonly pendingDatabaseBatchEvents = new WeakMap<QueryRunnerLike, PendingDatabaseBatchEvent[]>();
  private readonly transactionDepthByQueryRunner = new WeakMap<QueryRunnerLike, number>();

  public emitDatabaseBatchEvent(
    databaseBatchEventInput: DatabaseBatchEventInput | undefined,
    queryRunner?: QueryRunnerLike,
  ) {
    if (!isDefined(databaseBatchEventInput) || databaseBatchEventInput.events.length === 0) {
      return;
    }

    if (queryRunner?.isTransactionActive) {
      const pendingEvents = this.pendingDatabaseBatchEvents.get(queryRunner) ?? [];

      pendingEvents.push({
        transactionDepth: this.transactionDepthByQueryRunner.get(queryRunner) ?? 1,
        emit: () => this.emitDatabaseBatchEventNow(databaseBatchEventInput),
      });
      this.pendingDatabaseBatchEvents.set(queryRunner, pendingEvents);

      return;
    }

    this.emitDatabaseBatchEventNow(databaseBatchEventInput);
  }

  public markTransactionStarted(queryRunner: QueryRunnerLike): void {
    this.transactionDepthByQueryRunner.set(queryRunner, (this.transactionDepthByQueryRunner.get(queryRunner) ?? 0) + 1);
  }

  public flushDatabaseBatchEventsAfterCommit(queryRunner: QueryRunnerLike): void {
    const currentDepth = this.transactionDepthByQueryRunner.get(queryRunner) ?? 1;

    if (currentDepth > 1) {
      this.transactionDepthByQueryRunner.set(queryRunner, currentDepth - 1);

      return;
    }

    this.transactionDepthByQueryRunner.delete(queryRunner);
    if (queryRunner.isTransactionActive) {
      return;
    }

    const pendingEvents = this.pendingDatabaseBatchEvents.get(queryRunner) ?? [];

    this.pendingDatabaseBatchEvents.delete(queryRunner);

    for (const pendingEvent of pendingEvents) {
      pendingEvent.emit();
    }
  }

  public discardDatabaseBatchEventsAfterRollback(queryRunner: QueryRunnerLike): void {
    const rolledBackDepth = this.transactionDepthByQueryRunner.get(queryRunner) ?? 1;
    const remainingEvents = (this.pendingDatabaseBatchEvents.get(queryRunner) ?? []).filter(
      (pendingEvent) => pendingEvent.transactionDepth < rolledBackDepth,
    );

    if (remainingEvents.length > 0) {
      this.pendingDatabaseBatchEvents.set(queryRunner, remainingEvents);
    } else {
      this.pendingDatabaseBatchEvents.delete(queryRunner);
    }

    if (rolledBackDepth > 1) {
      this.transactionDepthByQueryRunner.set(queryRunner, rolledBackDepth - 1);
    } else {
      this.transactionDepthByQueryRunner.delete(queryRunner);
    }
  }

  public clearPendingDatabaseBatchEvents(queryRunner: QueryRunnerLike): void {
    this.pendingDatabaseBatchEvents.delete(queryRunner);
    this.transactionDepthByQueryRunner.delete(queryRunner);
  }

  public emitCustomBatchEvent<T extends object>(eventName: string, events: T[], workspaceId: string | undefined) {
    if (!events.length) {
      return;
    }

    this.eventEmitter.emit(eventName, { name: eventName, workspaceId, events });
  }

  private emitDatabaseBatchEventNow(databaseBatchEventInput: DatabaseBatchEventInput): void {
    const { objectMetadataNameSingular, action, events, objectMetadata, workspaceId } = databaseBatchEventInput;
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
}
