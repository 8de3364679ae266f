import { instrumentNestInProcess, useTwentyLikeApp } from '../helpers/in-process';
import { expectTallyEqualsGroundTruth } from '../integration/drop-conditions.shared';

/**
 * Thousands of interleaved batches across streams and origins, all in flight
 * at once: no origin or outcome leaks from one event to another (the async
 * context, not shared state, carries them), and every stage's count per origin
 * equals the example app's own ground truth.
 */
const MUTATIONS = 2_000;
const IN_FLIGHT = 250;

const instrumented = instrumentNestInProcess();

describe.each(['v5', 'publisher'] as const)('concurrency, generation %s', (generation) => {
  const currentApp = useTwentyLikeApp(generation);

  it(`${MUTATIONS} interleaved UI and workflow mutations, ${IN_FLIGHT} in flight`, async () => {
    const { workspaceId } = await currentApp().seed.workspace();
    const admin = await currentApp().seed.user({ workspaceId });
    const restrictedRole = await currentApp().seed.role({
      workspaceId,
      objects: { company: { restrictedFields: ['annualRecurringRevenue'] } },
    });
    const restricted = await currentApp().seed.user({ workspaceId, roleId: restrictedRole.roleId });
    const { apiKeyId } = await currentApp().seed.apiKey({ workspaceId });
    const table = { table: { objectNameSingular: 'company', variables: { filter: { stage: { eq: 'LEAD' } } } } };
    for (const authContext of [
      { userId: admin.userId, userWorkspaceId: admin.userWorkspaceId },
      { userId: restricted.userId, userWorkspaceId: restricted.userWorkspaceId },
      { apiKeyId },
    ]) {
      await currentApp().streams.createStreamState({ workspaceId, authContext, queries: table });
    }
    const companies: { id: string }[] = [];
    for (let i = 0; i < 20; i++)
      companies.push(
        await currentApp().seed.record({
          workspaceId,
          objectNameSingular: 'company',
          data: { name: `C${i}`, stage: 'LEAD' },
        }),
      );
    const authContext = {
      user: { id: admin.userId },
      workspace: { id: workspaceId },
      workspaceMemberId: admin.workspaceMemberId,
      userWorkspaceId: admin.userWorkspaceId,
      apiKey: null,
    };
    await currentApp().settle();
    instrumented.telemetry.resetTally();
    const before = currentApp().readGroundTruth().length;

    const mutation = (i: number) => {
      const company = companies[i % companies.length];
      const data =
        i % 4 === 0
          ? { annualRecurringRevenue: i }
          : i % 4 === 1
            ? { stage: i % 8 === 1 ? 'WON' : 'LEAD', name: `S${i}` }
            : { name: `N${i}` };
      return i % 2 === 0
        ? currentApp().ui.updateRecord({ authContext, objectNameSingular: 'company', id: company.id, data })
        : currentApp().workflows.runAutomatic({
            workspaceId,
            steps: [currentApp().workflows.steps.updateRecord('company', company.id, data)],
          });
    };
    for (let start = 0; start < MUTATIONS; start += IN_FLIGHT) {
      await Promise.all(Array.from({ length: Math.min(IN_FLIGHT, MUTATIONS - start) }, (_, k) => mutation(start + k)));
    }
    await currentApp().settle();

    const { rows, truth } = expectTallyEqualsGroundTruth(instrumented.telemetry, currentApp(), before);
    expect(instrumented.telemetry.faultCount()).toBe(0);
    for (const origin of ['ui', 'workflow']) {
      const emitted = truth.filter((r) => r.kind === 'emitted' && r.origin === origin).reduce((s, r) => s + r.count, 0);
      const emitRows = rows.filter((r) => r.stage === 'emit' && r.origin === origin).reduce((s, r) => s + r.count, 0);
      expect(emitRows).toBe(emitted);
      expect(emitted).toBeGreaterThan(MUTATIONS / 4);
    }
  });
});
