import { Field, InputType, ObjectType } from '@nestjs/graphql';

import { GraphQLJSON } from '../../core-modules/graphql/json.scalar';

// The legacy onDbEvent subscription (removed by PR #18740).
@ObjectType('OnDbEvent')
export class OnDbEventDTO {
  @Field(() => String)
  action!: string;

  @Field(() => String)
  objectNameSingular!: string;

  @Field(() => String)
  eventDate!: string;

  @Field(() => GraphQLJSON, { nullable: true })
  record?: Record<string, unknown>;

  @Field(() => [String], { nullable: true })
  updatedFields?: string[];
}

@InputType()
export class OnDbEventInput {
  @Field(() => String, { nullable: true })
  action?: string;

  @Field(() => String, { nullable: true })
  objectNameSingular?: string;

  @Field(() => String, { nullable: true })
  recordId?: string;
}
