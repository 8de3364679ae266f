import { Injectable } from '@nestjs/common';

import { type FlatObjectMetadata } from '../../../engine/metadata-modules/flat-entity.types';

// Whether a batch should become timeline activities. The newest listener awaits it
// before it publishes; failNextCalls() lets tests make it throw (a cache or DB outage).
@Injectable()
export class TimelineActivityRoutingPlanService {
  private failuresLeft = 0;

  failNextCalls(times: number): void {
    this.failuresLeft = times;
  }

  async shouldProcessEvent({
    flatObjectMetadata,
  }: {
    flatObjectMetadata: FlatObjectMetadata;
    workspaceId: string;
  }): Promise<boolean> {
    if (this.failuresLeft > 0) {
      this.failuresLeft--;
      throw new TimelineActivityRoutingPlanError(
        `Timeline routing plan unavailable for ${flatObjectMetadata.nameSingular}`,
      );
    }

    return flatObjectMetadata.isAuditLogged !== false;
  }
}

export class TimelineActivityRoutingPlanError extends Error {}
