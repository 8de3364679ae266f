/**
 * The doctor's last-mile lines, from Prometheus answers (a fake query
 * function keyed by the metric each query reads): connections by close
 * reason, reconnects, the lifetime bucket where most connections ended (a
 * proxy cutting at 60 s reads as such), late events and the no_live_connection
 * share of the funnel's pubsub stage.
 */
import {
  growthQuery,
  lifetimeBuckets,
  queryLastMile,
  renderLastMile,
  type VectorSample,
} from '../../src/cli/last-mile';
import { buildFunnelReport } from '../../src/cli/report';
import { PROM } from '../../src/semconv';

const sample = (metric: Record<string, string>, value: number): VectorSample => ({
  metric,
  value: [1_800_000_000, String(value)],
});

/** Answers per metric name, the way Prometheus would for the doctor's queries. */
function fakePrometheus(answers: Record<string, VectorSample[]>) {
  const asked: string[] = [];
  return {
    asked,
    query: async (expr: string) => {
      asked.push(expr);
      const metric = Object.keys(answers).find((name) => expr.includes(`${name})`) || expr.includes(`${name} `));
      return metric ? answers[metric] : [];
    },
  };
}

const funnel = buildFunnelReport([
  { stage: 'pubsub', origin: 'ui', outcome: 'forwarded', count: 30 },
  { stage: 'pubsub', origin: 'ui', outcome: 'dropped', reason: 'no_live_connection', count: 6 },
  { stage: 'pubsub', origin: 'workflow', outcome: 'dropped', reason: 'no_live_connection', count: 4 },
]);

describe('doctor: last mile', () => {
  it('a proxy cutting every connection at 60 s: lifetimes piled in the 59-61 s bucket, nearly every connection a reconnect', async () => {
    const prometheus = fakePrometheus({
      [PROM.CONNECTIONS_OPENED]: [sample({}, 40)],
      [PROM.CONNECTIONS_ACTIVE]: [sample({}, 2)],
      [PROM.CONNECTIONS_CLOSED]: [
        sample({ [PROM.LABEL_CLOSE_REASON]: 'client_gone' }, 37),
        sample({ [PROM.LABEL_CLOSE_REASON]: 'server_shutdown' }, 1),
      ],
      [PROM.STREAM_RESUBSCRIPTIONS]: [sample({ [PROM.LABEL_RESUBSCRIBE_PREVIOUS]: 'closed_here' }, 36)],
      [PROM.CONNECTION_LATE_EVENTS]: [sample({}, 3)],
      [PROM.CONNECTION_LIFETIME_BUCKET]: [
        sample({ le: '55' }, 1),
        sample({ le: '59' }, 1),
        sample({ le: '61' }, 37),
        sample({ le: '+Inf' }, 38),
      ],
    });
    const summary = await queryLastMile(prometheus.query, '1h');
    expect(prometheus.asked).toContain(growthQuery(PROM.CONNECTIONS_CLOSED, [PROM.LABEL_CLOSE_REASON], '1h'));
    expect(renderLastMile(summary, funnel, '1h')).toEqual([
      'Last mile (last 1h):',
      '- event-stream publishes that reached no subscriber (no_live_connection): 10 of 40 (25.0%)',
      '- SSE connections: 40 opened, 38 closed (client_gone 37, server_shutdown 1), 2 open now',
      '- reconnects: 36 of 40 connections were a stream coming back (90.0%): closed_here 36',
      '- lifetimes: 36 of 38 connections ended between 59 and 61 s: something (a proxy or load balancer timeout?) cuts SSE connections at that age; events published while the browser reconnects reach nobody',
      '- events handed to a connection that was already closing: 3',
    ]);
  });

  it('spread-out lifetimes are not called a cut', () => {
    const buckets = lifetimeBuckets([sample({ le: '10' }, 3), sample({ le: '600' }, 7), sample({ le: '+Inf' }, 10)]);
    expect(buckets).toEqual([
      { lower: 0, upper: 10, count: 3 },
      { lower: 10, upper: 600, count: 4 },
      { lower: 600, upper: null, count: 3 },
    ]);
    const lines = renderLastMile(
      {
        connections: {
          opened: 10,
          openNow: 0,
          closed: { client_gone: 10, server_shutdown: 0, error: 0 },
          resubscriptions: { open_here: 0, closed_here: 0, registered: 0 },
          lateEvents: 0,
          lifetimes: buckets,
        },
      },
      buildFunnelReport([]),
      '1h',
    );
    expect(lines).toContain('- lifetimes: 4 of 10 connections ended between 10 and 600 s');
    expect(lines).toContain('- reconnects: 0 of 10 connections were a stream coming back (0.0%)');
  });

  it('API servers without connection metrics (or answers that are not ours) say so in one line', async () => {
    const unrelated = [
      sample({ [PROM.LABEL_STAGE]: 'emit', [PROM.LABEL_ORIGIN]: 'ui', [PROM.LABEL_OUTCOME]: 'forwarded' }, 3),
    ];
    const summary = await queryLastMile(async () => unrelated, '1h');
    expect(summary).toEqual({});
    expect(renderLastMile(summary, buildFunnelReport([]), '1h')).toEqual([
      'Last mile (last 1h):',
      `- no SSE connection metrics (${PROM.CONNECTIONS_OPENED}, ${PROM.CONNECTIONS_ACTIVE}): the API servers run without this package or an older version of it`,
    ]);
  });
});
