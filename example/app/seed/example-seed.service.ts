import { Injectable } from '@nestjs/common';

import { v4 } from 'uuid';

import { type AuthTokenPayload, AuthTokenService } from '../../twenty/engine/core-modules/auth/auth-token.service';
import {
  CURRENT_WORKSPACE_MEMBER_ID,
  type FlatObjectMetadata,
} from '../../twenty/engine/metadata-modules/flat-entity.types';
import { TWENTY_STANDARD_APPLICATION_UNIVERSAL_IDENTIFIER } from '../../twenty/engine/metadata-modules/standard-application.constant';
import { type RecordShareAccessLevel, RecordShareService } from '../../twenty/engine/record-share/record-share';
import { WorkspaceCacheService } from '../../twenty/engine/workspace-cache/workspace-cache.service';
import { type WorkspaceCacheEntries } from '../../twenty/engine/workspace-cache/workspace-cache.type';
import { type ObjectRecord, WorkspaceRecordStore } from '../../twenty/engine/twenty-orm/workspace-record-store';
import {
  type FeatureFlagKey,
  type MetadataReadability,
  type ObjectPermissions,
} from '../../twenty/twenty-shared/types';
import { type WorkflowAction, WorkflowTriggerType } from '../../twenty/modules/workflow/common/workflow.types';
import { userWorkspaceIdOf } from '../../twenty/modules/workflow/workflow-executor/services/workflow-execution-context.service';
import { WorkflowCommonWorkspaceService } from '../../twenty/modules/workflow/workflow-runner/workflow-run/workflow-common.workspace-service';

import { buildStandardObjectMetadata, fieldMetadataIdOf } from './standard-objects';

export { CURRENT_WORKSPACE_MEMBER_ID };

export type SeededWorkspace = {
  workspaceId: string;
  adminRoleId: string;
  standardApplicationId: string;
  objectMetadataIdByName: Record<string, string>;
};

export type SeededUser = {
  userId: string;
  userWorkspaceId: string;
  workspaceMemberId: string;
  roleId: string | null;
  token: string;
};

export type RoleObjectPermissions = Record<string, { canRead?: boolean; restrictedFields?: string[] }>;

// Writes what Twenty would hold in Postgres and its workspace cache: objects,
// fields, roles, members, applications, flags, RLS predicates, tokens, records.
@Injectable()
export class ExampleSeedService {
  constructor(
    private readonly workspaceCacheService: WorkspaceCacheService,
    private readonly authTokenService: AuthTokenService,
    private readonly recordStore: WorkspaceRecordStore,
    private readonly recordShareService: RecordShareService,
    private readonly workflowCommonWorkspaceService: WorkflowCommonWorkspaceService,
  ) {}

  async workspace({
    workspaceId = v4(),
    featureFlags = {},
  }: { workspaceId?: string; featureFlags?: Partial<Record<FeatureFlagKey, boolean>> } = {}): Promise<SeededWorkspace> {
    const { objects, fields } = buildStandardObjectMetadata(workspaceId);
    const adminRoleId = v4();
    const standardApplicationId = v4();

    await this.workspaceCacheService.updateEntries(workspaceId, (entries) => {
      objects.forEach((object) => (entries.flatObjectMetadataMaps.byId[object.id] = object));
      fields.forEach((field) => (entries.flatFieldMetadataMaps.byId[field.id] = field));
      entries.rolesPermissions[adminRoleId] = this.buildObjectsPermissions(objects, true, {}, entries);
      entries.flatApplicationMaps.byId[standardApplicationId] = {
        id: standardApplicationId,
        name: 'Twenty Standard Application',
        universalIdentifier: TWENTY_STANDARD_APPLICATION_UNIVERSAL_IDENTIFIER,
        defaultRoleId: adminRoleId,
        deletedAt: null,
      };
      Object.assign(entries.featureFlagsMap, featureFlags);
    });

    return {
      workspaceId,
      adminRoleId,
      standardApplicationId,
      objectMetadataIdByName: Object.fromEntries(objects.map((object) => [object.nameSingular, object.id])),
    };
  }

