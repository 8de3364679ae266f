import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import type { TwentyGeneration } from '../../example/app/example-config';
import { FeatureFlagKey } from '../../example/twenty/twenty-shared/types';
import { WorkspaceEventEmitter } from '../../example/twenty/engine/workspace-event-emitter/workspace-event-emitter';
import { UpdateRecordWorkflowAction } from '../../example/twenty/modules/workflow/workflow-executor/workflow-actions/record-crud/record-crud.workflow-actions';
import { GlobalWorkspaceOrmManager } from '../../example/twenty/engine/twenty-orm/global-workspace-orm.manager';
import { ATTR } from '../../src/semconv';
import type { TallyRow } from '../../src/otel/telemetry';
import { instrumentNestInProcess, useTwentyLikeApp } from '../helpers/in-process';
import { expectTallyEqualsGroundTruth, unattributed } from './drop-conditions.shared';

/**
 * What the September 2026 Twenty adds: per-(event, stream) attribution
 * through the record-access gate in a batch that mixes admitted and refused
 * records of different origins (with repeated record ids, where only the
 * record id ties a helper call to its event), workflow events emitted after
 * the step's transaction commits, a rollback, and the listener's awaits
 * failing before publish.
 */
const instrumented = instrumentNestInProcess();

function key(rows: TallyRow[], stage: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const row of rows) {
    if (row.stage !== stage) continue;
    const k = `${row.origin}|${row.outcome}${row.reason ? `|${row.reason}` : ''}`;
    out[k] = (out[k] ?? 0) + row.count;
  }
  return out;
}

const spanNamed = (spans: ReadableSpan[], name: string) => spans.filter((span) => span.name === name);

