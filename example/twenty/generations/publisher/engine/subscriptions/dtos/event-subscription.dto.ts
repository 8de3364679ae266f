import { Field, ObjectType } from '@nestjs/graphql';

import { GraphQLJSON } from '../../../../../engine/core-modules/graphql/json.scalar';
import { ObjectRecordEventWithQueryIdsDTO } from '../../../../../engine/subscriptions/dtos/object-record-event-with-query-ids.dto';

@ObjectType('MetadataEvent')
export class MetadataEventDTO {
  @Field(() => String)
  type!: string;

  @Field(() => String)
  metadataName!: string;

  @Field(() => String, { nullable: true })
  recordId?: string;

  @Field(() => GraphQLJSON, { nullable: true })
  properties?: Record<string, unknown>;
}

@ObjectType('EventSubscription')
export class EventSubscriptionDTO {
  @Field(() => String)
  eventStreamId!: string;

  @Field(() => [ObjectRecordEventWithQueryIdsDTO])
  objectRecordEventsWithQueryIds!: ObjectRecordEventWithQueryIdsDTO[];

  @Field(() => [MetadataEventDTO])
  metadataEvents!: MetadataEventDTO[];
}
