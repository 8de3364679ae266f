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

import { EVENT_STREAM_TTL_MS } from './constants/event-stream-ttl.constant';
import {
  AddQuerySubscriptionInput,
  RemoveQueryFromEventStreamInput,
} from './dtos/event-stream-inputs.dto';
import { EventStreamService } from './event-stream.service';
import { EventStreamException, EventStreamExceptionCode } from './event-stream.exception';
import { SubscriptionService } from './subscription.service';
import { eventStreamIdToChannelId } from './utils/get-channel-id-from-event-stream-id';
import { wrapAsyncIteratorWithLifecycle } from './utils/wrap-async-iterator-with-lifecycle';

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

      const existingStreamData = await this.eventStreamService.getStreamData(
        workspace.id,
        eventStreamChannelId,
      );

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

      let iterator: AsyncIterator<Payload>;

      try {
        iterator = await this.subscriptionService.subscribeToEventStream<Payload>({
          workspaceId: workspace.id,
          eventStreamChannelId,
        });
      } catch (error) {
        await this.eventStreamService.destroyEventStream({
          workspaceId: workspace.id,
          eventStreamChannelId,
        });
        throw error;
      }

      return wrapAsyncIteratorWithLifecycle(iterator, {
        initialValue,
        onHeartbeat: () =>
          this.eventStreamService.refreshEventStreamTTL({
            workspaceId: workspace.id,
            eventStreamChannelId,
          }),
        heartbeatIntervalMs: EVENT_STREAM_TTL_MS / 5,
        onCleanup: () =>
          this.eventStreamService.destroyEventStream({
            workspaceId: workspace.id,
            eventStreamChannelId,
          }),
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
      const eventStreamChannelId = eventStreamIdToChannelId(input.eventStreamId);
      const streamData = await this.eventStreamService.getStreamData(
        workspace.id,
        eventStreamChannelId,
      );

      if (!isDefined(streamData)) {
        return false;
      }

      const isAuthorized = await this.eventStreamService.isAuthorized({
        streamData,
        authContext: { userWorkspaceId, apiKeyId: apiKey?.id },
      });

      if (!isAuthorized) {
        throw new EventStreamException(
          'You are not authorized to add a query to this event stream',
          EventStreamExceptionCode.NOT_AUTHORIZED,
        );
      }

      await this.eventStreamService.addQuery({
        workspaceId: workspace.id,
        eventStreamChannelId,
        queryId: input.queryId,
        operationSignature: input.operationSignature as never,
      });

      return true;
    }

    @Mutation(() => Boolean)
    async removeQueryFromEventStream(
      @Args('input') input: RemoveQueryFromEventStreamInput,
      @AuthWorkspace() workspace: { id: string },
      @AuthUser({ allowUndefined: true }) _user: AuthContextUser | undefined,
      @AuthUserWorkspaceId({ allowUndefined: true }) userWorkspaceId: string | undefined,
      @AuthApiKey() apiKey: { id: string } | undefined,
    ): Promise<boolean> {
      const eventStreamChannelId = eventStreamIdToChannelId(input.eventStreamId);
      const streamData = await this.eventStreamService.getStreamData(
        workspace.id,
        eventStreamChannelId,
      );

      if (!isDefined(streamData)) {
        return false;
      }

      const isAuthorized = await this.eventStreamService.isAuthorized({
        streamData,
        authContext: { userWorkspaceId, apiKeyId: apiKey?.id },
      });

      if (!isAuthorized) {
        throw new EventStreamException(
          'You are not authorized to remove a query from this event stream',
          EventStreamExceptionCode.NOT_AUTHORIZED,
        );
      }

      await this.eventStreamService.removeQuery({
        workspaceId: workspace.id,
        eventStreamChannelId,
        queryId: input.queryId,
      });

      return true;
    }
  }

  return EventStreamResolver;
};
