/**
 * A model of a Twenty deployment's SSE record-event traffic, minute by
 * minute, as the package counts it (`twenty_sse_stage_events_total` per
 * process, stage, origin, outcome and reason; the stage layout of the
 * generations with the legacy channel, V1 to V9): several workspaces, browser
 * tabs watching different objects with filters, tabs opening, closing and
 * vanishing, UI users and workflows writing records, two API servers and two
 * queue workers (one of them restarted on the way). On top of that routine
 * traffic, each LOSS_KINDS entry injects one kind of real loss.
 *
 * The rule tests (rule-tests.ts) turn it into promtool input series;
 * example/traffic/ drives the example app's real processes with the same
 * workspaces, tabs, writers and losses.
 */
import { type DropReason, type Origin, type Outcome, type Stage } from '../../src/semconv';

export type WriterOrigin = Extract<Origin, 'ui' | 'workflow'>;

export interface TabGroup {
  /** The object whose table the tabs show. */
  object: string;
  tabs: number;
  /** Share of that object's events that pass the table's filter (the rest: no_matching_query). */
  matchShare: number;
}

export interface WorkspaceTraffic {
  name: string;
  /** Record events per minute, per origin and object. */
  writes: Record<WriterOrigin, Record<string, number>>;
  /** Open tabs at the start, by watched object; 10-minute blocks add and remove some (see tabsAt). */
  tabs: TabGroup[];
  /** Tabs opened (and as many closed) per 10-minute block, cycling through the groups. */
  tabTurnoverPerBlock: number;
}

/** The routine deployment of the rule tests: 3 busy workspaces, one nobody watches, about 150 tabs. */
export const ROUTINE_WORKSPACES: readonly WorkspaceTraffic[] = [
  {
    name: 'sales',
    writes: { ui: { company: 6, person: 8, opportunity: 6 }, workflow: { company: 3, person: 4, opportunity: 5 } },
    tabs: [
      { object: 'company', tabs: 30, matchShare: 0.5 },
      { object: 'person', tabs: 25, matchShare: 0.7 },
      { object: 'opportunity', tabs: 25, matchShare: 0.4 },
    ],
    tabTurnoverPerBlock: 6,
  },
  {
    name: 'support',
    writes: { ui: { person: 5, task: 4 }, workflow: { person: 2, task: 6 } },
    tabs: [
      { object: 'person', tabs: 20, matchShare: 0.6 },
      { object: 'task', tabs: 30, matchShare: 0.5 },
    ],
    tabTurnoverPerBlock: 4,
  },
  {
    name: 'ops',
    writes: { ui: { company: 1 }, workflow: { company: 2, opportunity: 1 } },
    tabs: [{ object: 'company', tabs: 20, matchShare: 0.9 }],
    tabTurnoverPerBlock: 2,
  },
  {
    // Workflows run at night in a workspace nobody has open: no_active_streams.
    name: 'batch',
    writes: { ui: { company: 0.5 }, workflow: { company: 3 } },
    tabs: [],
    tabTurnoverPerBlock: 0,
  },
];

/** Process instances (service.instance.id); the second worker restarts with a new id at WORKER_RESTART_MINUTE. */
export const SERVERS = ['server-a', 'server-b'] as const;
export const WORKERS = ['worker-a', 'worker-b'] as const;
export const RESTARTED_WORKER = { before: 'worker-b', after: 'worker-b-restarted' } as const;
export const WORKER_RESTART_MINUTE = 75;
export const SERVER_JOB = 'twenty-server';
export const WORKER_JOB = 'twenty-worker';

/** Routine churn, per 10-minute block and workspace: tabs that vanish without closing, and workflow updates that change nothing. */
export const VANISHED_TABS_PER_BLOCK = 1;
/** Pairs a freshly opened tab misses before its first addQueryToEventStream. */
export const PAIRS_MISSED_PER_OPENED_TAB = 0.3;
export const NO_OP_WORKFLOW_UPDATE_SHARE = 0.03;
/** A vanished tab's key lives this long (Twenty's event-stream TTL) before its next event is dropped as stream_expired. */
export const STREAM_TTL_MINUTES = 30;

/** One kind of real loss, injected from a minute on. */
export interface LossKind {
  id: string;
  title: string;
  /** What the injection does to the routine traffic (the model and the live run do the same). */
  description: string;
}

