import { type ObjectRecordEventAuthor } from '../../../twenty-shared/database-events';
import { type WorkspaceAuthContext } from '../../core-modules/auth/types/auth-context.type';

export const buildObjectRecordEventAuthor = (
  authContext: WorkspaceAuthContext | undefined,
): ObjectRecordEventAuthor => ({
  userId: authContext?.user?.id,
  userWorkspaceId: authContext?.userWorkspaceId,
  workspaceMemberId: authContext?.workspaceMemberId,
  apiKeyId: authContext?.apiKey?.id,
  applicationId: authContext?.application?.id ?? authContext?.viaApplication?.id,
});
