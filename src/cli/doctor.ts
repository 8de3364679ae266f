import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { renderHtmlReport, traceFromJaeger, type TraceView } from './html-report';
import { buildFunnelReport, FunnelReport, FunnelRow, renderFunnelReport } from './report';
import { ATTR, DROP_REASON_NAMES, DropReason, GENERATIONS, Generation, ORIGINS, Origin, OUTCOMES, Outcome, PROM, STAGES, Stage } from '../semconv';

/**
 * `twenty-sse-otel doctor`: the demo's funnel and diagnosis, computed from a
 * live Prometheus (and example traces from Jaeger). Exit codes: 0 healthy,
 * 1 drops or failures found, 2 cannot reach or parse an endpoint.
 */
export interface DoctorOptions {
  prometheus: string;
  jaeger?: string;
  since: string;
  json: boolean;
  generation?: Generation;
  timeoutMs: number;
  /** Also write a self-contained HTML report to this file. */
  html?: string;
}

export class DoctorError extends Error {}

const SINCE = /^[1-9][0-9]*(s|m|h|d|w)$/;

const FLAGS = {
  prometheus: { type: 'string' },
  jaeger: { type: 'string' },
  since: { type: 'string' },
  json: { type: 'boolean' },
  html: { type: 'string' },
  generation: { type: 'string' },
  timeout: { type: 'string' },
} as const;

const isFlag = (name: string): name is keyof typeof FLAGS => Object.hasOwn(FLAGS, name);

/**
 * The doctor's flags, `--name value` or `--name=value`. parseArgs runs
 * lenient and hands back its tokens, so each problem gets this CLI's own
 * one-line message with the fix rather than parseArgs's wording.
 */
export function parseDoctorArgs(argv: string[]): DoctorOptions {
  const { values, tokens } = parseArgs({ args: argv, options: FLAGS, strict: false, allowPositionals: true, tokens: true });
  for (const token of tokens) {
    if (token.kind !== 'option' || !isFlag(token.name)) {
      throw new DoctorError(`unknown option ${argv[token.index]}; usage: twenty-sse-otel doctor --prometheus URL [--jaeger URL] [--since 1h] [--json] [--html FILE]`);
    }
    const { type } = FLAGS[token.name];
    if (type === 'string' && (token.value === undefined || (!token.inlineValue && token.value.startsWith('--')))) {
      throw new DoctorError(`${token.rawName} needs a value`);
    }
    if (type === 'boolean' && token.value !== undefined) throw new DoctorError(`${token.rawName} takes no value; give ${token.rawName} alone`);
  }
  // Every string flag now has a string value and --json is a boolean; the last of a repeated flag wins.
  const text = (flag: 'prometheus' | 'jaeger' | 'since' | 'html' | 'generation' | 'timeout') => values[flag] as string | undefined;
  const options: DoctorOptions = {
    prometheus: text('prometheus') ?? '',
    jaeger: text('jaeger'),
    since: text('since') ?? '1h',
    json: values.json === true,
    timeoutMs: 10_000,
  };
  const generation = text('generation');
  if (generation !== undefined) {
    if (!(GENERATIONS as readonly string[]).includes(generation)) {
      throw new DoctorError(`--generation ${generation} is not one of ${GENERATIONS.join(', ')}`);
    }
    options.generation = generation as Generation;
  }
  const timeout = text('timeout');
  if (timeout !== undefined) {
    const seconds = Number(timeout);
    if (!Number.isFinite(seconds) || seconds <= 0) throw new DoctorError('--timeout takes a number of seconds, e.g. --timeout 10');
    options.timeoutMs = seconds * 1000;
  }
  const html = text('html');
  if (html !== undefined) {
    const directory = path.dirname(path.resolve(html));
    try {
      fs.accessSync(directory, fs.constants.W_OK);
    } catch {
      throw new DoctorError(`--html ${html}: the directory ${directory} does not exist or is not writable`);
    }
    options.html = html;
  }
  if (!options.prometheus) throw new DoctorError('--prometheus URL is required, e.g. --prometheus http://localhost:9090');
  for (const [flag, url] of [['--prometheus', options.prometheus], ['--jaeger', options.jaeger]] as const) {
    if (url === undefined) continue;
    try {
      const parsed = new URL(url);
      if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new Error('not http');
    } catch {
      throw new DoctorError(`${flag} ${url} is not an http(s) URL, e.g. http://localhost:9090`);
    }
  }
  if (!SINCE.test(options.since)) throw new DoctorError(`--since ${options.since} is not a Prometheus duration, e.g. 15m, 1h, 2d`);
  return options;
}

async function getJson(url: string, what: string, timeoutMs: number): Promise<unknown> {
  let response: Response;
  try {
    response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  } catch (error) {
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    throw new DoctorError(`cannot reach ${what} at ${new URL(url).origin}: ${cause?.code ?? cause?.message ?? (error as Error).message}`);
  }
  const text = await response.text();
  if (!response.ok) throw new DoctorError(`${what} answered HTTP ${response.status} for ${new URL(url).pathname}: ${text.slice(0, 120).replace(/\s+/g, ' ')}`);
  try {
    return JSON.parse(text);
  } catch {
    throw new DoctorError(`${what} at ${new URL(url).origin} did not answer JSON (is this really ${what}?): ${text.slice(0, 80).replace(/\s+/g, ' ')}`);
  }
}

