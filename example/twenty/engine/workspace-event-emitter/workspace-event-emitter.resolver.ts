import { Inject, type Type } from '@nestjs/common';
import { Args, Mutation, Resolver, Subscription } from '@nestjs/graphql';

import { isDefined } from '../../twenty-shared/utils';
import {
  AuthApiKey,
  AuthUser,
  AuthUserWorkspaceId,
  AuthWorkspace,
} from '../core-modules/auth/decorators/auth.decorators';
import { type AuthContextUser } from '../core-modules/auth/types/auth-context.type';
import {
  AddQuerySubscriptionInput,
  RemoveQueryFromEventStreamInput,
} from '../subscriptions/dtos/event-stream-inputs.dto';
import { EventSubscriptionDTO, type EventWithQueryIdsDTO } from '../subscriptions/dtos/legacy-event-subscription.dto';
import { OnDbEventDTO, OnDbEventInput } from '../subscriptions/dtos/on-db-event.dto';
import { SubscriptionChannel } from '../subscriptions/enums/subscription-channel.enum';
import { type EventStreamService } from '../subscriptions/event-stream.service';
import { EventStreamException, EventStreamExceptionCode } from '../subscriptions/event-stream.exception';
import { SubscriptionService } from '../subscriptions/subscription.service';
import { eventStreamIdToChannelId } from '../subscriptions/utils/get-channel-id-from-event-stream-id';
import {
  changeEventStreamQueries,
  openEventStreamIterator,
} from '../subscriptions/utils/event-stream-resolver.helpers';

type StreamStateService = Pick<
  EventStreamService,
  | 'getStreamData'
  | 'createEventStream'
  | 'destroyEventStream'
  | 'refreshEventStreamTTL'
  | 'isAuthorized'
  | 'addQuery'
  | 'removeQuery'
>;

// The resolver of the bare-array era (V1-V6), `WorkspaceEventEmitterResolver`
// in workspace-event-emitter.resolver.ts. V6 (and so V5) yields `[]` first;
// the earliest form yields nothing until the first event.
export const createWorkspaceEventEmitterResolver = ({
  eventStreamServiceClass,
  yieldsInitialValue,
}: {
  eventStreamServiceClass: Type<StreamStateService>;
  yieldsInitialValue: boolean;
}): Type<unknown> => {
  @Resolver()
  class WorkspaceEventEmitterResolver {
    constructor(
      private readonly subscriptionService: SubscriptionService,
      @Inject(eventStreamServiceClass)
      private readonly eventStreamService: StreamStateService,
    ) {}

    @Subscription(() => OnDbEventDTO, {
      filter: (payload: { onDbEvent: OnDbEventDTO }, variables: { input: OnDbEventInput }) =>
        (!isDefined(variables.input.action) || payload.onDbEvent.action === variables.input.action) &&
        (!isDefined(variables.input.objectNameSingular) ||
          payload.onDbEvent.objectNameSingular === variables.input.objectNameSingular) &&
        (!isDefined(variables.input.recordId) || payload.onDbEvent.record?.id === variables.input.recordId),
    })
    onDbEvent(@Args('input') _input: OnDbEventInput, @AuthWorkspace() workspace: { id: string }) {
      return this.subscriptionService.subscribe({
        channel: SubscriptionChannel.DATABASE_EVENT_CHANNEL,
        workspaceId: workspace.id,
      });
    }

    @Subscription(() => EventSubscriptionDTO, {
      nullable: true,
      resolve: (payload: EventWithQueryIdsDTO[], variables: { eventStreamId: string }) => ({
        eventStreamId: variables.eventStreamId,
        eventWithQueryIdsList: payload,
      }),
    })
    async onEventSubscription(
      @Args('eventStreamId') eventStreamId: string,
      @AuthWorkspace() workspace: { id: string },
      @AuthUser({ allowUndefined: true }) user: AuthContextUser | undefined,
      @AuthUserWorkspaceId({ allowUndefined: true }) userWorkspaceId: string | undefined,
      @AuthApiKey() apiKey: { id: string } | undefined,
    ) {
      const eventStreamChannelId = eventStreamIdToChannelId(eventStreamId);

      const streamData = await this.eventStreamService.getStreamData(workspace.id, eventStreamChannelId);

      if (isDefined(streamData)) {
        throw new EventStreamException(
          'Event stream already exists',
          EventStreamExceptionCode.EVENT_STREAM_ALREADY_EXISTS,
        );
      }

      await this.eventStreamService.createEventStream({
        workspaceId: workspace.id,
        eventStreamChannelId,
        authContext: { userId: user?.id, userWorkspaceId, apiKeyId: apiKey?.id },
      });

      return openEventStreamIterator<EventWithQueryIdsDTO[]>({
        subscriptionService: this.subscriptionService,
        eventStreamService: this.eventStreamService,
        workspaceId: workspace.id,
        eventStreamChannelId,
        initialValue: yieldsInitialValue ? [] : undefined,
      });
    }

    @Mutation(() => Boolean)
    async addQueryToEventStream(
      @Args('input') input: AddQuerySubscriptionInput,
      @AuthWorkspace() workspace: { id: string },
      @AuthUser({ allowUndefined: true }) _user: AuthContextUser | undefined,
      @AuthUserWorkspaceId({ allowUndefined: true }) userWorkspaceId: string | undefined,
      @AuthApiKey() apiKey: { id: string } | undefined,
    ): Promise<boolean> {
      return changeEventStreamQueries({
        eventStreamService: this.eventStreamService,
        workspaceId: workspace.id,
        eventStreamId: input.eventStreamId,
        authContext: { userWorkspaceId, apiKeyId: apiKey?.id },
        onMissingStream: 'throw',
        notAuthorizedMessage: 'You are not authorized to add a query to this event stream',
        change: (eventStreamChannelId) =>
          this.eventStreamService.addQuery({
            workspaceId: workspace.id,
            eventStreamChannelId,
            queryId: input.queryId,
            operationSignature: input.operationSignature as never,
          }),
      });
    }

    @Mutation(() => Boolean)
    async removeQueryFromEventStream(
      @Args('input') input: RemoveQueryFromEventStreamInput,
      @AuthWorkspace() workspace: { id: string },
      @AuthUser({ allowUndefined: true }) _user: AuthContextUser | undefined,
      @AuthUserWorkspaceId({ allowUndefined: true }) userWorkspaceId: string | undefined,
      @AuthApiKey() apiKey: { id: string } | undefined,
    ): Promise<boolean> {
      return changeEventStreamQueries({
        eventStreamService: this.eventStreamService,
        workspaceId: workspace.id,
        eventStreamId: input.eventStreamId,
        authContext: { userWorkspaceId, apiKeyId: apiKey?.id },
        onMissingStream: 'throw',
        notAuthorizedMessage: 'You are not authorized to remove a query from this event stream',
        change: (eventStreamChannelId) =>
          this.eventStreamService.removeQuery({
            workspaceId: workspace.id,
            eventStreamChannelId,
            queryId: input.queryId,
          }),
      });
    }
  }

  return WorkspaceEventEmitterResolver;
};
