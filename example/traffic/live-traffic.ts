import { v4 } from 'uuid';

import { type LossKindId } from '../../dashboards/generator/traffic-model';
import { type SseStream, type TwentyLikeApp } from '../harness';
import { FeatureFlagKey } from '../twenty/twenty-shared/types';
import { type WorkflowAction } from '../twenty/modules/workflow/common/workflow.types';

// The traffic model of dashboards/generator/traffic-model.ts, played against
// the example's real processes (run in `client` mode next to an API server
// and a queue worker): browser tabs watching tables of several objects with
// filters, UI users and workflows changing records, tabs closing and being
// replaced, now and then a tab that vanishes without closing. Each loss kind
// of the model can be switched on and off; the two that need a process of
// their own (a worker whose Redis user loses PUBLISH, a worker running a
// Twenty build with an unknown drop path) are handed to the caller.
//
// Sized for a live run of a few minutes on a small machine: rates are per
// second where the model's are per minute, which is what the compressed rule
// timing of the live test expects.

export type LiveLossKind = LossKindId;

export type LiveTrafficPlan = {
  // The tables open in browsers of the busy workspace, one user per tab.
  tabs: { object: 'company' | 'person' | 'opportunity'; filter?: Record<string, unknown> }[];
  uiWritesPerSecond: number;
  workflowRunsPerSecond: number;
  // Every this many seconds one tab closes and another opens on the same table.
  tabTurnoverSeconds: number;
  // Every this many seconds a tab vanishes without closing: its key expires (D2, routine).
  vanishedTabSeconds: number;
  // Share of workflow runs that write in a workspace nobody has open (D1, routine).
  unwatchedWorkflowShare: number;
  // streams_expiring: streams that lose their key per second.
  expiringStreamsPerSecond: number;
};

export const LIVE_ROUTINE_PLAN: LiveTrafficPlan = {
  tabs: [
    { object: 'company' },
    { object: 'company', filter: { stage: { eq: 'LEAD' } } },
    { object: 'person' },
    { object: 'person', filter: { city: { eq: 'Paris' } } },
    { object: 'opportunity' },
    { object: 'opportunity', filter: { stage: { eq: 'LEAD' } } },
  ],
  uiWritesPerSecond: 4,
  workflowRunsPerSecond: 3,
  tabTurnoverSeconds: 6,
  vanishedTabSeconds: 20,
  unwatchedWorkflowShare: 0.2,
  expiringStreamsPerSecond: 8,
};

// What the caller does for the loss kinds that need a process of their own.
export type ProcessFaults = {
  setRedisPublishFailing: (failing: boolean) => Promise<void>;
  setUnknownDropPath: (active: boolean) => Promise<void>;
};

export type LiveTrafficStats = {
  uiWrites: number;
  workflowRuns: number;
  tabsOpened: number;
  tabsClosed: number;
  streamsExpired: number;
  errors: string[];
};

type Workspace = { workspaceId: string; records: Record<string, string[]> };

