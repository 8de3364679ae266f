// Shapes of twenty-shared/database-events (ObjectRecordBaseEvent and subclasses).

export type ObjectRecordEventAuthor = {
  userId?: string;
  userWorkspaceId?: string;
  workspaceMemberId?: string;
  apiKeyId?: string;
  applicationId?: string;
};

export type ObjectRecordDiff<T> = {
  [K in keyof T]?: { before: T[K]; after: T[K] };
};

export type ObjectRecordProperties<T = Record<string, unknown>> = {
  updatedFields?: string[];
  before?: T;
  after?: T;
  diff?: Partial<ObjectRecordDiff<T>>;
};

export class ObjectRecordBaseEvent<T = Record<string, unknown>> {
  recordId!: string;
  userId?: string;
  userWorkspaceId?: string;
  workspaceMemberId?: string;
  apiKeyId?: string;
  applicationId?: string;
  properties!: ObjectRecordProperties<T>;
}

export class ObjectRecordCreateEvent<T = Record<string, unknown>> extends ObjectRecordBaseEvent<T> {}
export class ObjectRecordUpdateEvent<T = Record<string, unknown>> extends ObjectRecordBaseEvent<T> {}
export class ObjectRecordDeleteEvent<T = Record<string, unknown>> extends ObjectRecordBaseEvent<T> {}
export class ObjectRecordDestroyEvent<T = Record<string, unknown>> extends ObjectRecordBaseEvent<T> {}
export class ObjectRecordRestoreEvent<T = Record<string, unknown>> extends ObjectRecordBaseEvent<T> {}
export class ObjectRecordUpsertEvent<T = Record<string, unknown>> extends ObjectRecordBaseEvent<T> {}

export type ObjectRecordEvent<T = Record<string, unknown>> =
  | ObjectRecordCreateEvent<T>
  | ObjectRecordUpdateEvent<T>
  | ObjectRecordDeleteEvent<T>
  | ObjectRecordDestroyEvent<T>
  | ObjectRecordRestoreEvent<T>
  | ObjectRecordUpsertEvent<T>;
