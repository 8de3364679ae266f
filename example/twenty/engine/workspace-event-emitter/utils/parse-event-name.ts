import { DatabaseEventAction } from '../../api/graphql/graphql-query-runner/enums/database-event-action';

export const parseEventNameOrThrow = (
  eventName: string,
): { objectSingularName: string; action: DatabaseEventAction } => {
  const [objectSingularName, action] = eventName.split('.');

  if (!objectSingularName || !Object.values(DatabaseEventAction).includes(action as DatabaseEventAction)) {
    throw new Error(`Invalid event name: ${eventName}`);
  }

  return { objectSingularName, action: action as DatabaseEventAction };
};
