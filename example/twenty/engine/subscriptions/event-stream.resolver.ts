import { type Type } from '@nestjs/common';
import { Args, Mutation, Resolver, Subscription } from '@nestjs/graphql';

import { isDefined } from '../../twenty-shared/utils';
import {
  AuthApiKey,
  AuthApplication,
  AuthUser,
  AuthUserWorkspaceId,
  AuthWorkspace,
} from '../core-modules/auth/decorators/auth.decorators';
import { type AuthContextUser } from '../core-modules/auth/types/auth-context.type';

import { AddQuerySubscriptionInput, RemoveQueryFromEventStreamInput } from './dtos/event-stream-inputs.dto';
import { EventStreamService } from './event-stream.service';
import { EventStreamException, EventStreamExceptionCode } from './event-stream.exception';
import { SubscriptionService } from './subscription.service';
import { eventStreamIdToChannelId } from './utils/get-channel-id-from-event-stream-id';
import { changeEventStreamQueries, openEventStreamIterator } from './utils/event-stream-resolver.helpers';

// The object-payload era (V7 onwards). `resolve` keeps only the keys the
// EventSubscription type declares: any other top-level payload key is dropped.
export const createEventStreamResolver = <Payload extends object>({
  eventSubscriptionDTO,
  initialValue,
  resolve,
}: {
  eventSubscriptionDTO: Type<unknown>;
  initialValue: Payload;
  resolve: (payload: Payload, variables: { eventStreamId: string }) => unknown;
}): Type<unknown> => {
  @Resolver()
  class EventStreamResolver {
    constructor(
      private readonly subscriptionService: SubscriptionService,
      private readonly eventStreamService: EventStreamService,
    ) {}

    @Subscription(() => eventSubscriptionDTO, { nullable: true, resolve })
    async onEventSubscription(
      @Args('eventStreamId') eventStreamId: string,
      @AuthWorkspace() workspace: { id: string },
      @AuthUser({ allowUndefined: true }) user: AuthContextUser | undefined,
      @AuthUserWorkspaceId({ allowUndefined: true }) userWorkspaceId: string | undefined,
      @AuthApiKey() apiKey: { id: string } | undefined,
      @AuthApplication() application: { id: string } | undefined,
    ) {
      const eventStreamChannelId = eventStreamIdToChannelId(eventStreamId);

      const existingStreamData = await this.eventStreamService.getStreamData(workspace.id, eventStreamChannelId);

      if (isDefined(existingStreamData)) {
        const isAuthorized = await this.eventStreamService.isAuthorized({
          streamData: existingStreamData,
          authContext: { userWorkspaceId, apiKeyId: apiKey?.id },
        });

        if (!isAuthorized) {
          throw new EventStreamException(
            'Event stream already exists',
            EventStreamExceptionCode.EVENT_STREAM_ALREADY_EXISTS,
          );
        }

        await this.eventStreamService.destroyEventStream({
          workspaceId: workspace.id,
          eventStreamChannelId,
        });
      }

      await this.eventStreamService.createEventStream({
        workspaceId: workspace.id,
        eventStreamChannelId,
        authContext: {
          userId: user?.id,
          userWorkspaceId,
          apiKeyId: apiKey?.id,
          ...(application && { applicationId: application.id }),
        },
      });

      return openEventStreamIterator<Payload>({
        subscriptionService: this.subscriptionService,
        eventStreamService: this.eventStreamService,
        workspaceId: workspace.id,
        eventStreamChannelId,
        initialValue,
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
        onMissingStream: 'return-false',
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
        onMissingStream: 'return-false',
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

  return EventStreamResolver;
};
