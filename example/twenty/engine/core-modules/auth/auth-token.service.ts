import { Injectable } from '@nestjs/common';

import { v4 } from 'uuid';

import { CacheStorageNamespace } from '../cache-storage/cache-storage-namespace.enum';
import { CacheStorageService, InjectCacheStorage } from '../cache-storage/cache-storage.service';

import { type WorkspaceAuthContext } from './types/auth-context.type';

// What a bearer token stands for. A user token carries the user, its
// userWorkspace and workspace member; an API key token only the key.
export type AuthTokenPayload = {
  workspaceId: string;
  userId?: string;
  userWorkspaceId?: string;
  workspaceMemberId?: string;
  apiKeyId?: string;
  // A user acting through an application (Twenty's `viaApplication`).
  applicationId?: string;
};

export type AuthenticatedRequest = {
  headers: Record<string, string | string[] | undefined>;
  workspace?: { id: string };
  user?: { id: string };
  userWorkspaceId?: string;
  workspaceMemberId?: string;
  apiKey?: { id: string };
  application?: { id: string };
};

export const toWorkspaceAuthContext = (payload: AuthTokenPayload): WorkspaceAuthContext => ({
  workspace: { id: payload.workspaceId },
  user: payload.userId ? { id: payload.userId } : null,
  userWorkspaceId: payload.userWorkspaceId,
  workspaceMemberId: payload.workspaceMemberId,
  apiKey: payload.apiKeyId ? { id: payload.apiKeyId } : null,
  application: null,
  viaApplication: payload.applicationId ? { id: payload.applicationId } : null,
});

// Stand-in for Twenty's JWT / API key validation.
@Injectable()
export class AuthTokenService {
  constructor(
    @InjectCacheStorage(CacheStorageNamespace.ExampleCore)
    private readonly cacheStorageService: CacheStorageService,
  ) {}

  async issueToken(payload: AuthTokenPayload): Promise<string> {
    const token = `tok_${v4()}`;

    await this.cacheStorageService.set(`token:${token}`, payload);

    return token;
  }

  async resolveToken(token: string): Promise<AuthTokenPayload | undefined> {
    return this.cacheStorageService.get<AuthTokenPayload>(`token:${token}`);
  }

  // Express middleware: decorates the request like Twenty's auth guards do.
  createMiddleware() {
    return async (request: AuthenticatedRequest, _response: unknown, next: (error?: unknown) => void) => {
      try {
        const header = request.headers.authorization;
        const token = typeof header === 'string' && header.startsWith('Bearer ') ? header.slice(7) : undefined;
        const payload = token ? await this.resolveToken(token) : undefined;

        if (payload) {
          request.workspace = { id: payload.workspaceId };
          request.user = payload.userId ? { id: payload.userId } : undefined;
          request.userWorkspaceId = payload.userWorkspaceId;
          request.workspaceMemberId = payload.workspaceMemberId;
          request.apiKey = payload.apiKeyId ? { id: payload.apiKeyId } : undefined;
          request.application = payload.applicationId ? { id: payload.applicationId } : undefined;
        }
        next();
      } catch (error) {
        next(error);
      }
    };
  }
}
