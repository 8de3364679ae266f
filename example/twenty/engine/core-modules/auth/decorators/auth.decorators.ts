import { createParamDecorator, type ExecutionContext, UnauthorizedException } from '@nestjs/common';
import { GqlExecutionContext } from '@nestjs/graphql';

import { type AuthenticatedRequest } from '../auth-token.service';

export const getRequest = (context: ExecutionContext): AuthenticatedRequest =>
  context.getType<string>() === 'graphql'
    ? GqlExecutionContext.create(context).getContext<{ req: AuthenticatedRequest }>().req
    : context.switchToHttp().getRequest<AuthenticatedRequest>();

export const AuthWorkspace = createParamDecorator((_data: unknown, context: ExecutionContext) => {
  const workspace = getRequest(context).workspace;

  if (!workspace) {
    throw new UnauthorizedException('Missing or invalid bearer token');
  }

  return workspace;
});

export const AuthUser = createParamDecorator(
  (options: { allowUndefined?: boolean } | undefined, context: ExecutionContext) => {
    const user = getRequest(context).user;

    if (!user && !options?.allowUndefined) {
      throw new UnauthorizedException('This endpoint requires a user token');
    }

    return user;
  },
);

export const AuthUserWorkspaceId = createParamDecorator(
  (_options: { allowUndefined?: boolean } | undefined, context: ExecutionContext) =>
    getRequest(context).userWorkspaceId,
);

export const AuthApiKey = createParamDecorator(
  (_data: unknown, context: ExecutionContext) => getRequest(context).apiKey,
);

export const AuthApplication = createParamDecorator(
  (_data: unknown, context: ExecutionContext) => getRequest(context).application,
);
