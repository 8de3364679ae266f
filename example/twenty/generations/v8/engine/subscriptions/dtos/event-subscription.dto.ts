import { Field, ObjectType } from '@nestjs/graphql';

import { GraphQLJSON } from '../../../../../engine/core-modules/graphql/json.scalar';
import { ObjectRecordEventWithQueryIdsDTO } from '../../../../../engine/subscriptions/dtos/object-record-event-with-query-ids.dto';

@ObjectType('MetadataEventWithQueryIds')
export class MetadataEventWithQueryIdsDTO {
  @Field(() => [String])
  queryIds!: string[];

  @Field(() => GraphQLJSON)
  metadataEvent!: Record<string, unknown>;
}

@ObjectType('EventSubscription')
export class EventSubscriptionDTO {
  @Field(() => String)
  eventStreamId!: string;

  @Field(() => [ObjectRecordEventWithQueryIdsDTO])
  objectRecordEventsWithQueryIds!: ObjectRecordEventWithQueryIdsDTO[];

  @Field(() => [MetadataEventWithQueryIdsDTO])
  metadataEventsWithQueryIds!: MetadataEventWithQueryIdsDTO[];
}
