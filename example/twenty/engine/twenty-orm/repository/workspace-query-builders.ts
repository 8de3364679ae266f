import { DatabaseEventAction } from '../../api/graphql/graphql-query-runner/enums/database-event-action';
import { type WorkspaceAuthContext } from '../../core-modules/auth/types/auth-context.type';
import { computeEventName } from '../../workspace-event-emitter/utils/compute-event-name';
import { formatTwentyOrmEventToDatabaseBatchEvent } from '../utils/format-twenty-orm-event-to-database-batch-event.util';
import { type ObjectRecord } from '../workspace-record-store';

import { type WorkspaceInternalContext } from './workspace-internal-context.type';

export type WorkspaceQueryResult = { affected: number; raw: ObjectRecord[] };

// Shared plumbing of the twenty-orm query builders: each execute() selects
// "before", writes, selects "after", then hands both to the event formatter.
abstract class WorkspaceQueryBuilderBase {
  protected ids: string[] = [];

  constructor(
    protected readonly internalContext: WorkspaceInternalContext,
    protected readonly authContext: WorkspaceAuthContext | undefined,
  ) {}

  whereInIds(ids: string[]): this {
    this.ids = ids;

    return this;
  }

  protected get objectName(): string {
    return this.internalContext.objectMetadataItem.nameSingular;
  }

  protected selectByIds(ids: string[]): Promise<ObjectRecord[]> {
    return this.internalContext.recordStore.findByIds(this.internalContext.workspaceId, this.objectName, ids);
  }

  protected emitDatabaseBatchEvent(
    action: DatabaseEventAction,
    recordsAfter: ObjectRecord[],
    recordsBefore?: ObjectRecord[],
  ): void {
    const databaseBatchEventInput = formatTwentyOrmEventToDatabaseBatchEvent({
      action,
      objectMetadataItem: this.internalContext.objectMetadataItem,
      workspaceId: this.internalContext.workspaceId,
      authContext: this.authContext,
      recordsAfter,
      recordsBefore,
      authorShape: this.internalContext.authorShape,
    });

    this.internalContext.eventEmitterService.emitDatabaseBatchEvent(
      databaseBatchEventInput,
      this.internalContext.currentQueryRunner?.(),
    );

    const writtenIds = (recordsAfter.length > 0 ? recordsAfter : (recordsBefore ?? [])).map((record) => record.id);
    const emittedIds = new Set(databaseBatchEventInput?.events.map((event) => event.recordId));

    this.internalContext.groundTruth.notEmitted({
      workspaceId: this.internalContext.workspaceId,
      eventName: computeEventName(this.objectName, action),
      recordIds: writtenIds.filter((id) => !emittedIds.has(id)),
    });
  }

  // Twenty's insert and update builders follow the CREATED / UPDATED batch with
  // an UPSERTED batch of the same records (workflow "created or updated"
  // triggers and agents listen for it). No SSE listener handles '*.upserted'.
  protected emitUpsertedTwin(recordsAfter: ObjectRecord[], recordsBefore?: ObjectRecord[]): void {
    this.internalContext.eventEmitterService.emitDatabaseBatchEvent(
      formatTwentyOrmEventToDatabaseBatchEvent({
        action: DatabaseEventAction.UPSERTED,
        objectMetadataItem: this.internalContext.objectMetadataItem,
        workspaceId: this.internalContext.workspaceId,
        authContext: this.authContext,
        recordsAfter,
        recordsBefore,
        authorShape: this.internalContext.authorShape,
      }),
      this.internalContext.currentQueryRunner?.(),
    );
  }
}

export class WorkspaceInsertQueryBuilder extends WorkspaceQueryBuilderBase {
  private records: ObjectRecord[] = [];

  values(records: ObjectRecord[]): this {
    this.records = records;

    return this;
  }

  async execute(): Promise<WorkspaceQueryResult> {
    const now = new Date().toISOString();
    const recordsToInsert = this.records.map((record) => ({
      createdAt: now,
      updatedAt: now,
      deletedAt: null,
      ...record,
    }));

    await this.internalContext.recordStore.save(this.internalContext.workspaceId, this.objectName, recordsToInsert);

    const recordsAfter = await this.selectByIds(recordsToInsert.map((record) => record.id));

    this.emitDatabaseBatchEvent(DatabaseEventAction.CREATED, recordsAfter);
    this.emitUpsertedTwin(recordsAfter);

    return { affected: recordsAfter.length, raw: recordsAfter };
  }
}

export class WorkspaceUpdateQueryBuilder extends WorkspaceQueryBuilderBase {
  private values: Record<string, unknown> = {};

  set(values: Record<string, unknown>): this {
    this.values = values;

    return this;
  }

  async execute(): Promise<WorkspaceQueryResult> {
    const recordsBefore = await this.selectByIds(this.ids);

    const changedRecords = recordsBefore.map((before) => {
      const merged = { ...before, ...this.values, id: before.id };
      const hasChanges = Object.keys(this.values).some(
        (key) => JSON.stringify(before[key] ?? null) !== JSON.stringify(this.values[key] ?? null),
      );

      return hasChanges ? { ...merged, updatedAt: new Date().toISOString() } : merged;
    });

    await this.internalContext.recordStore.save(this.internalContext.workspaceId, this.objectName, changedRecords);

    const recordsAfter = await this.selectByIds(this.ids);

    this.emitDatabaseBatchEvent(DatabaseEventAction.UPDATED, recordsAfter, recordsBefore);
    this.emitUpsertedTwin(recordsAfter, recordsBefore);

    return { affected: recordsAfter.length, raw: recordsAfter };
  }
}

// Soft delete (DELETED) and restore (RESTORED) both go through this builder.
export class WorkspaceSoftDeleteQueryBuilder extends WorkspaceQueryBuilderBase {
  private action: DatabaseEventAction.DELETED | DatabaseEventAction.RESTORED = DatabaseEventAction.DELETED;

  softDelete(): this {
    this.action = DatabaseEventAction.DELETED;

    return this;
  }

  restore(): this {
    this.action = DatabaseEventAction.RESTORED;

    return this;
  }

  async execute(): Promise<WorkspaceQueryResult> {
    const recordsBefore = await this.selectByIds(this.ids);
    const deletedAt = this.action === DatabaseEventAction.DELETED ? new Date().toISOString() : null;

    await this.internalContext.recordStore.save(
      this.internalContext.workspaceId,
      this.objectName,
      recordsBefore.map((record) => ({ ...record, deletedAt })),
    );

    const recordsAfter = await this.selectByIds(this.ids);

    if (this.action === DatabaseEventAction.DELETED) {
      this.emitDatabaseBatchEvent(DatabaseEventAction.DELETED, [], recordsAfter);
    } else {
      this.emitDatabaseBatchEvent(DatabaseEventAction.RESTORED, recordsAfter, recordsBefore);
    }

    return { affected: recordsAfter.length, raw: recordsAfter };
  }
}

export class WorkspaceDeleteQueryBuilder extends WorkspaceQueryBuilderBase {
  async execute(): Promise<WorkspaceQueryResult> {
    const recordsBefore = await this.selectByIds(this.ids);

    await this.internalContext.recordStore.remove(
      this.internalContext.workspaceId,
      this.objectName,
      recordsBefore.map((record) => record.id),
    );

    this.emitDatabaseBatchEvent(DatabaseEventAction.DESTROYED, [], recordsBefore);

    return { affected: recordsBefore.length, raw: recordsBefore };
  }
}