export const LOSS_KINDS = [
  {
    id: 'seed_hypothesis',
    title: "The seed's hypothesis: workflow pairs dropped at the subscriber gate, UI pairs pass",
    description:
      'every (workflow event, stream) pair that would have reached query matching ends subscriber_without_user_workspace at stream; UI pairs are untouched',
  },
  {
    id: 'workflow_access_denied',
    title: 'Workflow-only access denials',
    description:
      "records written by workflows are not admitted by the newest Twenty's record-access gate for any subscriber: record_access_denied for those pairs",
  },
  {
    id: 'streams_expiring',
    title: 'Streams expiring under load',
    description:
      'a third of the active streams lose their Redis key every minute (memory pressure evicts them): stream_expired for their pairs',
  },
  {
    id: 'redis_publish_failing',
    title: 'Redis publish failures on one worker',
    description:
      'worker-a cannot publish to Redis: its pubsub publishes fail, and the failure surfaces at stream, fanout, publish and listen',
  },
  {
    id: 'step_emits_nothing',
    title: 'A workflow step that emits nothing',
    description:
      'a new workflow step type writes a third of the workflow records outside the event path: not_emitted, and those events never exist',
  },
  {
    id: 'unknown_drop_path',
    title: 'An unknown drop path',
    description:
      'a Twenty change returns early for a quarter of the workflow pairs in a way no drop rule knows: unattributed',
  },
] as const satisfies readonly LossKind[];
export type LossKindId = (typeof LOSS_KINDS)[number]['id'];

export interface SeriesKey {
  job: string;
  instance: string;
  stage: Stage;
  origin: Origin;
  outcome: Outcome;
  reason?: DropReason;
}

export const seriesId = (key: SeriesKey): string =>
  [key.job, key.instance, key.stage, key.origin, key.outcome, key.reason ?? ''].join('|');

/** Per series: units added in each minute (index = minute). */
export interface Simulation {
  minutes: number;
  keys: Map<string, SeriesKey>;
  perMinute: Map<string, number[]>;
}

export interface SimulationOptions {
  minutes: number;
  workspaces?: readonly WorkspaceTraffic[];
  /** Scales every write rate (a quiet night is 0.02). */
  volume?: number;
  loss?: { kind: LossKindId; fromMinute: number };
}

/** Open tabs of a group in a 10-minute block: groups take turns gaining and losing the turnover. */
export function tabsAt(workspace: WorkspaceTraffic, groupIndex: number, block: number): number {
  const group = workspace.tabs[groupIndex];
  const turnover = workspace.tabTurnoverPerBlock;
  if (turnover === 0) return group.tabs;
  const phase = (block + groupIndex) % 4;
  const delta = phase === 1 ? turnover : phase === 3 ? -turnover : 0;
  return Math.max(0, group.tabs + delta);
}

class Accumulator {
  readonly keys = new Map<string, SeriesKey>();
  readonly perMinute = new Map<string, number[]>();

  constructor(private readonly minutes: number) {}

  add(minute: number, key: SeriesKey, units: number): void {
    if (units <= 0) return;
    const id = seriesId(key);
    let row = this.perMinute.get(id);
    if (!row) {
      row = new Array<number>(this.minutes).fill(0);
      this.perMinute.set(id, row);
      this.keys.set(id, key);
    }
    row[minute] += units;
  }
}

/** Splits `units` over instances in turn, so every instance of a job carries a share. */
function instancesFor(origin: WriterOrigin, minute: number): readonly string[] {
  if (origin === 'ui') return SERVERS;
  return WORKERS.map((worker) =>
    worker === RESTARTED_WORKER.before && minute >= WORKER_RESTART_MINUTE ? RESTARTED_WORKER.after : worker,
  );
}