interface PromVectorSample {
  metric: Record<string, string>;
  value: [number, string];
}

/** Exact per-series growth over the window: now minus `since` ago (0 for series born inside it). */
export function funnelQuery(since: string): string {
  const by = `${PROM.LABEL_STAGE}, ${PROM.LABEL_ORIGIN}, ${PROM.LABEL_OUTCOME}, ${PROM.LABEL_DROP_REASON}`;
  const now = `sum by (${by}) (${PROM.STAGE_EVENTS})`;
  const before = `sum by (${by}) (${PROM.STAGE_EVENTS} offset ${since})`;
  return `${now} - (${before} or ${now} * 0)`;
}

export async function queryFunnel(prometheus: string, since: string, timeoutMs: number): Promise<FunnelRow[]> {
  const url = `${prometheus.replace(/\/$/, '')}/api/v1/query?query=${encodeURIComponent(funnelQuery(since))}`;
  const body = (await getJson(url, 'Prometheus', timeoutMs)) as { status?: string; data?: { resultType?: string; result?: PromVectorSample[] } };
  if (body?.status !== 'success' || body.data?.resultType !== 'vector' || !Array.isArray(body.data.result)) {
    throw new DoctorError(`Prometheus at ${new URL(prometheus).origin} answered an unexpected shape (expected a vector result)`);
  }
  const rows: FunnelRow[] = [];
  for (const sample of body.data.result) {
    if (!sample || typeof sample !== 'object' || !sample.metric || typeof sample.metric !== 'object' || !Array.isArray(sample.value)) {
      throw new DoctorError(`Prometheus at ${new URL(prometheus).origin} answered an unexpected shape (a vector sample without metric or value)`);
    }
    const stage = sample.metric[PROM.LABEL_STAGE] as Stage;
    const origin = (sample.metric[PROM.LABEL_ORIGIN] ?? 'unknown') as Origin;
    const outcome = sample.metric[PROM.LABEL_OUTCOME] as Outcome;
    const reason = sample.metric[PROM.LABEL_DROP_REASON] as DropReason | undefined;
    const count = Math.round(Number(sample.value?.[1]));
    if (!STAGES.includes(stage) || !OUTCOMES.includes(outcome) || !Number.isFinite(count)) continue;
    rows.push({
      stage,
      origin: ORIGINS.includes(origin) ? origin : 'unknown',
      outcome,
      reason: reason && (DROP_REASON_NAMES as string[]).includes(reason) ? reason : outcome === 'dropped' ? 'unattributed' : undefined,
      count,
    });
  }
  return rows;
}

export interface TraceExample {
  traceId: string;
  service: string;
  reason?: string;
  url: string;
}

/** A few traces of dropped workflow events (and, if none, of any drop) from Jaeger's HTTP API. */
export async function findDropTraces(jaeger: string, sinceMs: number, timeoutMs: number, limit = 5): Promise<TraceExample[]> {
  const base = jaeger.replace(/\/$/, '');
  const services = (await getJson(`${base}/api/services`, 'Jaeger', timeoutMs)) as { data?: unknown };
  // An empty Jaeger (fresh memory store, or every span sampled out) answers {"data": null}.
  const serviceList = services?.data === null ? [] : services?.data;
  if (!Array.isArray(serviceList) || serviceList.some((name) => typeof name !== 'string')) {
    throw new DoctorError(`Jaeger at ${new URL(jaeger).origin} answered an unexpected shape for /api/services`);
  }
  const shapeError = () => new DoctorError(`Jaeger at ${new URL(jaeger).origin} answered an unexpected shape for /api/traces`);
  const end = Date.now() * 1000;
  const start = end - sinceMs * 1000;
  const examples: TraceExample[] = [];
  for (const origin of ['workflow', undefined]) {
    for (const service of serviceList as string[]) {
      if (examples.length >= limit) break;
      const tags: Record<string, string> = { [ATTR.OUTCOME]: 'dropped' };
      if (origin) tags[ATTR.ORIGIN] = origin;
      const url = `${base}/api/traces?service=${encodeURIComponent(service)}&tags=${encodeURIComponent(JSON.stringify(tags))}&start=${start}&end=${end}&limit=${limit}`;
      const traces = (await getJson(url, 'Jaeger', timeoutMs)) as { data?: unknown } | null;
      if (!traces || typeof traces !== 'object' || (traces.data != null && !Array.isArray(traces.data))) throw shapeError();
      for (const trace of (traces.data ?? []) as { traceID?: unknown; spans?: unknown }[]) {
        if (!trace || typeof trace !== 'object' || typeof trace.traceID !== 'string') throw shapeError();
        if (trace.spans !== undefined && !Array.isArray(trace.spans)) throw shapeError();
        const spans = (trace.spans ?? []) as { tags?: unknown }[];
        if (spans.some((span) => !span || typeof span !== 'object' || (span.tags !== undefined && !Array.isArray(span.tags)))) throw shapeError();
        const traceId = trace.traceID;
        if (examples.some((e) => e.traceId === traceId)) continue;
        const reason = spans
          .flatMap((span) => (span.tags ?? []) as { key?: unknown; value?: unknown }[])
          .find((tag) => tag?.key === ATTR.DROP_REASON)?.value as string | undefined;
        examples.push({ traceId, service, reason, url: `${base}/trace/${traceId}` });
        if (examples.length >= limit) break;
      }
    }
    if (examples.length > 0) break;
  }
  return examples;
}

