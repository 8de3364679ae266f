import {
  BadRequestException,
  Body,
  Controller,
  Delete,
  Get,
  Param,
  Patch,
  Post,
  Req,
  UnauthorizedException,
} from '@nestjs/common';

import {
  type AuthenticatedRequest,
  toWorkspaceAuthContext,
} from '../../twenty/engine/core-modules/auth/auth-token.service';
import { type WorkspaceAuthContext } from '../../twenty/engine/core-modules/auth/types/auth-context.type';
import { WorkspaceCacheService } from '../../twenty/engine/workspace-cache/workspace-cache.service';
import { type WorkflowAction, WorkflowActionType } from '../../twenty/modules/workflow/common/workflow.types';

import { ExampleMutationsService, type RecordMutation } from './example-mutations.service';

const authContextOf = (request: AuthenticatedRequest): WorkspaceAuthContext => {
  if (!request.workspace) {
    throw new UnauthorizedException('Missing or invalid bearer token');
  }

  return toWorkspaceAuthContext({
    workspaceId: request.workspace.id,
    userId: request.user?.id,
    userWorkspaceId: request.userWorkspaceId,
    workspaceMemberId: request.workspaceMemberId,
    apiKeyId: request.apiKey?.id,
    applicationId: request.application?.id,
  });
};

// UI/API mutations over REST (Twenty's own REST routes are /rest/<namePlural>).
@Controller('rest')
export class RecordRestController {
  constructor(
    private readonly mutationsService: ExampleMutationsService,
    private readonly workspaceCacheService: WorkspaceCacheService,
  ) {}

  @Post(':objectNamePlural')
  create(
    @Req() request: AuthenticatedRequest,
    @Param('objectNamePlural') objectNamePlural: string,
    @Body() body: Record<string, unknown>,
  ) {
    return this.mutate(request, 'create', objectNamePlural, body.id as string | undefined, body);
  }

  @Patch(':objectNamePlural/:id')
  update(
    @Req() request: AuthenticatedRequest,
    @Param('objectNamePlural') objectNamePlural: string,
    @Param('id') id: string,
    @Body() body: Record<string, unknown>,
  ) {
    return this.mutate(request, 'update', objectNamePlural, id, body);
  }

  @Delete(':objectNamePlural/:id')
  softDelete(
    @Req() request: AuthenticatedRequest,
    @Param('objectNamePlural') objectNamePlural: string,
    @Param('id') id: string,
  ) {
    return this.mutate(request, 'delete', objectNamePlural, id);
  }

  @Post(':objectNamePlural/:id/restore')
  restore(
    @Req() request: AuthenticatedRequest,
    @Param('objectNamePlural') objectNamePlural: string,
    @Param('id') id: string,
  ) {
    return this.mutate(request, 'restore', objectNamePlural, id);
  }

  @Delete(':objectNamePlural/:id/destroy')
  destroy(
    @Req() request: AuthenticatedRequest,
    @Param('objectNamePlural') objectNamePlural: string,
    @Param('id') id: string,
  ) {
    return this.mutate(request, 'destroy', objectNamePlural, id);
  }

  private async mutate(
    request: AuthenticatedRequest,
    mutation: RecordMutation,
    objectNamePlural: string,
    id?: string,
    data?: Record<string, unknown>,
  ) {
    const authContext = authContextOf(request);
    const { flatObjectMetadataMaps } = await this.workspaceCacheService.getOrRecompute(authContext.workspace.id, [
      'flatObjectMetadataMaps',
    ]);
    const objectMetadata = Object.values(flatObjectMetadataMaps.byId).find(
      (object) => object?.namePlural === objectNamePlural || object?.nameSingular === objectNamePlural,
    );

    if (!objectMetadata) {
      throw new BadRequestException(`Unknown object ${objectNamePlural}`);
    }

    const record = await this.mutationsService.mutateRecord({
      mutation,
      authContext,
      objectNameSingular: objectMetadata.nameSingular,
      id,
      data,
    });

    return { data: record };
  }
}

const STEP_EXAMPLE =
  '{"id":"step-1","type":"UPDATE_RECORD","settings":{"input":{"objectName":"company","objectRecordId":"<id>","objectRecord":{"employees":42}}}}';

// A run without steps would complete having done nothing, which looks like a working workflow: refuse it.
const assertRunnable = (body: { workflowVersionId?: unknown; steps?: unknown }) => {
  if (body.workflowVersionId !== undefined) {
    if (typeof body.workflowVersionId !== 'string' || body.workflowVersionId === '') {
      throw new BadRequestException('workflowVersionId must be the id of a workflow version');
    }

    return;
  }
  if (!Array.isArray(body.steps) || body.steps.length === 0) {
    throw new BadRequestException(
      `POST /workflows/run needs "steps": a non-empty list of workflow actions, e.g. {"steps":[${STEP_EXAMPLE}]}`,
    );
  }
  body.steps.forEach((step: Partial<WorkflowAction> | null, index) => {
    const input = step?.settings?.input;

    if (
      typeof step?.id !== 'string' ||
      !Object.values(WorkflowActionType).includes(step.type as WorkflowActionType) ||
      typeof input !== 'object' ||
      input === null
    ) {
      throw new BadRequestException(
        `steps[${index}] must be { id, type: ${Object.values(WorkflowActionType).join(' | ')}, settings: { input: {...} } }, e.g. ${STEP_EXAMPLE}`,
      );
    }
  });
};

// POST /workflows/run { workflowVersionId? | steps, manual?, workspaceMemberId?, wait? }
@Controller('workflows')
export class WorkflowTriggerController {
  constructor(private readonly mutationsService: ExampleMutationsService) {}

  @Post('run')
  async run(
    @Req() request: AuthenticatedRequest,
    @Body()
    body: {
      workflowVersionId?: string;
      steps?: WorkflowAction[];
      manual?: boolean;
      workspaceMemberId?: string;
      wait?: boolean;
    },
  ) {
    const authContext = authContextOf(request);

    assertRunnable(body);
    const workspaceId = authContext.workspace.id;
    const { workflowRunId } = await this.mutationsService.runWorkflow({
      workspaceId,
      workflowVersionId: body.workflowVersionId,
      steps: body.steps,
      manual: body.manual ?? false,
      workspaceMemberId: body.workspaceMemberId ?? authContext.workspaceMemberId,
    });

    if (!body.wait) {
      return { workflowRunId };
    }

    const workflowRun = await this.mutationsService.waitForWorkflowRun({ workspaceId, workflowRunId });

    return { workflowRunId, status: workflowRun.status, stepInfos: workflowRun.state.stepInfos };
  }

  @Get('runs/:workflowRunId')
  async get(@Req() request: AuthenticatedRequest, @Param('workflowRunId') workflowRunId: string) {
    const workflowRun = await this.mutationsService.getWorkflowRun({
      workspaceId: authContextOf(request).workspace.id,
      workflowRunId,
    });

    return { workflowRunId, status: workflowRun.status, stepInfos: workflowRun.state.stepInfos };
  }
}