/** Runs the model. Units are fractional per minute; counters() rounds their running sums. */
export function simulate(options: SimulationOptions): Simulation {
  const { minutes } = options;
  const workspaces = options.workspaces ?? ROUTINE_WORKSPACES;
  const volume = options.volume ?? 1;
  const out = new Accumulator(minutes);
  const lossActive = (kind: LossKindId, minute: number) =>
    options.loss !== undefined && options.loss.kind === kind && minute >= options.loss.fromMinute;

  for (let minute = 0; minute < minutes; minute++) {
    const block = Math.floor(minute / 10);
    for (const workspace of workspaces) {
      const tabGroups = workspace.tabs.map((group, index) => ({ ...group, tabs: tabsAt(workspace, index, block) }));
      const openTabs = tabGroups.reduce((sum, group) => sum + group.tabs, 0);
      // Churn of this minute: tabs opened at the start of a block miss a few pairs; tabs that vanished TTL ago expire now.
      const openedThisMinute = minute % 10 === 0 ? workspace.tabTurnoverPerBlock : 0;
      const expiringThisMinute =
        minute >= STREAM_TTL_MINUTES && minute % 10 === 5 && openTabs > 0 ? VANISHED_TABS_PER_BLOCK : 0;
      const expiredUnderLoad = lossActive('streams_expiring', minute) ? openTabs / 3 : 0;

      for (const origin of ['ui', 'workflow'] as const) {
        const instances = instancesFor(origin, minute);
        const job = origin === 'ui' ? SERVER_JOB : WORKER_JOB;
        for (const [object, rate] of Object.entries(workspace.writes[origin])) {
          const writes = rate * volume;
          if (writes === 0) continue;
          const perInstance = writes / instances.length;
          for (const instance of instances) {
            const stage = (stage: Stage, outcome: Outcome, units: number, reason?: DropReason) =>
              out.add(minute, { job, instance, stage, origin, outcome, reason }, units);
            const deliver = (units: number) => {
              // The tab's connection sits on either API server.
              for (const server of SERVERS)
                out.add(
                  minute,
                  { job: SERVER_JOB, instance: server, stage: 'deliver', origin, outcome: 'forwarded' },
                  units / SERVERS.length,
                );
            };

            let events = perInstance;
            if (origin === 'workflow') {
              const silent = lossActive('step_emits_nothing', minute) ? perInstance / 3 : 0;
              const noOp = (perInstance - silent) * NO_OP_WORKFLOW_UPDATE_SHARE;
              stage('workflow_step', 'dropped', silent + noOp, 'not_emitted');
              stage('workflow_step', 'forwarded', perInstance - silent - noOp);
              events = perInstance - silent - noOp;
            }
            const failing = lossActive('redis_publish_failing', minute) && instance === WORKERS[0];
            stage('emit', 'forwarded', events);
            stage('listen', failing ? 'failed' : 'forwarded', events);
            stage('publish', failing ? 'failed' : 'forwarded', events);
            stage('legacy_pubsub', failing ? 'failed' : 'forwarded', events);
            if (failing) continue;
            if (openTabs === 0) {
              stage('fanout', 'dropped', events, 'no_active_streams');
              continue;
            }
            stage('fanout', 'forwarded', events);

            // Per (event, stream) pair. Expired and query-less streams end before the per-stream checks.
            const totalPairs = events * openTabs;
            const expiredPairs = Math.min(totalPairs, events * (expiringThisMinute + expiredUnderLoad));
            const withoutQueries = Math.min(
              totalPairs - expiredPairs,
              events * openedThisMinute * PAIRS_MISSED_PER_OPENED_TAB,
            );
            stage('stream', 'dropped', expiredPairs, 'stream_expired');
            stage('stream', 'dropped', withoutQueries, 'stream_without_queries');
            const checked = totalPairs - expiredPairs - withoutQueries;
            const watching = tabGroups.filter((group) => group.object === object);
            const watchingTabs = watching.reduce((sum, group) => sum + group.tabs, 0);
            const matchingTabs = watching.reduce((sum, group) => sum + group.tabs * group.matchShare, 0);
            const scale = checked / totalPairs;
            let matched = events * matchingTabs * scale;
            let unmatched = checked - matched;
            const workflowGate = origin === 'workflow' && lossActive('seed_hypothesis', minute);
            if (workflowGate) {
              stage('stream', 'dropped', checked, 'subscriber_without_user_workspace');
              continue;
            }
            if (origin === 'workflow' && lossActive('workflow_access_denied', minute)) {
              // The gate runs before query matching: every pair of a watched object's event is denied.
              const denied = events * watchingTabs * scale;
              stage('stream', 'dropped', denied, 'record_access_denied');
              unmatched = checked - denied;
              matched = 0;
            }
            if (origin === 'workflow' && lossActive('unknown_drop_path', minute)) {
              const lost = checked / 4;
              stage('stream', 'dropped', lost, 'unattributed');
              matched *= 3 / 4;
              unmatched *= 3 / 4;
            }
            stage('stream', 'dropped', unmatched, 'no_matching_query');
            stage('stream', 'forwarded', matched);
            stage('pubsub', 'forwarded', matched);
            deliver(matched);
          }
        }
      }
    }
  }
  return { minutes, keys: out.keys, perMinute: out.perMinute };
}

/**
 * Counter values at the end of each minute: running sums, rounded. A series
 * is absent (undefined) before its first unit, as an OTel counter is exported
 * only after its first add, and absent again after its process stopped (a
 * restarted instance's old series).
 */
export function counters(simulation: Simulation): Map<string, Array<number | undefined>> {
  const result = new Map<string, Array<number | undefined>>();
  for (const [id, row] of simulation.perMinute) {
    const key = simulation.keys.get(id) as SeriesKey;
    let sum = 0;
    let born = false;
    result.set(
      id,
      row.map((units, minute) => {
        if (key.instance === RESTARTED_WORKER.before && minute >= WORKER_RESTART_MINUTE) return undefined;
        sum += units;
        if (Math.round(sum) > 0) born = true;
        return born ? Math.round(sum) : undefined;
      }),
    );
  }
  return result;
}
