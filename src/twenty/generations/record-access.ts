import { PROBE, PROBES } from '../rules';
import { accessGateGeneration } from './access-gate';
import { PUBLISHER } from './publisher';

/**
 * ObjectRecordEventPublisher at 2c712b6a (September 2026, newest known): one
 * record-access gate per batch from
 * RecordAccessPolicyService.buildEventRecordAccessGate that also decides
 * object readability and row-level rules. Per stream: role checks, the "no
 * record query for this object" early return (N1), the gate (an empty
 * admitted set returns, N2); per event the module function
 * omitRestrictedFieldsFromEvent (N5, replayed), the admitted set (N4), query
 * matching (D8').
 */
export const RECORD_ACCESS = accessGateGeneration({
  id: 'record_access',
  title:
    'ObjectRecordEventPublisher (2c712b6a, Sep 2026): record-access gate per batch (RecordAccessPolicyService.buildEventRecordAccessGate)',
  gateMethod: 'buildEventRecordAccessGate',
  form: { objectReadCheck: false, emptyGateReturns: true, filterMethod: false },
  extraMethods: [
    { names: ['getMatchingObjectRecordQueryIds'], role: 'probe', probe: PROBES.matchedQueryIds },
    // the earlier form of this publisher (before 2c712b6a): see formOf
    {
      names: ['buildSubscriberRLSFilter'],
      role: 'probe',
      probe: PROBES.subscriberRLSFilter,
      onlyWith: 'buildSubscriberRLSFilter',
    },
  ],
  // A stored form (found by content, commit not known; by its shape between faec8d88 and 2c712b6a) already asks buildEventRecordAccessGate and omits
  // restricted fields in the module function, but still checks canReadObjectRecords itself (D6), builds the RLS filter
  // for matching with its own buildSubscriberRLSFilter, and goes on event by event on an empty admitted set (the
  // restricted-field check first). Told apart per stream by that buildSubscriberRLSFilter call.
  formOf: (observation) =>
    observation.facts.has(PROBE.subscriberRLSFilter)
      ? { objectReadCheck: true, emptyGateReturns: false, filterMethod: false }
      : undefined,
  detect(methodsOf) {
    const publisher = methodsOf(PUBLISHER);
    if (
      !publisher ||
      publisher.has('filterRestrictedFieldsFromEvent') ||
      publisher.has('buildSubscriberRecordShareGate')
    )
      return false;
    return (
      publisher.has('buildSubscriberRowAccessPolicySubject') ||
      !!methodsOf('RecordAccessPolicyService')?.has('buildEventRecordAccessGate')
    );
  },
});
