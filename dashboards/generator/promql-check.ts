/**
 * Runs every Prometheus query of the dashboard against a live Prometheus HTTP
 * API, the way its panel runs it (instant for stats and tables, range for
 * time series), with Grafana variables replaced by TEST_VARIABLE_VALUES.
 */
import { dashboardQueries, type DashboardQuery } from './dashboard';

export interface QueryCheck extends DashboardQuery {
  status: 'ok' | 'empty' | 'error';
  /** Series returned (0 when empty or on error). */
  series: number;
  error?: string;
}

interface PrometheusResponse {
  status: 'success' | 'error';
  data?: { resultType: string; result: unknown[] };
  errorType?: string;
  error?: string;
}

/** Range queries cover the hour before `timeSec`, matching $__range = 1h. */
const RANGE_SECONDS = 3600;
const RANGE_STEP_SECONDS = 15;

async function runQuery(promUrl: string, query: DashboardQuery, timeSec: number): Promise<QueryCheck> {
  const params = new URLSearchParams({ query: query.expr });
  if (query.instant) {
    params.set('time', String(timeSec));
  } else {
    params.set('start', String(timeSec - RANGE_SECONDS));
    params.set('end', String(timeSec));
    params.set('step', String(RANGE_STEP_SECONDS));
  }
  const endpoint = query.instant ? 'query' : 'query_range';
  try {
    const response = await fetch(`${promUrl.replace(/\/$/, '')}/api/v1/${endpoint}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: params.toString(),
    });
    const body = (await response.json()) as PrometheusResponse;
    if (body.status !== 'success' || body.data === undefined) {
      return {
        ...query,
        status: 'error',
        series: 0,
        error: `${body.errorType ?? response.status}: ${body.error ?? 'no data'}`,
      };
    }
    const series = body.data.result.length;
    return { ...query, status: series > 0 ? 'ok' : 'empty', series };
  } catch (error) {
    return { ...query, status: 'error', series: 0, error: error instanceof Error ? error.message : String(error) };
  }
}

/** One result per dashboard query, in panel order. `timeSec` defaults to now. */
export async function runAllDashboardQueries(
  promUrl: string,
  timeSec: number = Date.now() / 1000,
): Promise<QueryCheck[]> {
  return Promise.all(dashboardQueries().map((query) => runQuery(promUrl, query, timeSec)));
}
