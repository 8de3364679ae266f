import { PROBES } from '../rules';
import { accessGateGeneration } from './access-gate';
import { PUBLISHER } from './publisher';

/**
 * ObjectRecordEventPublisher at faec8d88 (September 2026): one record-share
 * gate per batch from RecordAccessPolicyService.buildEventRecordShareGate;
 * per stream the D6 check, then the "no record query for this object" early
 * return (N1), then per event restricted fields (a method still, N5), the
 * gate's admitted set (N4) and query matching with the RLS filter (D8').
 */
export const RECORD_SHARE = accessGateGeneration({
  id: 'record_share',
  title:
    'ObjectRecordEventPublisher (faec8d88, Sep 2026): record-share gate per batch (RecordAccessPolicyService.buildEventRecordShareGate)',
  gateMethod: 'buildEventRecordShareGate',
  form: { objectReadCheck: true, emptyGateReturns: false, filterMethod: true },
  extraMethods: [
    { names: ['filterRestrictedFieldsFromEvent'], role: 'probe', probe: PROBES.filteredEvent },
    { names: ['getMatchingObjectRecordQueryIds'], role: 'probe', probe: PROBES.matchedQueryIds },
  ],
  detect(methodsOf) {
    const publisher = methodsOf(PUBLISHER);
    if (
      !publisher ||
      publisher.has('buildSubscriberRecordShareGate') ||
      !publisher.has('filterRestrictedFieldsFromEvent')
    )
      return false;
    return (
      publisher.has('buildSubscriberRowAccessPolicySubject') ||
      !!methodsOf('RecordAccessPolicyService')?.has('buildEventRecordShareGate')
    );
  },
});
