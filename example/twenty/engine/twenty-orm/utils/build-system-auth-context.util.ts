import { type WorkspaceAuthContext } from '../../core-modules/auth/types/auth-context.type';

export const buildSystemAuthContext = (workspaceId: string): WorkspaceAuthContext => ({
  user: null,
  workspace: { id: workspaceId },
  workspaceMemberId: undefined,
  userWorkspaceId: undefined,
  apiKey: null,
});
