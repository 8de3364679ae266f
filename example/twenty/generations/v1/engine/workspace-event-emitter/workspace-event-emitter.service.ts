import { Injectable } from '@nestjs/common';

import { GroundTruth } from '../../../../../app/ground-truth';
import { type ObjectRecordEvent } from '../../../../twenty-shared/database-events';
import { isDefined } from '../../../../twenty-shared/utils';
import { SubscriptionService } from '../../../../engine/subscriptions/subscription.service';
import { type EventStreamData } from '../../../../engine/subscriptions/types/event-stream-data.type';
import { type WorkspaceEventBatch } from '../../../../engine/workspace-event-emitter/types/workspace-event-batch.type';
import { matchBatchEventsForStream } from '../../../../engine/workspace-event-emitter/utils/match-batch-events-for-stream.util';
import { publishBatchToLegacyChannel } from '../../../../engine/workspace-event-emitter/utils/publish-batch-to-legacy-channel.util';
import { EventStreamService } from '../subscriptions/event-stream.service';

// V1 of the event-stream publisher, in the shape of commit 0c76dde0: streams
// matched by object name only, no permission checks, bare-array payload.
@Injectable()
export class WorkspaceEventEmitterService {
  constructor(
    private readonly subscriptionService: SubscriptionService,
    private readonly eventStreamService: EventStreamService,
    private readonly groundTruth: GroundTruth,
  ) {}

  async publish(workspaceEventBatch: WorkspaceEventBatch<ObjectRecordEvent>): Promise<void> {
    // Publish individual events to legacy channel (onDbEvent)
    await publishBatchToLegacyChannel(this.subscriptionService, workspaceEventBatch);

    await this.publishToEventStreams(workspaceEventBatch);
  }

  private async publishToEventStreams(workspaceEventBatch: WorkspaceEventBatch<ObjectRecordEvent>): Promise<void> {
    const workspaceId = workspaceEventBatch.workspaceId;

    const activeStreamIds = await this.eventStreamService.getActiveStreamIds(workspaceId);

    if (activeStreamIds.length === 0) {
      this.groundTruth.fanoutDrop(workspaceEventBatch);
      return;
    }

    const streamsData = await this.eventStreamService.getStreamsData(workspaceId, activeStreamIds);

    const streamIdsToRemove: string[] = [];

    for (const [streamChannelId, streamData] of streamsData) {
      if (!isDefined(streamData)) {
        streamIdsToRemove.push(streamChannelId);
        this.groundTruth.streamDrop('D2', workspaceEventBatch, streamChannelId);
        continue;
      }

      // No empty-queries check in this version: such a stream reaches
      // processStreamEvents and every event fails to match (recorded as D3).
      await this.processStreamEvents(streamChannelId, streamData, workspaceEventBatch);
    }

    await this.eventStreamService.removeFromActiveStreams(workspaceId, streamIdsToRemove);
  }

  private async processStreamEvents(
    streamChannelId: string,
    streamData: EventStreamData,
    workspaceEventBatch: WorkspaceEventBatch<ObjectRecordEvent>,
  ): Promise<void> {
    // No permission checks and no restricted-field filtering in this generation.
    const matchedEvents = matchBatchEventsForStream({
      workspaceEventBatch,
      streamChannelId,
      groundTruth: this.groundTruth,
      getMatchingQueryIds: (event) => this.eventStreamService.matchQueriesWithEvent(streamData.queries, event),
      noMatchDropCode: Object.keys(streamData.queries).length === 0 ? 'D3' : 'D8',
      toMatchedEvent: (queryIds, event) => ({ queryIds, event }),
    });

    if (matchedEvents.length > 0) {
      this.groundTruth.forwarded(
        workspaceEventBatch,
        streamChannelId,
        matchedEvents.map(({ event }) => event),
      );
      await this.subscriptionService.publishToEventStream({
        workspaceId: workspaceEventBatch.workspaceId,
        eventStreamChannelId: streamChannelId,
        payload: matchedEvents,
      });
    }
  }
}
