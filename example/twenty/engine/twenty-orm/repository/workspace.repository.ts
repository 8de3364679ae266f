import { v4 } from 'uuid';

import { type WorkspaceAuthContext } from '../../core-modules/auth/types/auth-context.type';
import { type ObjectRecord } from '../workspace-record-store';

import { type WorkspaceInternalContext } from './workspace-internal-context.type';
import {
  WorkspaceDeleteQueryBuilder,
  WorkspaceInsertQueryBuilder,
  WorkspaceSoftDeleteQueryBuilder,
  WorkspaceUpdateQueryBuilder,
} from './workspace-query-builders';

export class WorkspaceRepository {
  constructor(
    private readonly internalContext: WorkspaceInternalContext,
    private readonly authContext: WorkspaceAuthContext | undefined,
  ) {}

  async findOneBy({ id }: { id: string }): Promise<ObjectRecord | null> {
    const [record] = await this.internalContext.recordStore.findByIds(
      this.internalContext.workspaceId,
      this.internalContext.objectMetadataItem.nameSingular,
      [id],
    );

    return record ?? null;
  }

  async insert(records: (Record<string, unknown> & { id?: string })[]): Promise<ObjectRecord[]> {
    const { raw } = await new WorkspaceInsertQueryBuilder(this.internalContext, this.authContext)
      .values(records.map((record) => ({ ...record, id: record.id ?? v4() })))
      .execute();

    return raw;
  }

  async update(id: string, values: Record<string, unknown>): Promise<ObjectRecord | null> {
    const { raw } = await new WorkspaceUpdateQueryBuilder(this.internalContext, this.authContext)
      .set(values)
      .whereInIds([id])
      .execute();

    return raw[0] ?? null;
  }

  async softDelete(id: string): Promise<ObjectRecord | null> {
    const { raw } = await new WorkspaceSoftDeleteQueryBuilder(this.internalContext, this.authContext)
      .softDelete()
      .whereInIds([id])
      .execute();

    return raw[0] ?? null;
  }

  async restore(id: string): Promise<ObjectRecord | null> {
    const { raw } = await new WorkspaceSoftDeleteQueryBuilder(this.internalContext, this.authContext)
      .restore()
      .whereInIds([id])
      .execute();

    return raw[0] ?? null;
  }

  async delete(id: string): Promise<ObjectRecord | null> {
    const { raw } = await new WorkspaceDeleteQueryBuilder(this.internalContext, this.authContext)
      .whereInIds([id])
      .execute();

    return raw[0] ?? null;
  }
}