  async role({
    workspaceId,
    roleId = v4(),
    canReadByDefault = true,
    objects = {},
  }: {
    workspaceId: string;
    roleId?: string;
    canReadByDefault?: boolean;
    objects?: RoleObjectPermissions;
  }): Promise<{ roleId: string }> {
    await this.workspaceCacheService.updateEntries(workspaceId, (entries) => {
      const allObjects = Object.values(entries.flatObjectMetadataMaps.byId).filter(
        (object): object is FlatObjectMetadata => object !== undefined,
      );

      entries.rolesPermissions[roleId] = this.buildObjectsPermissions(allObjects, canReadByDefault, objects, entries);
    });

    return { roleId };
  }

  // `roleId: null` leaves the user out of userWorkspaceRoleMap (a user without role).
  async user({
    workspaceId,
    roleId,
    userId = v4(),
    workspaceMemberId = v4(),
    viaApplicationId,
  }: {
    workspaceId: string;
    roleId?: string | null;
    userId?: string;
    workspaceMemberId?: string;
    viaApplicationId?: string;
  }): Promise<SeededUser> {
    const userWorkspaceId = userWorkspaceIdOf(userId, workspaceId);
    let assignedRoleId: string | null = null;

    await this.workspaceCacheService.updateEntries(workspaceId, (entries) => {
      entries.flatWorkspaceMemberMaps.byId[workspaceMemberId] = {
        id: workspaceMemberId,
        userId,
        deletedAt: null,
      };
      assignedRoleId = roleId === null ? null : (roleId ?? this.findAdminRoleId(entries));
      if (assignedRoleId) {
        entries.userWorkspaceRoleMap[userWorkspaceId] = assignedRoleId;
      }
    });

    const token = await this.token({
      workspaceId,
      userId,
      userWorkspaceId,
      workspaceMemberId,
      ...(viaApplicationId && { applicationId: viaApplicationId }),
    });

    return { userId, userWorkspaceId, workspaceMemberId, roleId: assignedRoleId, token };
  }

  async apiKey({
    workspaceId,
    apiKeyId = v4(),
  }: {
    workspaceId: string;
    apiKeyId?: string;
  }): Promise<{ apiKeyId: string; token: string }> {
    return { apiKeyId, token: await this.token({ workspaceId, apiKeyId }) };
  }

  async application({
    workspaceId,
    applicationId = v4(),
    active = true,
    defaultRoleId,
  }: {
    workspaceId: string;
    applicationId?: string;
    active?: boolean;
    defaultRoleId?: string;
  }): Promise<{ applicationId: string }> {
    await this.workspaceCacheService.updateEntries(workspaceId, (entries) => {
      entries.flatApplicationMaps.byId[applicationId] = {
        id: applicationId,
        name: `Application ${applicationId.slice(0, 8)}`,
        defaultRoleId,
        deletedAt: active ? null : new Date().toISOString(),
      };
    });

    return { applicationId };
  }

  async setApplicationActive(workspaceId: string, applicationId: string, active: boolean) {
    await this.workspaceCacheService.updateEntries(workspaceId, (entries) => {
      const application = entries.flatApplicationMaps.byId[applicationId];

      if (application) {
        application.deletedAt = active ? null : new Date().toISOString();
      }
    });
  }

  async featureFlag({ workspaceId, key, value }: { workspaceId: string; key: FeatureFlagKey; value: boolean }) {
    await this.workspaceCacheService.updateEntries(workspaceId, (entries) => {
      entries.featureFlagsMap[key] = value;
    });
  }

  // `value: CURRENT_WORKSPACE_MEMBER_ID` makes it a dynamic predicate.
  async rlsPredicate({
    workspaceId,
    roleId,
    objectNameSingular,
    fieldName,
    value,
  }: {
    workspaceId: string;
    roleId: string;
    objectNameSingular: string;
    fieldName: string;
    value: unknown;
  }): Promise<{ predicateId: string }> {
    const predicateId = v4();

    await this.workspaceCacheService.updateEntries(workspaceId, (entries) => {
      entries.flatRowLevelPermissionPredicateMaps.byId[predicateId] = {
        id: predicateId,
        roleId,
        objectMetadataId: this.findObjectOrThrow(entries, objectNameSingular).id,
        fieldName,
        value,
      };
    });

    return { predicateId };
  }

  async objectReadability({
    workspaceId,
    objectNameSingular,
    readability,
  }: {
    workspaceId: string;
    objectNameSingular: string;
    readability: MetadataReadability;
  }) {
    await this.workspaceCacheService.updateEntries(workspaceId, (entries) => {
      this.findObjectOrThrow(entries, objectNameSingular).readability = readability;
    });
  }

