import { Field, ObjectType } from '@nestjs/graphql';

import { ObjectRecordEventDTO } from './object-record-event.dto';

@ObjectType('ObjectRecordEventWithQueryIds')
export class ObjectRecordEventWithQueryIdsDTO {
  @Field(() => [String])
  queryIds!: string[];

  @Field(() => ObjectRecordEventDTO)
  objectRecordEvent!: ObjectRecordEventDTO;
}
