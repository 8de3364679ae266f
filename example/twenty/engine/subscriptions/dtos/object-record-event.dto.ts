import { Field, ObjectType } from '@nestjs/graphql';

import { GraphQLJSON } from '../../core-modules/graphql/json.scalar';

@ObjectType('ObjectRecordEventProperties')
export class ObjectRecordEventPropertiesDTO {
  @Field(() => [String], { nullable: true })
  updatedFields?: string[];

  @Field(() => GraphQLJSON, { nullable: true })
  before?: unknown;

  @Field(() => GraphQLJSON, { nullable: true })
  after?: unknown;

  @Field(() => GraphQLJSON, { nullable: true })
  diff?: unknown;
}

@ObjectType('ObjectRecordEvent')
export class ObjectRecordEventDTO {
  @Field(() => String, { nullable: true })
  action?: string;

  @Field(() => String)
  objectNameSingular!: string;

  @Field(() => String)
  recordId!: string;

  @Field(() => String, { nullable: true })
  userId?: string;

  @Field(() => String, { nullable: true })
  workspaceMemberId?: string;

  @Field(() => ObjectRecordEventPropertiesDTO)
  properties!: ObjectRecordEventPropertiesDTO;
}