  // Written straight to the store: no event, like data that predates the test.
  async record({
    workspaceId,
    objectNameSingular,
    data,
  }: {
    workspaceId: string;
    objectNameSingular: string;
    data: Record<string, unknown> & { id?: string };
  }): Promise<ObjectRecord> {
    const now = new Date().toISOString();
    const record: ObjectRecord = {
      createdAt: now,
      updatedAt: now,
      deletedAt: null,
      ...data,
      id: data.id ?? v4(),
    };

    await this.recordStore.save(workspaceId, objectNameSingular, [record]);

    return record;
  }

  async recordShare({
    workspaceId,
    objectNameSingular,
    recordId,
    principalId,
    accessLevel = 'READ',
  }: {
    workspaceId: string;
    objectNameSingular: string;
    recordId: string;
    principalId: string;
    accessLevel?: RecordShareAccessLevel;
  }) {
    const { flatObjectMetadataMaps } = await this.workspaceCacheService.getOrRecompute(workspaceId, [
      'flatObjectMetadataMaps',
    ]);

    await this.recordShareService.add(workspaceId, {
      id: v4(),
      objectMetadataId: this.findObjectOrThrow({ flatObjectMetadataMaps }, objectNameSingular).id,
      recordId,
      principalId,
      accessLevel,
    });
  }

  token(payload: AuthTokenPayload): Promise<string> {
    return this.authTokenService.issueToken(payload);
  }

  // Steps without nextStepIds are chained in the order given.
  async workflowVersion({
    workspaceId,
    steps,
    triggerType = WorkflowTriggerType.DATABASE_EVENT,
  }: {
    workspaceId: string;
    steps: WorkflowAction[];
    triggerType?: WorkflowTriggerType;
  }): Promise<{ workflowVersionId: string }> {
    const chainedSteps = steps.map((step, index) => ({
      ...step,
      nextStepIds: step.nextStepIds ?? (steps[index + 1] ? [steps[index + 1].id] : []),
    }));
    const workflowVersionId = v4();

    await this.workflowCommonWorkspaceService.saveWorkflowVersion(workspaceId, {
      id: workflowVersionId,
      workflowId: v4(),
      trigger: { type: triggerType, nextStepIds: chainedSteps[0] ? [chainedSteps[0].id] : [] },
      steps: chainedSteps,
    });

    return { workflowVersionId };
  }

  private buildObjectsPermissions(
    objects: FlatObjectMetadata[],
    canReadByDefault: boolean,
    overrides: RoleObjectPermissions,
    entries: Pick<WorkspaceCacheEntries, 'flatFieldMetadataMaps'>,
  ): Record<string, ObjectPermissions> {
    return Object.fromEntries(
      objects.map((object) => {
        const override = overrides[object.nameSingular] ?? {};
        const restrictedFields = Object.fromEntries(
          (override.restrictedFields ?? []).map((fieldName) => {
            const fieldMetadataId = fieldMetadataIdOf(object.id, fieldName);

            entries.flatFieldMetadataMaps.byId[fieldMetadataId] ??= {
              id: fieldMetadataId,
              name: fieldName,
              objectMetadataId: object.id,
            };

            return [fieldMetadataId, { canRead: false, canUpdate: false }];
          }),
        );

        return [object.id, { canReadObjectRecords: override.canRead ?? canReadByDefault, restrictedFields }];
      }),
    );
  }

  private findAdminRoleId(entries: WorkspaceCacheEntries): string | null {
    const standardApplication = Object.values(entries.flatApplicationMaps.byId).find(
      (application) => application?.universalIdentifier === TWENTY_STANDARD_APPLICATION_UNIVERSAL_IDENTIFIER,
    );

    return standardApplication?.defaultRoleId ?? null;
  }

  private findObjectOrThrow(
    entries: Pick<WorkspaceCacheEntries, 'flatObjectMetadataMaps'>,
    objectNameSingular: string,
  ): FlatObjectMetadata {
    const object = Object.values(entries.flatObjectMetadataMaps.byId).find(
      (candidate) => candidate?.nameSingular === objectNameSingular,
    );

    if (!object) {
      throw new Error(`Unknown object ${objectNameSingular}`);
    }

    return object;
  }
}
