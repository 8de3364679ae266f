import { Field, InputType } from '@nestjs/graphql';

import { GraphQLJSON } from '../../core-modules/graphql/json.scalar';

@InputType()
export class AddQuerySubscriptionInput {
  @Field()
  eventStreamId!: string;

  @Field()
  queryId!: string;

  @Field(() => GraphQLJSON)
  operationSignature!: Record<string, unknown>;
}

@InputType()
export class RemoveQueryFromEventStreamInput {
  @Field()
  eventStreamId!: string;

  @Field()
  queryId!: string;
}
