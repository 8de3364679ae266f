import type { TwentyGeneration } from '../../example/app/example-config';
import type { TallyRow } from '../../src/otel/telemetry';
import { instrumentNestInProcess, useTwentyLikeApp } from '../helpers/in-process';
import { FeatureFlagKey } from '../../example/twenty/twenty-shared/types';
import { expectTallyEqualsGroundTruth } from './drop-conditions.shared';

/**
 * Many mixed batches over many streams with random subscribers, roles,
 * permissions and queries, reproducible from a seed (TEST_SEED=<n> to replay).
 * Checks: every drop's reason equals the example app's ground truth, nothing
 * is unattributed, and units are conserved from one stage to the next per origin.
 */
const SEED = Number(process.env.TEST_SEED ?? 20261126);
const MUTATIONS = 60;

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function sum(rows: TallyRow[], stage: string, origin: string, outcome?: string): number {
  return rows
    .filter((r) => r.stage === stage && r.origin === origin && (!outcome || r.outcome === outcome))
    .reduce((s, r) => s + r.count, 0);
}

const instrumented = instrumentNestInProcess();

describe.each(['v1', 'v5', 'v8', 'publisher', 'record_share', 'record_access'] as TwentyGeneration[])(
  'randomized scenario, generation %s',
  (generation) => {
    const currentApp = useTwentyLikeApp(generation);

    it(`seed ${SEED}: drops match the ground truth, none unattributed, units conserved across stages`, async () => {
      const random = mulberry32(SEED + generation.length);
      const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)];

      const workspaces: { workspaceId: string; adminToken: string; adminMemberId: string; companyIds: string[] }[] = [];
      for (let w = 0; w < 2; w++) {
        const { workspaceId } = await currentApp().seed.workspace();
        const admin = await currentApp().seed.user({ workspaceId });
        const restrictedRole = await currentApp().seed.role({
          workspaceId,
          objects: { company: { restrictedFields: ['annualRecurringRevenue'] } },
        });
        const noReadRole = await currentApp().seed.role({ workspaceId, objects: { company: { canRead: false } } });
        const restricted = await currentApp().seed.user({ workspaceId, roleId: restrictedRole.roleId });
        const noRead = await currentApp().seed.user({ workspaceId, roleId: noReadRole.roleId });
        const roleless = await currentApp().seed.user({ workspaceId, roleId: null });
        const { apiKeyId } = await currentApp().seed.apiKey({ workspaceId });
        const subscribers = [
          { userId: admin.userId, userWorkspaceId: admin.userWorkspaceId },
          { userId: restricted.userId, userWorkspaceId: restricted.userWorkspaceId },
          { userId: noRead.userId, userWorkspaceId: noRead.userWorkspaceId },
          { userId: roleless.userId, userWorkspaceId: roleless.userWorkspaceId },
          { apiKeyId },
        ];
        const queryChoices = [
          undefined,
          { q: { objectNameSingular: 'company', variables: { filter: {} } } },
          { q: { objectNameSingular: 'company', variables: { filter: { stage: { eq: 'LEAD' } } } } },
          { q: { objectNameSingular: 'person', variables: { filter: {} } } },
        ];
        const streamCount = 1 + Math.floor(random() * 5);
        for (let s = 0; s < streamCount; s++) {
          const queries = pick(queryChoices);
          const stream = await currentApp().streams.createStreamState({
            workspaceId,
            authContext: pick(subscribers),
            ...(queries ? { queries: { 'record-table-virtualized': queries.q } } : {}),
          });
          if (random() < 0.15) await currentApp().streams.expire({ workspaceId, eventStreamId: stream.eventStreamId });
        }
        const companyIds: string[] = [];
        for (let c = 0; c < 4; c++) {
          const record = await currentApp().seed.record({
            workspaceId,
            objectNameSingular: 'company',
            data: { name: `Co ${c}`, stage: pick(['LEAD', 'CUSTOMER']), employees: 1 },
          });
          companyIds.push(record.id);
        }
        if (generation === 'record_share' || generation === 'record_access') {
          // record-level sharing on: some companies shared with the admin, the rest refused by the access gate
          await currentApp().seed.featureFlag({
            workspaceId,
            key: FeatureFlagKey.IS_RECORD_LEVEL_SHARING_ENABLED,
            value: true,
          });
          await currentApp().seed.objectReadability({
            workspaceId,
            objectNameSingular: 'company',
            readability: 'PRIVATE',
          });
          for (const companyId of companyIds) {
            if (random() < 0.5)
              await currentApp().seed.recordShare({
                workspaceId,
                objectNameSingular: 'company',
                recordId: companyId,
                principalId: admin.workspaceMemberId,
              });
          }
        }
        workspaces.push({ workspaceId, adminToken: admin.token, adminMemberId: admin.workspaceMemberId, companyIds });
      }
      // a workspace with no stream at all (D1)
      const lonely = await currentApp().seed.workspace();
      const lonelyAdmin = await currentApp().seed.user({ workspaceId: lonely.workspaceId });
      const lonelyCompany = await currentApp().seed.record({
        workspaceId: lonely.workspaceId,
        objectNameSingular: 'company',
        data: { name: 'Alone' },
      });
      workspaces.push({
        workspaceId: lonely.workspaceId,
        adminToken: lonelyAdmin.token,
        adminMemberId: lonelyAdmin.workspaceMemberId,
        companyIds: [lonelyCompany.id],
      });

      await currentApp().settle();
      instrumented.telemetry.resetTally();
      const before = currentApp().readGroundTruth().length;

      for (let m = 0; m < MUTATIONS; m++) {
        const ws = pick(workspaces);
        const id = pick(ws.companyIds);
        const change = pick([
          { name: `N${m}` },
          { stage: pick(['LEAD', 'CUSTOMER']) },
          { annualRecurringRevenue: m },
          { employees: m, name: `E${m}` },
        ]);
        const kind = random();
        if (kind < 0.4)
          await currentApp().ui.updateRecord({ token: ws.adminToken, objectNameSingular: 'company', id, data: change });
        else if (kind < 0.5)
          await currentApp().ui.createRecord({
            token: ws.adminToken,
            objectNameSingular: 'company',
            data: { name: `New ${m}`, stage: 'LEAD' },
          });
        else if (kind < 0.8)
          await currentApp().workflows.runAutomatic({
            workspaceId: ws.workspaceId,
            steps: [currentApp().workflows.steps.updateRecord('company', id, change)],
          });
        else if (kind < 0.92)
          await currentApp().workflows.runManual({
            workspaceId: ws.workspaceId,
            workspaceMemberId: ws.adminMemberId,
            steps: [currentApp().workflows.steps.updateRecord('company', id, change)],
          });
        else
          await currentApp().workflows.runAutomatic({
            workspaceId: ws.workspaceId,
            steps: [currentApp().workflows.steps.createRecord('company', { name: `WF ${m}` })],
          });
      }
      await currentApp().settle();

      const { rows, truth } = expectTallyEqualsGroundTruth(instrumented.telemetry, currentApp(), before);
      expect(instrumented.telemetry.faultCount()).toBe(0);

      const origins = [...new Set(rows.map((r) => r.origin))];
      expect(origins).toEqual(expect.arrayContaining(['ui', 'workflow']));
      for (const origin of origins) {
        // each stage receives exactly what the previous one forwarded
        expect(sum(rows, 'listen', origin)).toBe(sum(rows, 'emit', origin, 'forwarded'));
        expect(sum(rows, 'publish', origin)).toBe(sum(rows, 'listen', origin, 'forwarded'));
        expect(sum(rows, 'fanout', origin)).toBe(sum(rows, 'publish', origin, 'forwarded'));
        expect(sum(rows, 'pubsub', origin)).toBe(sum(rows, 'stream', origin, 'forwarded'));
      }
      // emitted events per origin equal the ground truth's emitted records
      for (const origin of origins) {
        const emitted = truth
          .filter((r) => r.kind === 'emitted' && r.origin === origin)
          .reduce((s, r) => s + r.count, 0);
        expect(sum(rows, 'emit', origin)).toBe(emitted);
      }
    });
  },
);
