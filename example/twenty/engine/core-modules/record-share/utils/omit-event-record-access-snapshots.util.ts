import { type ObjectRecordEvent } from '../../../../twenty-shared/database-events';
import { isDefined } from '../../../../twenty-shared/utils';

// Snapshots the access gate reads (children captured for inherited access, shares captured at destroy) never go to browsers.
type RecordAccessSnapshotCarriers = {
  inheritedReadabilityChildRecords?: unknown;
  recordShareGrantsAtDestroy?: unknown;
};

export const omitEventRecordAccessSnapshots = <TEvent extends ObjectRecordEvent>(event: TEvent): TEvent => {
  const { inheritedReadabilityChildRecords, recordShareGrantsAtDestroy, ...properties } =
    event.properties as TEvent['properties'] & RecordAccessSnapshotCarriers;

  return isDefined(inheritedReadabilityChildRecords) || isDefined(recordShareGrantsAtDestroy)
    ? ({ ...event, properties } as TEvent)
    : event;
};

// faec8d88's narrower form: only the captured children.
export const omitInheritedReadabilityChildRecords = <TEvent extends ObjectRecordEvent>(event: TEvent): TEvent => {
  const { inheritedReadabilityChildRecords, ...properties } = event.properties as TEvent['properties'] &
    RecordAccessSnapshotCarriers;

  return isDefined(inheritedReadabilityChildRecords) ? ({ ...event, properties } as TEvent) : event;
};