function durationMs(since: string): number {
  const unit = since.slice(-1);
  const value = Number(since.slice(0, -1));
  const factor = { s: 1e3, m: 60e3, h: 3600e3, d: 86400e3, w: 604800e3 }[unit] ?? 3600e3;
  return value * factor;
}

export interface DoctorResult {
  exitCode: 0 | 1 | 2;
  report?: FunnelReport;
  traces?: TraceExample[];
  output: string;
}

/** One trace from Jaeger's HTTP API, for the HTML report's waterfall. */
async function fetchTrace(jaeger: string, traceId: string, timeoutMs: number): Promise<TraceView> {
  const url = `${jaeger.replace(/\/$/, '')}/api/traces/${encodeURIComponent(traceId)}`;
  const trace = traceFromJaeger(await getJson(url, 'Jaeger', timeoutMs), url);
  if (!trace) throw new DoctorError(`Jaeger at ${new URL(jaeger).origin} answered an unexpected shape for /api/traces/${traceId}`);
  return trace;
}

function renderDoctorHtml(options: DoctorOptions, report: FunnelReport, trace: TraceView | undefined, traces: TraceExample[] | undefined): string {
  const noTrace = report.healthy
    ? 'Nothing was lost, so there is no trace to show.'
    : !options.jaeger
      ? 'Run the doctor with --jaeger URL to include the waterfall of a lost workflow trace.'
      : traces?.length === 0
        ? `Jaeger has no trace of a dropped event in the last ${options.since} (spans sampled out, or older than Jaeger keeps).`
        : undefined;
  return renderHtmlReport({
    title: 'Twenty SSE pipeline: doctor report',
    source: `twenty_sse_stage_events_total from Prometheus at ${new URL(options.prometheus).origin}, growth over the last ${options.since}${
      options.jaeger ? `; traces from Jaeger at ${new URL(options.jaeger).origin}` : ''
    }`,
    generatedAt: new Date(),
    report,
    trace,
    noTrace,
  });
}

export async function runDoctor(argv: string[], progress: (line: string) => void): Promise<DoctorResult> {
  let options: DoctorOptions;
  try {
    options = parseDoctorArgs(argv);
  } catch (error) {
    return { exitCode: 2, output: `doctor: ${(error as Error).message}` };
  }
  try {
    progress(`querying Prometheus ${options.prometheus} (last ${options.since}) ...`);
    const rows = await queryFunnel(options.prometheus, options.since, options.timeoutMs);
    progress(`  ${rows.length} series`);
    if (rows.length === 0) {
      return {
        exitCode: 2,
        output: `doctor: no ${PROM.STAGE_EVENTS} data in Prometheus at ${new URL(options.prometheus).origin} for the last ${options.since}: is TWENTY_SSE_OTEL_ENABLED=true on both Twenty processes, and the collector scraped?`,
      };
    }
    const report = buildFunnelReport(rows, options.generation);
    let traces: TraceExample[] | undefined;
    if (options.jaeger && !report.healthy) {
      progress(`querying Jaeger ${options.jaeger} for traces of dropped events ...`);
      traces = await findDropTraces(options.jaeger, durationMs(options.since), options.timeoutMs);
      progress(`  ${traces.length} traces`);
    }
    const exitCode = report.healthy ? 0 : 1;
    if (options.html) {
      let trace: TraceView | undefined;
      if (options.jaeger && traces && traces.length > 0) {
        progress(`querying Jaeger ${options.jaeger} for trace ${traces[0].traceId} ...`);
        trace = await fetchTrace(options.jaeger, traces[0].traceId, options.timeoutMs);
      }
      fs.writeFileSync(options.html, renderDoctorHtml(options, report, trace, traces));
      progress(`wrote the HTML report to ${options.html}`);
    }
    if (options.json) return { exitCode, report, traces, output: JSON.stringify({ ...report, traces: traces ?? [] }, null, 2) };
    let output = renderFunnelReport(report);
    if (traces && traces.length > 0) {
      output += '\n\nExample traces of dropped events:\n' + traces.map((t) => `- ${t.url} (${t.service}${t.reason ? `, ${t.reason}` : ''})`).join('\n');
    }
    return { exitCode, report, traces, output };
  } catch (error) {
    const message = error instanceof DoctorError ? error.message : `unexpected failure: ${(error as Error).message}`;
    return { exitCode: 2, output: `doctor: ${message}` };
  }
}
