import { type ObjectRecordEvent } from '../../../../twenty-shared/database-events';
import { type RestrictedFieldsPermissions } from '../../../../twenty-shared/types';
import { isDefined } from '../../../../twenty-shared/utils';
import {
  type FlatEntityMaps,
  type FlatFieldMetadata,
  findFlatEntityByIdInFlatEntityMaps,
} from '../../../metadata-modules/flat-entity.types';

type EventProperties = { before?: object; after?: object; diff?: object; updatedFields?: string[] };

// The field names a role may not read; a many-to-one relation also travels as its join column.
const buildRestrictedFieldNames = (
  restrictedFields: RestrictedFieldsPermissions,
  flatFieldMetadataMaps: FlatEntityMaps<FlatFieldMetadata>,
): Set<string> => {
  const names = new Set<string>();

  for (const [fieldMetadataId, permissions] of Object.entries(restrictedFields)) {
    if (permissions.canRead !== false) {
      continue;
    }

    const field = findFlatEntityByIdInFlatEntityMaps({
      flatEntityId: fieldMetadataId,
      flatEntityMaps: flatFieldMetadataMaps,
    });

    if (!isDefined(field)) {
      continue;
    }

    names.add(field.name);

    const settings = (field as { type?: string; settings?: { relationType?: string; joinColumnName?: string } })
      .settings;

    if ((field as { type?: string }).type === 'RELATION' && settings?.relationType === 'MANY_TO_ONE') {
      names.add(settings.joinColumnName ?? `${field.name}Id`);
      names.add(`${field.name}Id`);
    }
  }

  return names;
};

// A module function in Twenty (SWC exports it getter-only, so nothing outside can patch it).
export const omitRestrictedFieldsFromEvent = <TEvent extends ObjectRecordEvent>({
  event,
  restrictedFields,
  flatFieldMetadataMaps,
}: {
  event: TEvent;
  restrictedFields: RestrictedFieldsPermissions | undefined;
  flatFieldMetadataMaps: FlatEntityMaps<FlatFieldMetadata>;
}): TEvent => {
  if (!isDefined(restrictedFields)) {
    return event;
  }

  const restrictedFieldNames = buildRestrictedFieldNames(restrictedFields, flatFieldMetadataMaps);

  if (restrictedFieldNames.size === 0) {
    return event;
  }

  const omit = (record: object | undefined) =>
    isDefined(record)
      ? Object.fromEntries(Object.entries(record).filter(([fieldName]) => !restrictedFieldNames.has(fieldName)))
      : undefined;

  const properties = event.properties as EventProperties;
  const before = omit(properties.before);
  const after = omit(properties.after);
  const diff = omit(properties.diff);

  return {
    ...event,
    properties: {
      ...properties,
      ...(isDefined(before) && { before }),
      ...(isDefined(after) && { after }),
      ...(isDefined(diff) && { diff }),
      ...(isDefined(properties.updatedFields) && {
        updatedFields: properties.updatedFields.filter((fieldName) => !restrictedFieldNames.has(fieldName)),
      }),
    },
  };
};
