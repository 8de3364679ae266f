import { v5 } from 'uuid';

import {
  type FlatFieldMetadata,
  type FlatObjectMetadata,
  STANDARD_OBJECT_IDS,
} from '../../twenty/engine/metadata-modules/flat-entity.types';

const METADATA_NAMESPACE = '3f0b2c8e-7f5d-4a51-9a36-6c1b7f0f1e42';

export const objectMetadataIdOf = (workspaceId: string, nameSingular: string) =>
  v5(`${workspaceId}:object:${nameSingular}`, METADATA_NAMESPACE);

export const fieldMetadataIdOf = (objectMetadataId: string, fieldName: string) =>
  v5(`${objectMetadataId}:field:${fieldName}`, METADATA_NAMESPACE);

const COMMON_FIELDS = ['id', 'createdAt', 'updatedAt', 'deletedAt', 'position', 'createdBy', 'updatedBy'];

export const STANDARD_OBJECTS: {
  nameSingular: string;
  namePlural: string;
  standardId?: string;
  isAuditLogged: boolean;
  fields: string[];
}[] = [
  {
    nameSingular: 'company',
    namePlural: 'companies',
    isAuditLogged: true,
    fields: ['name', 'domainName', 'employees', 'annualRecurringRevenue', 'city', 'stage', 'accountOwnerId'],
  },
  {
    nameSingular: 'person',
    namePlural: 'people',
    isAuditLogged: true,
    fields: ['name', 'email', 'jobTitle', 'city', 'companyId', 'phone'],
  },
  {
    nameSingular: 'opportunity',
    namePlural: 'opportunities',
    isAuditLogged: true,
    fields: ['name', 'amount', 'stage', 'closeDate', 'companyId', 'pointOfContactId', 'ownerId'],
  },
  {
    nameSingular: 'workflowRun',
    namePlural: 'workflowRuns',
    standardId: STANDARD_OBJECT_IDS.workflowRun,
    isAuditLogged: false,
    fields: ['workflowVersionId', 'status', 'state', 'error'],
  },
  {
    nameSingular: 'timelineActivity',
    namePlural: 'timelineActivities',
    standardId: STANDARD_OBJECT_IDS.timelineActivity,
    isAuditLogged: false,
    fields: ['name', 'happensAt', 'properties'],
  },
];

export const buildStandardObjectMetadata = (workspaceId: string) => {
  const objects: FlatObjectMetadata[] = [];
  const fields: FlatFieldMetadata[] = [];

  for (const standardObject of STANDARD_OBJECTS) {
    const objectMetadataId = objectMetadataIdOf(workspaceId, standardObject.nameSingular);

    objects.push({
      id: objectMetadataId,
      nameSingular: standardObject.nameSingular,
      namePlural: standardObject.namePlural,
      ...(standardObject.standardId && {
        standardId: standardObject.standardId,
        universalIdentifier: standardObject.standardId,
      }),
      isAuditLogged: standardObject.isAuditLogged,
      readability: 'PUBLIC',
    });
    for (const fieldName of [...COMMON_FIELDS, ...standardObject.fields]) {
      fields.push({ id: fieldMetadataIdOf(objectMetadataId, fieldName), name: fieldName, objectMetadataId });
    }
  }

  return { objects, fields };
};
