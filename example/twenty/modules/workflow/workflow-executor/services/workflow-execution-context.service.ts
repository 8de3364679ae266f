import { Injectable } from '@nestjs/common';

import { v5 } from 'uuid';

import { type ActorMetadata, FieldActorSource } from '../../../../twenty-shared/types';
import { isDefined } from '../../../../twenty-shared/utils';
import { type WorkspaceAuthContext } from '../../../../engine/core-modules/auth/types/auth-context.type';
import { WorkspaceCacheService } from '../../../../engine/workspace-cache/workspace-cache.service';
import { TWENTY_STANDARD_APPLICATION_UNIVERSAL_IDENTIFIER } from '../../../../engine/metadata-modules/standard-application.constant';
import { WorkflowRunWorkspaceService } from '../../workflow-runner/workflow-run/workflow-run.workspace-service';

const USER_WORKSPACE_NAMESPACE = '9b1deb4d-3b7d-4bad-9bdd-2b0d7b3dcb6d';

export type WorkflowExecutionContext = {
  isActingOnBehalfOfUser: boolean;
  initiator: ActorMetadata;
  rolePermissionConfig: { unionOf: string[] } | { shouldBypassPermissionChecks: true };
  authContext: WorkspaceAuthContext;
};

// A manual run with an initiator acts as that user; any other run acts as the
// Twenty Standard Application.
@Injectable()
export class WorkflowExecutionContextService {
  constructor(
    private readonly workflowRunService: WorkflowRunWorkspaceService,
    private readonly workspaceCacheService: WorkspaceCacheService,
  ) {}

  async getExecutionContext(runInfo: {
    workflowRunId: string;
    workspaceId: string;
  }): Promise<WorkflowExecutionContext> {
    const workflowRun = await this.workflowRunService.getWorkflowRunOrFail(runInfo);

    const isActingOnBehalfOfUser =
      workflowRun.createdBy.source === FieldActorSource.MANUAL && isDefined(workflowRun.createdBy.workspaceMemberId);

    if (isActingOnBehalfOfUser) {
      return this.buildUserExecutionContext(workflowRun.createdBy, runInfo.workspaceId);
    }

    return this.buildApplicationExecutionContext(workflowRun.createdBy, runInfo.workspaceId);
  }

  private async buildUserExecutionContext(
    initiator: ActorMetadata,
    workspaceId: string,
  ): Promise<WorkflowExecutionContext> {
    const { flatWorkspaceMemberMaps, userWorkspaceRoleMap } = await this.workspaceCacheService.getOrRecompute(
      workspaceId,
      ['flatWorkspaceMemberMaps', 'userWorkspaceRoleMap'],
    );
    const workspaceMember = flatWorkspaceMemberMaps.byId[initiator.workspaceMemberId!];

    if (!workspaceMember) {
      throw new Error(`Workspace member ${initiator.workspaceMemberId} not found`);
    }

    const userWorkspaceId = userWorkspaceIdOf(workspaceMember.userId, workspaceId);
    const roleId = userWorkspaceRoleMap[userWorkspaceId];

    return {
      isActingOnBehalfOfUser: true,
      initiator,
      rolePermissionConfig: { unionOf: roleId ? [roleId] : [] },
      authContext: {
        user: { id: workspaceMember.userId },
        apiKey: null,
        application: null,
        workspace: { id: workspaceId },
        workspaceMemberId: workspaceMember.id,
        userWorkspaceId,
      },
    };
  }

  private async buildApplicationExecutionContext(
    initiator: ActorMetadata,
    workspaceId: string,
  ): Promise<WorkflowExecutionContext> {
    const { flatApplicationMaps } = await this.workspaceCacheService.getOrRecompute(workspaceId, [
      'flatApplicationMaps',
    ]);
    const application = Object.values(flatApplicationMaps.byId).find(
      (candidate) => candidate?.universalIdentifier === TWENTY_STANDARD_APPLICATION_UNIVERSAL_IDENTIFIER,
    );

    if (!application) {
      throw new Error('Invalid auth context - no authentication mechanism found');
    }

    const roleId = application.defaultRoleId;

    return {
      isActingOnBehalfOfUser: false,
      initiator,
      rolePermissionConfig: isDefined(roleId) ? { unionOf: [roleId] } : { shouldBypassPermissionChecks: true },
      authContext: {
        user: null,
        apiKey: null,
        application: { id: application.id, defaultRoleId: roleId },
        workspace: { id: workspaceId },
        workspaceMemberId: undefined,
        userWorkspaceId: undefined,
      },
    };
  }
}

// The example derives a userWorkspace id from (user, workspace); the seed uses
// the same function, so no userWorkspace table is needed.
export const userWorkspaceIdOf = (userId: string, workspaceId: string): string =>
  v5(`${userId}:${workspaceId}`, USER_WORKSPACE_NAMESPACE);