const RECORDS_PER_OBJECT = 6;
const TICK_MS = 100;
const MAX_IN_FLIGHT = 24;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export class LiveTraffic {
  readonly stats: LiveTrafficStats = {
    uiWrites: 0,
    workflowRuns: 0,
    tabsOpened: 0,
    tabsClosed: 0,
    streamsExpired: 0,
    errors: [],
  };
  private active?: LiveLossKind;
  private readonly tabs: { stream: SseStream; object: string; filter?: Record<string, unknown> }[] = [];
  private inFlight = 0;
  private running = false;
  private loop?: Promise<void>;
  private counter = 0;
  private workflowRuns = 0;

  private constructor(
    private readonly client: TwentyLikeApp,
    private readonly plan: LiveTrafficPlan,
    private readonly processFaults: ProcessFaults,
    private readonly main: Workspace & { userTokens: string[]; adminAuth: { userId: string; userWorkspaceId: string } },
    private readonly automation: Workspace,
    private readonly unwatched: Workspace,
  ) {}

  // Seeds three workspaces (the busy one with its tabs, one watched only by
  // API-key integrations, one nobody watches) and opens the tabs.
  static async start(client: TwentyLikeApp, plan: LiveTrafficPlan, processFaults: ProcessFaults): Promise<LiveTraffic> {
    const seedWorkspace = async (): Promise<Workspace> => {
      const { workspaceId } = await client.seed.workspace();
      const records: Record<string, string[]> = {};

      for (const object of ['company', 'person', 'opportunity']) {
        records[object] = [];
        for (let i = 0; i < RECORDS_PER_OBJECT; i++) {
          const record = await client.seed.record({
            workspaceId,
            objectNameSingular: object,
            data: { name: `${object} ${i}`, stage: i % 2 === 0 ? 'LEAD' : 'WON', city: i % 3 === 0 ? 'Paris' : 'Lyon' },
          });

          records[object].push(record.id);
        }
      }

      return { workspaceId, records };
    };

    const mainWorkspace = await seedWorkspace();
    const admin = await client.seed.user({ workspaceId: mainWorkspace.workspaceId });
    const userTokens = [admin.token];

    for (let i = 1; i < plan.tabs.length; i++) {
      userTokens.push((await client.seed.user({ workspaceId: mainWorkspace.workspaceId })).token);
    }
    const automation = await seedWorkspace();
    const unwatched = await seedWorkspace();
    const traffic = new LiveTraffic(
      client,
      plan,
      processFaults,
      { ...mainWorkspace, userTokens, adminAuth: { userId: admin.userId, userWorkspaceId: admin.userWorkspaceId } },
      automation,
      unwatched,
    );

    for (const [index, tab] of plan.tabs.entries()) {
      await traffic.openTab(userTokens[index], tab.object, tab.filter);
    }
    // The integration streams of the automation workspace: API keys, no user workspace.
    for (let i = 0; i < 2; i++) {
      const { token } = await client.seed.apiKey({ workspaceId: automation.workspaceId });
      const stream = await client.streams.open({ token, workspaceId: automation.workspaceId });

      await stream.addQuery({
        queryId: `integration-company-${i}`,
        operationSignature: { objectNameSingular: 'company' },
      });
    }
    traffic.running = true;
    traffic.loop = traffic.run();

    return traffic;
  }

  get lossKind(): LiveLossKind | undefined {
    return this.active;
  }

  // Switches one loss kind on (undefined: back to routine traffic).
  async inject(kind: LiveLossKind | undefined): Promise<void> {
    const previous = this.active;

    if (previous === kind) {
      return;
    }
    this.active = undefined;
    await this.setProcessFault(previous, false);
    if (previous === 'workflow_access_denied' || kind === 'workflow_access_denied') {
      const on = kind === 'workflow_access_denied';

      await this.client.seed.featureFlag({
        workspaceId: this.main.workspaceId,
        key: FeatureFlagKey.IS_RECORD_SHARING_ENABLED,
        value: on,
      });
      await this.client.seed.objectReadability({
        workspaceId: this.main.workspaceId,
        objectNameSingular: 'opportunity',
        readability: on ? 'PRIVATE' : 'PUBLIC',
      });
    }
    await this.setProcessFault(kind, true);
    this.active = kind;
  }

  async stop(): Promise<void> {
    await this.inject(undefined);
    this.running = false;
    await this.loop;
    while (this.inFlight > 0) {
      await sleep(20);
    }
    for (const tab of this.tabs.splice(0)) {
      tab.stream.close();
    }
  }

  private async setProcessFault(kind: LiveLossKind | undefined, on: boolean): Promise<void> {
    if (kind === 'redis_publish_failing') {
      await this.processFaults.setRedisPublishFailing(on);
    }
    if (kind === 'unknown_drop_path') {
      await this.processFaults.setUnknownDropPath(on);
    }
  }

  private async openTab(token: string, object: string, filter?: Record<string, unknown>): Promise<void> {
    const stream = await this.client.streams.open({ token, workspaceId: this.main.workspaceId });

    await stream.addQuery({
      queryId: `record-table-virtualized-${object}`,
      operationSignature: { objectNameSingular: object, ...(filter && { variables: { filter } }) },
    });
    this.tabs.push({ stream, object, filter });
    this.stats.tabsOpened += 1;
  }

  // One tab closes (the browser unsubscribes; Twenty destroys the stream) and another opens on the same table.
  private async turnOverTab(): Promise<void> {
    const index = this.counter % this.tabs.length;
    const [tab] = this.tabs.splice(index, 1);

    tab.stream.close();
    await this.client.streams.destroy({ workspaceId: this.main.workspaceId, eventStreamId: tab.stream.eventStreamId });
    this.stats.tabsClosed += 1;
    await this.openTab(tab.stream.token, tab.object, tab.filter);
  }

  // A stream registered like a tab's whose key is then gone: the next event drops it once as stream_expired.
  private async expireStream(): Promise<void> {
    const { eventStreamId } = await this.client.streams.createStreamState({
      workspaceId: this.main.workspaceId,
      authContext: this.main.adminAuth,
      queries: { 'record-table-virtualized-company': { objectNameSingular: 'company' } },
    });

    await this.client.streams.expire({ workspaceId: this.main.workspaceId, eventStreamId });
    this.stats.streamsExpired += 1;
  }

  private pick<T>(items: readonly T[]): T {
    this.counter += 1;

    return items[this.counter % items.length];
  }

  private async uiWrite(): Promise<void> {
    const object = this.pick(['company', 'person'] as const);
    const id = this.pick(this.main.records[object]);

    await this.client.ui.updateRecord({
      token: this.pick(this.main.userTokens),
      objectNameSingular: object,
      id,
      data: { name: `ui ${v4().slice(0, 8)}` },
    });
    this.stats.uiWrites += 1;
  }

  private async workflowRun(): Promise<void> {
    const kind = this.active;
    this.workflowRuns += 1;
    const unwatched = kind !== 'seed_hypothesis' && (this.workflowRuns % 10) / 10 < this.plan.unwatchedWorkflowShare;
    const workspace = kind === 'seed_hypothesis' ? this.automation : unwatched ? this.unwatched : this.main;
    const object = kind === 'seed_hypothesis' ? 'company' : this.pick(['company', 'opportunity'] as const);
    const id = this.pick(workspace.records[object]);
    const values = { name: `workflow ${v4().slice(0, 8)}` };
    const steps: WorkflowAction[] = [this.client.workflows.steps.updateRecord(object, id, values)];

    if (kind === 'step_emits_nothing') {
      // A second step writing what the first just wrote: no field changes, so no event.
      steps.push(this.client.workflows.steps.updateRecord(object, id, values));
    }
    await this.client.workflows.runAutomatic({ workspaceId: workspace.workspaceId, steps, wait: false });
    this.stats.workflowRuns += 1;
  }

  private launch(what: string, action: () => Promise<void>): void {
    if (this.inFlight >= MAX_IN_FLIGHT) {
      return;
    }
    this.inFlight += 1;
    action()
      .catch((error: unknown) => {
        if (this.stats.errors.length < 20) {
          this.stats.errors.push(`${what}: ${error instanceof Error ? error.message : String(error)}`);
        }
      })
      .finally(() => {
        this.inFlight -= 1;
      });
  }

  private async run(): Promise<void> {
    const due = { ui: 0, workflow: 0, expiring: 0 };
    let lastTurnover = Date.now();
    let lastVanished = Date.now();
    let turningOver = false;

    while (this.running) {
      const seconds = TICK_MS / 1000;

      due.ui += this.plan.uiWritesPerSecond * seconds;
      due.workflow += this.plan.workflowRunsPerSecond * seconds;
      due.expiring += this.active === 'streams_expiring' ? this.plan.expiringStreamsPerSecond * seconds : 0;
      for (; due.ui >= 1; due.ui -= 1) this.launch('UI write', () => this.uiWrite());
      for (; due.workflow >= 1; due.workflow -= 1) this.launch('workflow run', () => this.workflowRun());
      for (; due.expiring >= 1; due.expiring -= 1) this.launch('expiring stream', () => this.expireStream());
      if (!turningOver && Date.now() - lastTurnover >= this.plan.tabTurnoverSeconds * 1000) {
        lastTurnover = Date.now();
        turningOver = true;
        this.launch('tab turnover', () => this.turnOverTab().finally(() => (turningOver = false)));
      }
      if (Date.now() - lastVanished >= this.plan.vanishedTabSeconds * 1000) {
        lastVanished = Date.now();
        this.launch('vanished tab', () => this.expireStream());
      }
      await sleep(TICK_MS);
    }
  }
}
