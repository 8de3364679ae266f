import {
  ObjectRecordCreateEvent,
  ObjectRecordDeleteEvent,
  ObjectRecordDestroyEvent,
  type ObjectRecordEvent,
  type ObjectRecordEventAuthor,
  ObjectRecordRestoreEvent,
  ObjectRecordUpdateEvent,
  ObjectRecordUpsertEvent,
} from '../../../twenty-shared/database-events';
import { isDefined } from '../../../twenty-shared/utils';
import { DatabaseEventAction } from '../../api/graphql/graphql-query-runner/enums/database-event-action';
import { type WorkspaceAuthContext } from '../../core-modules/auth/types/auth-context.type';
import { type FlatObjectMetadata, STANDARD_OBJECT_IDS } from '../../metadata-modules/flat-entity.types';
import { type DatabaseBatchEventInput } from '../../workspace-event-emitter/workspace-event-emitter';

import { buildObjectRecordEventAuthor } from './build-object-record-event-author.util';
import { objectRecordChangedValues } from './object-record-changed-values';

type ObjectRecord = Record<string, unknown> & { id: string };

// Which author fields an event carries depends on the Twenty version: before the
// ObjectRecordEventAuthor helper only userId and workspaceMemberId were set.
export type EventAuthorShape = 'user-and-member' | 'full-author';

const buildAuthorFields = (
  authContext: WorkspaceAuthContext | undefined,
  authorShape: EventAuthorShape,
): ObjectRecordEventAuthor => {
  if (authorShape === 'full-author') {
    return buildObjectRecordEventAuthor(authContext);
  }

  return {
    userId: authContext?.user?.id,
    workspaceMemberId: authContext?.workspaceMemberId,
  };
};

const findBefore = (beforeEntities: ObjectRecord[] | undefined, id: string) =>
  beforeEntities?.find((before) => before.id === id);

export const formatTwentyOrmEventToDatabaseBatchEvent = ({
  action,
  objectMetadataItem,
  workspaceId,
  authContext,
  recordsAfter,
  recordsBefore,
  authorShape = 'user-and-member',
}: {
  action: DatabaseEventAction;
  objectMetadataItem: FlatObjectMetadata;
  workspaceId: string;
  authContext?: WorkspaceAuthContext;
  recordsAfter: ObjectRecord[];
  recordsBefore?: ObjectRecord[];
  authorShape?: EventAuthorShape;
}): DatabaseBatchEventInput | undefined => {
  if (objectMetadataItem.standardId === STANDARD_OBJECT_IDS.timelineActivity) {
    return;
  }

  const author = buildAuthorFields(authContext, authorShape);
  let events: ObjectRecordEvent[];

  switch (action) {
    case DatabaseEventAction.CREATED:
      events = recordsAfter.map((after) =>
        Object.assign(new ObjectRecordCreateEvent(), {
          ...author,
          recordId: after.id,
          properties: { after },
        }),
      );
      break;
    case DatabaseEventAction.UPDATED:
      events = recordsAfter
        .map((after) => {
          const before = findBefore(recordsBefore, after.id);

          if (!isDefined(before)) {
            throw new Error('Record mismatch detected while computing event data for UPDATED action');
          }

          const diff = objectRecordChangedValues(before, after, objectMetadataItem);
          const updatedFields = Object.keys(diff);

          // An update that changes nothing produces no event for that record.
          if (updatedFields.length === 0) {
            return undefined;
          }

          return Object.assign(new ObjectRecordUpdateEvent(), {
            ...author,
            recordId: after.id,
            properties: { before, after, updatedFields, diff },
          });
        })
        .filter(isDefined);
      break;
    case DatabaseEventAction.DELETED:
      events = (recordsBefore ?? []).map((before) =>
        Object.assign(new ObjectRecordDeleteEvent(), {
          ...author,
          recordId: before.id,
          properties: { before },
        }),
      );
      break;
    case DatabaseEventAction.DESTROYED:
      events = (recordsBefore ?? []).map((before) =>
        Object.assign(new ObjectRecordDestroyEvent(), {
          ...author,
          recordId: before.id,
          properties: { before },
        }),
      );
      break;
    case DatabaseEventAction.RESTORED:
      events = recordsAfter.map((after) =>
        Object.assign(new ObjectRecordRestoreEvent(), {
          ...author,
          recordId: after.id,
          properties: { before: findBefore(recordsBefore, after.id), after },
        }),
      );
      break;
    case DatabaseEventAction.UPSERTED:
      events = recordsAfter.map((after) => {
        const before = findBefore(recordsBefore, after.id);
        const diff = objectRecordChangedValues(before ?? {}, after, objectMetadataItem);

        return Object.assign(new ObjectRecordUpsertEvent(), {
          ...author,
          recordId: after.id,
          properties: { after, ...(before && { before }), diff, updatedFields: Object.keys(diff) },
        });
      });
      break;
    default:
      return;
  }

  if (!events.length) {
    return;
  }

  return {
    objectMetadataNameSingular: objectMetadataItem.nameSingular,
    action,
    events,
    objectMetadata: objectMetadataItem,
    workspaceId,
  };
};