describe.each(['record_share', 'record_access'] as TwentyGeneration[])(
  'September 2026, generation %s',
  (generation) => {
    const currentApp = useTwentyLikeApp(generation);

    beforeEach(() => {
      instrumented.telemetry.resetTally();
      instrumented.spans.reset();
    });

    it('a mixed batch: each (event, stream) pair gets its own outcome and origin, repeated record ids included', async () => {
      const app = currentApp();
      const { workspaceId } = await app.seed.workspace();
      const { roleId } = await app.seed.role({
        workspaceId,
        objects: { company: { restrictedFields: ['annualRecurringRevenue'] } },
      });
      const subscriber = await app.seed.user({ workspaceId, roleId });
      const { apiKeyId } = await app.seed.apiKey({ workspaceId });
      await app.seed.featureFlag({ workspaceId, key: FeatureFlagKey.IS_RECORD_LEVEL_SHARING_ENABLED, value: true });
      await app.seed.objectReadability({ workspaceId, objectNameSingular: 'company', readability: 'PRIVATE' });
      const [shared, refused, alsoShared] = await Promise.all(
        ['Shared', 'Refused', 'Also shared'].map((name) =>
          app.seed.record({ workspaceId, objectNameSingular: 'company', data: { name, stage: 'LEAD' } }),
        ),
      );
      for (const record of [shared, alsoShared]) {
        await app.seed.recordShare({
          workspaceId,
          objectNameSingular: 'company',
          recordId: record.id as string,
          principalId: subscriber.workspaceMemberId,
        });
      }
      await app.streams.createStreamState({
        workspaceId,
        authContext: { userId: subscriber.userId, userWorkspaceId: subscriber.userWorkspaceId },
        queries: { table: { objectNameSingular: 'company', variables: { filter: { stage: { eq: 'LEAD' } } } } },
      });
      const objectMetadata = await app.app
        .get(GlobalWorkspaceOrmManager)
        .getObjectMetadataOrThrow(workspaceId, 'company');
      const update = (
        recordId: string,
        author: Record<string, string>,
        updatedFields: string[],
        stage: string,
        extra: Record<string, unknown> = {},
      ) => ({
        recordId,
        ...author,
        properties: {
          updatedFields,
          before: { id: recordId, stage },
          after: { id: recordId, stage, name: 'x' },
          diff: {},
          ...extra,
        },
      });
      const ui = { userId: subscriber.userId, workspaceMemberId: subscriber.workspaceMemberId };
      const byKey = { apiKeyId };
      const events = [
        update(shared.id as string, ui, ['name'], 'LEAD'), // forwarded (ui)
        update(refused.id as string, byKey, ['name'], 'LEAD'), // not admitted (api_key)
        update(shared.id as string, byKey, ['annualRecurringRevenue'], 'LEAD'), // only a restricted field changed (api_key)
        // the same record again, out of the table's filter; its snapshot carrier makes Twenty copy the event
        update(shared.id as string, ui, ['stage'], 'CUSTOMER', { recordShareGrantsAtDestroy: [] }), // no matching query (ui)
        update(alsoShared.id as string, byKey, ['name'], 'LEAD'), // forwarded (api_key)
      ];
      const before = app.readGroundTruth().length;
      const { ObjectRecordEventPublisher } = require(
        `../../example/twenty/generations/${generation}/engine/subscriptions/object-record-event/object-record-event-publisher`,
      );
      await app.app
        .get(ObjectRecordEventPublisher, { strict: false })
        .publish({ name: 'company.updated', workspaceId, objectMetadata, events });
      await app.settle();

      const rows = instrumented.telemetry.tallyRows();
      expect(key(rows, 'stream')).toEqual({
        'ui|forwarded': 1,
        'ui|dropped|no_matching_query': 1,
        'api_key|dropped|record_access_denied': 1,
        'api_key|dropped|restricted_fields_only': 1,
        'api_key|forwarded': 1,
      });
      expect(unattributed(rows)).toBe(0);
      // the example's own record of what happened, per record id
      const truth = app.readGroundTruth().slice(before);
      const codes = truth.flatMap((record) =>
        record.kind === 'dropped'
          ? record.recordIds.map((id) => `${record.dCode}:${id}`)
          : record.kind === 'forwarded'
            ? record.recordIds.map((id) => `ok:${id}`)
            : [],
      );
      expect(codes.sort()).toEqual(
        [`D8:${shared.id}`, `N4:${refused.id}`, `N5:${shared.id}`, `ok:${alsoShared.id}`, `ok:${shared.id}`].sort(),
      );
      expect(instrumented.telemetry.faultCount()).toBe(0);
    });

    it('a workflow step whose events are emitted after its transaction commits: origin workflow, not not_emitted', async () => {
      const app = currentApp();
      const { workspaceId } = await app.seed.workspace();
      const admin = await app.seed.user({ workspaceId });
      const company = await app.seed.record({
        workspaceId,
        objectNameSingular: 'company',
        data: { name: 'Acme', stage: 'LEAD' },
      });
      await app.streams.createStreamState({
        workspaceId,
        authContext: { userId: admin.userId, userWorkspaceId: admin.userWorkspaceId },
        queries: { table: { objectNameSingular: 'company', variables: { filter: {} } } },
      });
      // when execute resolves and when the event is really emitted (both through the instrumentation's wrappers)
      const timeline: string[] = [];
      const actionPrototype = Object.getPrototypeOf(app.app.get(UpdateRecordWorkflowAction, { strict: false }));
      const emitterPrototype = Object.getPrototypeOf(app.app.get(WorkspaceEventEmitter, { strict: false }));
      const originalExecute = actionPrototype.execute;
      actionPrototype.execute = async function (this: unknown, ...args: unknown[]) {
        const out = await originalExecute.apply(this, args);
        timeline.push('execute resolved');
        return out;
      };
      const originalEmitNow = emitterPrototype.emitDatabaseBatchEventNow;
      emitterPrototype.emitDatabaseBatchEventNow = function (this: unknown, ...args: unknown[]) {
        timeline.push('emitted');
        return originalEmitNow.apply(this, args);
      };
      const before = app.readGroundTruth().length;
      try {
        await app.workflows.runAutomatic({
          workspaceId,
          steps: [app.workflows.steps.updateRecord('company', company.id as string, { name: 'By workflow' })],
        });
        await app.settle();
      } finally {
        actionPrototype.execute = originalExecute;
        emitterPrototype.emitDatabaseBatchEventNow = originalEmitNow;
      }

      expect(timeline.filter((entry, index) => entry !== timeline[index - 1])).toEqual(['execute resolved', 'emitted']);
      const rows = instrumented.telemetry.tallyRows();
      expect(key(rows, 'workflow_step')['workflow|dropped|not_emitted']).toBeUndefined();
      expect(key(rows, 'emit')).toEqual({ 'workflow|forwarded': 1 });
      expect(key(rows, 'stream')).toEqual({ 'workflow|forwarded': 1 });
      const action = spanNamed(instrumented.spans.getFinishedSpans(), 'UpdateRecordWorkflowAction.execute');
      expect(action).toHaveLength(1);
      expect(action[0].attributes[ATTR.OUTCOME]).toBe('forwarded');
      expectTallyEqualsGroundTruth(instrumented.telemetry, app, before);
    });

    it('a rolled-back step emits nothing: the action counts as failed (rolled back), not as not_emitted', async () => {
      const app = currentApp();
      const { workspaceId } = await app.seed.workspace();
      const company = await app.seed.record({
        workspaceId,
        objectNameSingular: 'company',
        data: { name: 'Acme', stage: 'LEAD' },
      });
      app.faults.failNextCommits(1);
      const before = app.readGroundTruth().length;
      await app.workflows.runAutomatic({
        workspaceId,
        steps: [app.workflows.steps.updateRecord('company', company.id as string, { name: 'Never committed' })],
      });
      await app.settle();

      const rows = instrumented.telemetry.tallyRows();
      expect(key(rows, 'workflow_step')['workflow|dropped|not_emitted']).toBeUndefined();
      expect(key(rows, 'emit')).toEqual({});
      const action = spanNamed(instrumented.spans.getFinishedSpans(), 'UpdateRecordWorkflowAction.execute');
      expect(action).toHaveLength(1);
      expect(action[0].attributes[ATTR.OUTCOME]).toBe('failed');
      expect(action[0].attributes[ATTR.ERROR_TYPE]).toBe('TransactionRolledBack');
      expect(
        app
          .readGroundTruth()
          .slice(before)
          .filter((record) => record.kind === 'emitted'),
      ).toEqual([]);
    });

    it("the listener's await before publish throws: the batch fails at listen with error.type, nothing downstream is counted", async () => {
      const app = currentApp();
      const { workspaceId } = await app.seed.workspace();
      const admin = await app.seed.user({ workspaceId });
      const company = await app.seed.record({ workspaceId, objectNameSingular: 'company', data: { name: 'Acme' } });
      await app.streams.createStreamState({
        workspaceId,
        authContext: { userId: admin.userId, userWorkspaceId: admin.userWorkspaceId },
        queries: { table: { objectNameSingular: 'company', variables: { filter: {} } } },
      });
      app.faults.failListenerPrecheck(1);
      await app.ui
        .updateRecord({
          token: admin.token,
          objectNameSingular: 'company',
          id: company.id as string,
          data: { name: 'Renamed' },
        })
        .catch(() => undefined);
      await app.settle();

      const rows = instrumented.telemetry.tallyRows();
      expect(key(rows, 'emit')).toEqual({ 'ui|forwarded': 1 });
      expect(key(rows, 'listen')).toEqual({ 'ui|failed': 1 });
      for (const stage of ['publish', 'fanout', 'stream', 'pubsub']) expect(key(rows, stage)).toEqual({});
      const listen = instrumented.spans.getFinishedSpans().filter((span) => span.attributes[ATTR.STAGE] === 'listen');
      expect(listen).toHaveLength(1);
      expect(listen[0].attributes[ATTR.ERROR_TYPE]).toBe('TimelineActivityRoutingPlanError');
      expect(instrumented.telemetry.faultCount()).toBe(0);
    });
  },
);
