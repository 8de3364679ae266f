import { Injectable } from '@nestjs/common';

import { type ObjectRecordEvent } from '../../../../../../twenty-shared/database-events';
import { type EventRecordShareGate } from '../../../../../../engine/core-modules/record-share/types/event-record-access-gate.type';
import { buildEventRecordAccessGate } from '../../../../../../engine/core-modules/record-share/utils/build-event-record-access-gate.util';
import { RecordShareService } from '../../../../../../engine/record-share/record-share';
import { WorkspaceCacheService } from '../../../../../../engine/workspace-cache/workspace-cache.service';
import { type WorkspaceEventBatch } from '../../../../../../engine/workspace-event-emitter/types/workspace-event-batch.type';

// faec8d88: one record-share gate per batch; the subject's role must read the object,
// then record shares decide (the row-level rule is still the publisher's, in matching).
@Injectable()
export class RecordAccessPolicyService {
  constructor(
    private readonly recordShareService: RecordShareService,
    private readonly workspaceCacheService: WorkspaceCacheService,
  ) {}

  buildEventRecordShareGate(workspaceEventBatch: WorkspaceEventBatch<ObjectRecordEvent>): EventRecordShareGate {
    const { workspaceId, objectMetadata, events } = workspaceEventBatch;

    return buildEventRecordAccessGate({
      workspaceEventBatch,
      applyRowLevelRule: false,
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
