import { DatabaseEventAction } from '../../api/graphql/graphql-query-runner/enums/database-event-action';

export const computeEventName = (objectNameSingular: string, action: DatabaseEventAction): string => {
  if (!Object.values(DatabaseEventAction).includes(action)) {
    throw new Error(`Invalid database event action: ${action}`);
  }

  return `${objectNameSingular}.${action}`;
};
