// The request-side auth context (Twenty's WorkspaceAuthContext / AuthContext).
export type AuthContextUser = { id: string };

export type WorkspaceAuthContext = {
  user?: AuthContextUser | null;
  workspace: { id: string };
  workspaceMemberId?: string;
  userWorkspaceId?: string;
  apiKey?: { id: string } | null;
  application?: { id: string; defaultRoleId?: string } | null;
  viaApplication?: { id: string } | null;
};

// What an event stream stores about its subscriber.
export type SerializableAuthContext = {
  userId?: string;
  userWorkspaceId?: string;
  workspaceMemberId?: string;
  apiKeyId?: string;
  applicationId?: string;
};
