import { type RecordOrMetadataGqlOperationSignature } from '../../../twenty-shared/types';
import { type SerializableAuthContext } from '../../core-modules/auth/types/auth-context.type';

export type EventStreamData = {
  authContext: SerializableAuthContext;
  workspaceId: string;
  queries: Record<string, RecordOrMetadataGqlOperationSignature>;
  createdAt: number;
};
