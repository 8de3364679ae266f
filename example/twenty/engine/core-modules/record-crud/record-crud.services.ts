import { Injectable } from '@nestjs/common';

import { type ActorMetadata } from '../../../twenty-shared/types';
import { GlobalWorkspaceOrmManager } from '../../twenty-orm/global-workspace-orm.manager';
import { type ObjectRecord } from '../../twenty-orm/workspace-record-store';
import { type WorkspaceAuthContext } from '../auth/types/auth-context.type';

// Twenty's record-crud services (src/engine/core-modules/record-crud/services),
// shared by workflow actions and AI tools. They report failures as values.
export type RecordCrudOutput = {
  success: boolean;
  result?: ObjectRecord;
  error?: string;
  message?: string;
};

const toFailure = (error: unknown): RecordCrudOutput => ({
  success: false,
  error: error instanceof Error ? error.message : String(error),
});

type WorkspaceRepository = Awaited<ReturnType<GlobalWorkspaceOrmManager['getRepository']>>;

// The repository of `objectName` as `authContext` sees it; any throw becomes a failure value.
const withRepository = async (
  globalWorkspaceOrmManager: GlobalWorkspaceOrmManager,
  { objectName, authContext }: { objectName: string; authContext: WorkspaceAuthContext },
  work: (repository: WorkspaceRepository) => Promise<RecordCrudOutput>,
): Promise<RecordCrudOutput> => {
  try {
    const repository = await globalWorkspaceOrmManager.getRepository({
      workspaceId: authContext.workspace.id,
      objectNameSingular: objectName,
      authContext,
    });

    return await work(repository);
  } catch (error) {
    return toFailure(error);
  }
};

@Injectable()
export class CreateRecordService {
  constructor(private readonly globalWorkspaceOrmManager: GlobalWorkspaceOrmManager) {}

  async execute({
    objectName,
    objectRecord,
    authContext,
    createdBy,
  }: {
    objectName: string;
    objectRecord: Record<string, unknown>;
    authContext: WorkspaceAuthContext;
    createdBy?: ActorMetadata;
  }): Promise<RecordCrudOutput> {
    return withRepository(this.globalWorkspaceOrmManager, { objectName, authContext }, async (repository) => {
      const [result] = await repository.insert([{ ...objectRecord, ...(createdBy && { createdBy }) }]);

      return { success: true, result };
    });
  }
}

@Injectable()
export class UpdateRecordService {
  constructor(private readonly globalWorkspaceOrmManager: GlobalWorkspaceOrmManager) {}

  async execute({
    objectName,
    objectRecordId,
    objectRecord,
    fieldsToUpdate,
    authContext,
    updatedBy,
  }: {
    objectName: string;
    objectRecordId: string;
    objectRecord: Record<string, unknown>;
    fieldsToUpdate?: string[];
    authContext: WorkspaceAuthContext;
    updatedBy?: ActorMetadata;
  }): Promise<RecordCrudOutput> {
    return withRepository(this.globalWorkspaceOrmManager, { objectName, authContext }, async (repository) => {
      const previousRecord = await repository.findOneBy({ id: objectRecordId });

      if (!previousRecord) {
        return { success: false, error: `Record ${objectName} ${objectRecordId} not found` };
      }

      const fields = fieldsToUpdate ?? Object.keys(objectRecord);

      if (fields.length === 0) {
        return { success: true, result: previousRecord };
      }

      const values = Object.fromEntries(Object.entries(objectRecord).filter(([key]) => fields.includes(key)));
      const result = await repository.update(objectRecordId, {
        ...values,
        ...(updatedBy && { updatedBy }),
      });

      return { success: true, result: result ?? previousRecord };
    });
  }
}

@Injectable()
export class DeleteRecordService {
  constructor(private readonly globalWorkspaceOrmManager: GlobalWorkspaceOrmManager) {}

  async execute({
    objectName,
    objectRecordId,
    authContext,
    soft = true,
  }: {
    objectName: string;
    objectRecordId: string;
    authContext: WorkspaceAuthContext;
    soft?: boolean;
  }): Promise<RecordCrudOutput> {
    return withRepository(this.globalWorkspaceOrmManager, { objectName, authContext }, async (repository) => {
      const result = soft ? await repository.softDelete(objectRecordId) : await repository.delete(objectRecordId);

      if (!result) {
        return { success: false, error: `Record ${objectName} ${objectRecordId} not found` };
      }

      return { success: true, result };
    });
  }
}

// Upsert by id: an existing record is updated (UPDATED event), otherwise it is
// created (CREATED event), as Twenty's createOne(upsert: true) does.
@Injectable()
export class UpsertRecordService {
  constructor(private readonly globalWorkspaceOrmManager: GlobalWorkspaceOrmManager) {}

  async execute({
    objectName,
    objectRecord,
    authContext,
  }: {
    objectName: string;
    objectRecord: Record<string, unknown> & { id?: string };
    authContext: WorkspaceAuthContext;
  }): Promise<RecordCrudOutput> {
    return withRepository(this.globalWorkspaceOrmManager, { objectName, authContext }, async (repository) => {
      const existing = objectRecord.id ? await repository.findOneBy({ id: objectRecord.id }) : null;

      if (existing) {
        const { id, ...values } = objectRecord;

        return { success: true, result: (await repository.update(id as string, values)) ?? existing };
      }
      const [result] = await repository.insert([objectRecord]);

      return { success: true, result };
    });
  }
}

export const RECORD_CRUD_SERVICES = [
  CreateRecordService,
  UpdateRecordService,
  DeleteRecordService,
  UpsertRecordService,
];
