import { Injectable } from '@nestjs/common';

import { type ObjectRecordEvent } from '../../../../../../twenty-shared/database-events';
import { type EventRecordAccessGate } from '../../../../../../engine/core-modules/record-share/types/event-record-access-gate.type';
import { buildEventRecordAccessGate } from '../../../../../../engine/core-modules/record-share/utils/build-event-record-access-gate.util';
import { RecordShareService } from '../../../../../../engine/record-share/record-share';
import { WorkspaceCacheService } from '../../../../../../engine/workspace-cache/workspace-cache.service';
import { type WorkspaceEventBatch } from '../../../../../../engine/workspace-event-emitter/types/workspace-event-batch.type';

// 2c712b6a: one gate per batch; the subject's role must read the object and its
// row-level rule must hold on the event's record before record shares are consulted.
@Injectable()
export class RecordAccessPolicyService {
  constructor(
    private readonly recordShareService: RecordShareService,
    private readonly workspaceCacheService: WorkspaceCacheService,
  ) {}

  buildEventRecordAccessGate(workspaceEventBatch: WorkspaceEventBatch<ObjectRecordEvent>): EventRecordAccessGate {
    const { workspaceId, objectMetadata, events } = workspaceEventBatch;

    return buildEventRecordAccessGate({
      workspaceEventBatch,
      applyRowLevelRule: true,
      fetchRecordShares: () =>
        this.recordShareService.findByRecordIds({
          workspaceId,
          objectMetadataId: objectMetadata.id,
          recordIds: events.map((event) => event.recordId),
        }),
      fetchContext: () =>
        this.workspaceCacheService.getOrRecompute(workspaceId, ['featureFlagsMap', 'flatFieldMetadataMaps']),
    });
  }
}
