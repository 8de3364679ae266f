import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { renderHtmlReport, traceFromJaeger, type TraceView } from './html-report';
import { queryLastMile, renderLastMile } from './last-mile';
import {
  assessLoss,
  buildFunnelReport,
  FunnelReport,
  FunnelRow,
  LossAssessment,
  lossVerdict,
  renderLossReport,
} from './report';
import {
  ATTR,
  DROP_REASON_NAMES,
  DropReason,
  GENERATIONS,
  Generation,
  ORIGINS,
  Origin,
  OUTCOMES,
  Outcome,
  PROM,
  STAGES,
  Stage,
} from '../semconv';
import { detectGenerationFromTargets } from '../twenty/detect';

/**
 * `twenty-sse-otel doctor`: the funnel per stage and origin, computed from a
 * live Prometheus across every process and instance, judged as the alert
 * rules judge it (routine filtering versus loss), with the loss located in
 * the running generation's code and example traces from Jaeger (optional).
 * Exit codes: 0 no loss, 1 loss or failures found, 2 no traffic, or an
 * endpoint that cannot be reached or parsed, or bad flags.
 */
export interface DoctorOptions {
  prometheus: string;
  jaeger?: string;
  since: string;
  json: boolean;
  generation?: Generation;
  timeoutMs: number;
  /** One line per process instance (job = service.name, instance = service.instance.id). */
  byInstance: boolean;
  help: boolean;
  /** Also write a self-contained HTML report to this file. */
  html?: string;
}

export const DOCTOR_USAGE = `usage: twenty-sse-otel doctor --prometheus URL [--jaeger URL] [--since 1h] [--by-instance] [--json] [--html FILE] [--generation ${GENERATIONS.join('|')}] [--timeout 10]

Reads twenty_sse_* metrics from Prometheus (every API server and queue worker
together) and prints, per pipeline stage, workflow vs UI units entered,
forwarded, dropped by reason and failed; which drops are routine filtering and
which are loss; the first stage where workflow events are lost more than UI
events; and where each loss happens in the running Twenty generation's code
(detected from the instrumentation targets, or --generation). With --jaeger,
links to traces of lost workflow events (Jaeger is optional: unreachable, the
report is printed without them). --by-instance adds one line per process.
--html FILE also writes a self-contained page: the funnel chart, the drops by
reason and the waterfall of one lost workflow trace (with --jaeger).

Exit codes: 0 no loss (routine filtering only), 1 loss or failures found,
2 no traffic in the window, an endpoint that cannot be reached or parsed, or bad flags.`;

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
  'by-instance': { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

const isFlag = (name: string): name is keyof typeof FLAGS => Object.hasOwn(FLAGS, name);

/**
 * The doctor's flags, `--name value` or `--name=value`. parseArgs runs
 * lenient and hands back its tokens, so each problem gets this CLI's own
 * one-line message with the fix rather than parseArgs's wording.
 */
export function parseDoctorArgs(argv: string[]): DoctorOptions {
  const { values, tokens } = parseArgs({
    args: argv,
    options: FLAGS,
    strict: false,
    allowPositionals: true,
    tokens: true,
  });
  for (const token of tokens) {
    if (token.kind !== 'option' || !isFlag(token.name)) {
      throw new DoctorError(
        `unknown option ${argv[token.index]}; usage: twenty-sse-otel doctor --prometheus URL [--jaeger URL] [--since 1h] [--by-instance] [--json] [--html FILE] (see --help)`,
      );
    }
    const { type } = FLAGS[token.name];
    if (type === 'string' && (token.value === undefined || (!token.inlineValue && token.value.startsWith('--')))) {
      throw new DoctorError(`${token.rawName} needs a value`);
    }
    if (type === 'boolean' && token.value !== undefined)
      throw new DoctorError(`${token.rawName} takes no value; give ${token.rawName} alone`);
  }
  // Every string flag now has a string value and --json is a boolean; the last of a repeated flag wins.
  const text = (flag: 'prometheus' | 'jaeger' | 'since' | 'html' | 'generation' | 'timeout') =>
    values[flag] as string | undefined;
  const options: DoctorOptions = {
    prometheus: text('prometheus') ?? '',
    jaeger: text('jaeger'),
    since: text('since') ?? '1h',
    json: values.json === true,
    timeoutMs: 10_000,
    byInstance: values['by-instance'] === true,
    help: values.help === true,
  };
  if (options.help) return options;
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
    if (!Number.isFinite(seconds) || seconds <= 0)
      throw new DoctorError('--timeout takes a number of seconds, e.g. --timeout 10');
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
  if (!options.prometheus)
    throw new DoctorError('--prometheus URL is required, e.g. --prometheus http://localhost:9090');
  for (const [flag, url] of [
    ['--prometheus', options.prometheus],
    ['--jaeger', options.jaeger],
  ] as const) {
    if (url === undefined) continue;
    try {
      const parsed = new URL(url);
      if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new Error('not http');
    } catch {
      throw new DoctorError(`${flag} ${url} is not an http(s) URL, e.g. http://localhost:9090`);
    }
  }
  if (!SINCE.test(options.since))
    throw new DoctorError(`--since ${options.since} is not a Prometheus duration, e.g. 15m, 1h, 2d`);
  return options;
}

async function getJson(url: string, what: string, timeoutMs: number): Promise<unknown> {
  let response: Response;
  try {
    response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  } catch (error) {
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    throw new DoctorError(
      `cannot reach ${what} at ${new URL(url).origin}: ${cause?.code ?? cause?.message ?? (error as Error).message}`,
    );
  }
  const text = await response.text();
  if (!response.ok)
    throw new DoctorError(
      `${what} answered HTTP ${response.status} for ${new URL(url).pathname}: ${text.slice(0, 120).replace(/\s+/g, ' ')}`,
    );
  try {
    return JSON.parse(text);
  } catch {
    throw new DoctorError(
      `${what} at ${new URL(url).origin} did not answer JSON (is this really ${what}?): ${text.slice(0, 80).replace(/\s+/g, ' ')}`,
    );
  }
}

interface PromVectorSample {
  metric: Record<string, string>;
  value: [number, string];
}

/**
 * Growth of every series over the window, exact, then summed per process:
 * a series present at the window start grows by its last value minus its
 * start value; one born inside the window (a new process, a first drop)
 * grows from zero; one with a counter reset inside the window (a process that
 * kept its service.instance.id across a restart) falls back to increase().
 * Summing per series first keeps a process that stopped inside the window
 * (its series no longer current) from cancelling the growth of the others.
 */
export function funnelQuery(since: string): string {
  const by = `job, instance, ${PROM.LABEL_STAGE}, ${PROM.LABEL_ORIGIN}, ${PROM.LABEL_OUTCOME}, ${PROM.LABEL_DROP_REASON}`;
  const events = PROM.STAGE_EVENTS;
  const last = `max_over_time(${events}[${since}])`;
  const atStart = `${events} offset ${since}`;
  const reset = `resets(${events}[${since}]) > 0`;
  const growth = `((${last} - ${atStart}) unless ${reset}) or (${last} unless ${atStart}) or (increase(${events}[${since}]) and ${reset})`;
  return `sum by (${by}) (${growth})`;
}

/** The instrumentation targets each process found, for the generation it runs. */
export const TARGETS_QUERY = `max by (job, instance, ${PROM.LABEL_TARGET_CLASS}, ${PROM.LABEL_TARGET_METHOD}) (${PROM.INSTRUMENTATION_TARGETS}{${PROM.LABEL_TARGET_STATUS}="found"})`;

export interface InstanceRow extends FunnelRow {
  job: string;
  instance: string;
}

async function queryVector(prometheus: string, query: string, timeoutMs: number): Promise<PromVectorSample[]> {
  const url = `${prometheus.replace(/\/$/, '')}/api/v1/query?query=${encodeURIComponent(query)}`;
  const body = (await getJson(url, 'Prometheus', timeoutMs)) as {
    status?: string;
    data?: { resultType?: string; result?: PromVectorSample[] };
  };
  if (body?.status !== 'success' || body.data?.resultType !== 'vector' || !Array.isArray(body.data.result)) {
    throw new DoctorError(
      `Prometheus at ${new URL(prometheus).origin} answered an unexpected shape (expected a vector result)`,
    );
  }
  for (const sample of body.data.result) {
    if (
      !sample ||
      typeof sample !== 'object' ||
      !sample.metric ||
      typeof sample.metric !== 'object' ||
      !Array.isArray(sample.value)
    ) {
      throw new DoctorError(
        `Prometheus at ${new URL(prometheus).origin} answered an unexpected shape (a vector sample without metric or value)`,
      );
    }
  }
  return body.data.result;
}

/** The running generation per process, from the targets it found (processes that report none are left out). */
export async function queryGenerations(prometheus: string, timeoutMs: number): Promise<Map<string, Generation>> {
  const found = new Map<string, { className: string; method: string }[]>();
  for (const sample of await queryVector(prometheus, TARGETS_QUERY, timeoutMs)) {
    const key = processKey(sample.metric.job ?? '', sample.metric.instance ?? '');
    const className = sample.metric[PROM.LABEL_TARGET_CLASS];
    const method = sample.metric[PROM.LABEL_TARGET_METHOD];
    if (!className || !method) continue;
    let list = found.get(key);
    if (!list) found.set(key, (list = []));
    list.push({ className, method });
  }
  const generations = new Map<string, Generation>();
  for (const [key, targets] of found) {
    const generation = detectGenerationFromTargets(targets);
    if (generation) generations.set(key, generation);
  }
  return generations;
}

const processKey = (job: string, instance: string) => `${job} ${instance}`.trim();

export async function queryFunnel(prometheus: string, since: string, timeoutMs: number): Promise<InstanceRow[]> {
  const rows: InstanceRow[] = [];
  for (const sample of await queryVector(prometheus, funnelQuery(since), timeoutMs)) {
    const stage = sample.metric[PROM.LABEL_STAGE] as Stage;
    const origin = (sample.metric[PROM.LABEL_ORIGIN] ?? 'unknown') as Origin;
    const outcome = sample.metric[PROM.LABEL_OUTCOME] as Outcome;
    const reason = sample.metric[PROM.LABEL_DROP_REASON] as DropReason | undefined;
    const count = Math.round(Number(sample.value?.[1]));
    if (!STAGES.includes(stage) || !OUTCOMES.includes(outcome) || !Number.isFinite(count)) continue;
    rows.push({
      job: sample.metric.job ?? '',
      instance: sample.metric.instance ?? '',
      stage,
      origin: ORIGINS.includes(origin) ? origin : 'unknown',
      outcome,
      reason:
        reason && (DROP_REASON_NAMES as string[]).includes(reason)
          ? reason
          : outcome === 'dropped'
            ? 'unattributed'
            : undefined,
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

/** What a Jaeger built from its Go modules serves where the UI would be: its UI assets ship only in the Docker image. */
const JAEGER_PLACEHOLDER_PAGE = 'This is not the Jaeger UI';

/** True when Jaeger's root page is that placeholder, so `/trace/<id>` links open no trace; false when unsure. */
async function jaegerServesNoUi(jaeger: string, timeoutMs: number): Promise<boolean> {
  try {
    const response = await fetch(`${jaeger.replace(/\/$/, '')}/`, { signal: AbortSignal.timeout(timeoutMs) });
    return (await response.text()).includes(JAEGER_PLACEHOLDER_PAGE);
  } catch {
    return false;
  }
}

/** A few traces of dropped workflow events (and, if none, of any drop) from Jaeger's HTTP API. */
export async function findDropTraces(
  jaeger: string,
  sinceMs: number,
  timeoutMs: number,
  limit = 5,
): Promise<TraceExample[]> {
  const base = jaeger.replace(/\/$/, '');
  const services = (await getJson(`${base}/api/services`, 'Jaeger', timeoutMs)) as { data?: unknown };
  // An empty Jaeger (fresh memory store, or every span sampled out) answers {"data": null}.
  const serviceList = services?.data === null ? [] : services?.data;
  if (!Array.isArray(serviceList) || serviceList.some((name) => typeof name !== 'string')) {
    throw new DoctorError(`Jaeger at ${new URL(jaeger).origin} answered an unexpected shape for /api/services`);
  }
  const shapeError = () =>
    new DoctorError(`Jaeger at ${new URL(jaeger).origin} answered an unexpected shape for /api/traces`);
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
      if (!traces || typeof traces !== 'object' || (traces.data != null && !Array.isArray(traces.data)))
        throw shapeError();
      for (const trace of (traces.data ?? []) as { traceID?: unknown; spans?: unknown }[]) {
        if (!trace || typeof trace !== 'object' || typeof trace.traceID !== 'string') throw shapeError();
        if (trace.spans !== undefined && !Array.isArray(trace.spans)) throw shapeError();
        const spans = (trace.spans ?? []) as { tags?: unknown }[];
        if (
          spans.some(
            (span) => !span || typeof span !== 'object' || (span.tags !== undefined && !Array.isArray(span.tags)),
          )
        )
          throw shapeError();
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

/** One process instance: what it lost or failed, judged on its own units. */
export interface InstanceSummary {
  job: string;
  instance: string;
  generation?: Generation;
  units: number;
  lossFound: boolean;
  lost: { stage: Stage; reason: DropReason; count: number }[];
  failed: { stage: Stage; count: number }[];
}

function summarizeInstances(
  rows: InstanceRow[],
  generations: Map<string, Generation>,
  generation: Generation | undefined,
): InstanceSummary[] {
  const byProcess = new Map<string, InstanceRow[]>();
  for (const row of rows) {
    const key = processKey(row.job, row.instance);
    let list = byProcess.get(key);
    if (!list) byProcess.set(key, (list = []));
    list.push(row);
  }
  return [...byProcess.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([key, own]) => {
      const report = buildFunnelReport(own, generations.get(key) ?? generation);
      const assessment = assessLoss(report);
      return {
        job: own[0].job,
        instance: own[0].instance,
        generation: generations.get(key),
        units: own.reduce((sum, row) => sum + row.count, 0),
        lossFound: assessment.lossFound,
        lost: [...assessment.lost, ...assessment.aboveRoutine].map(({ stage, reason, count }) => ({
          stage,
          reason,
          count,
        })),
        failed: report.failures.map(({ stage, count }) => ({ stage, count })),
      };
    });
}

function describeInstance(summary: InstanceSummary): string {
  const name = `${summary.job || '(no job)'} ${summary.instance || '(no instance)'}`;
  const problems = [
    ...summary.failed.map((f) => `${f.count} failed at ${f.stage}`),
    ...summary.lost.map((l) => `${l.count} ${l.reason} at ${l.stage}`),
  ];
  const generation = summary.generation ? `, generation ${summary.generation}` : '';
  return `- ${name}: ${summary.units} units${generation}; ${problems.length > 0 ? `LOSS: ${problems.join(', ')}` : 'no loss'}`;
}

/** Where the generation the diagnosis speaks for comes from. */
export interface GenerationSource {
  generation?: Generation;
  from: 'flag' | 'targets' | 'unknown';
  /** Processes that reported another generation than the one used. */
  disagreeing: string[];
}

function chooseGeneration(flag: Generation | undefined, generations: Map<string, Generation>): GenerationSource {
  if (flag)
    return {
      generation: flag,
      from: 'flag',
      disagreeing: [...generations].filter(([, g]) => g !== flag).map(([key]) => key),
    };
  const counts = new Map<Generation, number>();
  for (const generation of generations.values()) counts.set(generation, (counts.get(generation) ?? 0) + 1);
  const [generation] = [...counts.entries()].sort((a, b) => b[1] - a[1])[0] ?? [];
  if (!generation) return { from: 'unknown', disagreeing: [] };
  return {
    generation,
    from: 'targets',
    disagreeing: [...generations].filter(([, g]) => g !== generation).map(([key]) => key),
  };
}

function describeGeneration(source: GenerationSource): string {
  const disagreeing = source.disagreeing.length > 0 ? `; other generations on ${source.disagreeing.join(', ')}` : '';
  if (source.from === 'flag') return `Twenty generation: ${source.generation} (--generation)${disagreeing}`;
  if (source.from === 'targets')
    return `Twenty generation: ${source.generation} (detected from the instrumentation targets the processes found)${disagreeing}`;
  return 'Twenty generation: unknown (no process reported instrumentation targets; the texts below are those of v5, pass --generation to choose)';
}

export interface DoctorResult {
  exitCode: 0 | 1 | 2;
  report?: FunnelReport;
  assessment?: LossAssessment;
  instances?: InstanceSummary[];
  traces?: TraceExample[];
  output: string;
  /** A problem that did not stop the report (Jaeger unreachable), for stderr. */
  warning?: string;
}

/** One trace from Jaeger's HTTP API, for the HTML report's waterfall. */
async function fetchTrace(jaeger: string, traceId: string, timeoutMs: number): Promise<TraceView> {
  const url = `${jaeger.replace(/\/$/, '')}/api/traces/${encodeURIComponent(traceId)}`;
  const trace = traceFromJaeger(await getJson(url, 'Jaeger', timeoutMs), url);
  if (!trace)
    throw new DoctorError(
      `Jaeger at ${new URL(jaeger).origin} answered an unexpected shape for /api/traces/${traceId}`,
    );
  return trace;
}

function renderDoctorHtml(
  options: DoctorOptions,
  report: FunnelReport,
  assessment: LossAssessment,
  trace: TraceView | undefined,
  traces: TraceExample[] | undefined,
): string {
  const noTrace = !assessment.lossFound
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
    verdict: { text: lossVerdict(assessment), lost: assessment.lossFound },
  });
}

export async function runDoctor(argv: string[], progress: (line: string) => void): Promise<DoctorResult> {
  let options: DoctorOptions;
  try {
    options = parseDoctorArgs(argv);
  } catch (error) {
    return { exitCode: 2, output: `doctor: ${(error as Error).message}` };
  }
  if (options.help) return { exitCode: 0, output: DOCTOR_USAGE };
  const origin = new URL(options.prometheus).origin;
  try {
    progress(`querying Prometheus ${options.prometheus} (last ${options.since}) ...`);
    const rows = await queryFunnel(options.prometheus, options.since, options.timeoutMs);
    progress(`  ${rows.length} series`);
    if (rows.length === 0) {
      return {
        exitCode: 2,
        output: `doctor: no ${PROM.STAGE_EVENTS} data in Prometheus at ${origin} for the last ${options.since}: is TWENTY_SSE_OTEL_ENABLED=true on both Twenty processes, and the collector scraped?`,
      };
    }
    if (rows.every((row) => row.count === 0)) {
      return {
        exitCode: 2,
        output: `doctor: no traffic: ${PROM.STAGE_EVENTS} did not grow in the last ${options.since} (Prometheus at ${origin}); nothing to judge, so no verdict. Widen --since, or make a change in Twenty and run again`,
      };
    }
    const generations = await queryGenerations(options.prometheus, options.timeoutMs);
    const source = chooseGeneration(options.generation, generations);
    const report = buildFunnelReport(rows, source.generation);
    const assessment = assessLoss(report);
    const instances = summarizeInstances(rows, generations, source.generation);
    progress('querying Prometheus for the SSE connections ...');
    const lastMile = await queryLastMile(
      (expr) => queryVector(options.prometheus, expr, options.timeoutMs),
      options.since,
    );
    let traces: TraceExample[] | undefined;
    let warning: string | undefined;
    if (options.jaeger && (assessment.lossFound || assessment.workflowRoutineAboveUi)) {
      progress(`querying Jaeger ${options.jaeger} for traces of dropped events ...`);
      try {
        traces = await findDropTraces(options.jaeger, durationMs(options.since), options.timeoutMs);
        progress(`  ${traces.length} traces`);
      } catch (error) {
        if (!(error instanceof DoctorError)) throw error;
        warning = `doctor: ${error.message}; the report has no example traces (Jaeger is optional)`;
      }
    }
    const exitCode = assessment.lossFound ? 1 : 0;
    if (options.html) {
      let trace: TraceView | undefined;
      if (options.jaeger && traces && traces.length > 0) {
        progress(`querying Jaeger ${options.jaeger} for trace ${traces[0].traceId} ...`);
        try {
          trace = await fetchTrace(options.jaeger, traces[0].traceId, options.timeoutMs);
        } catch (error) {
          if (!(error instanceof DoctorError)) throw error;
          warning = `doctor: ${error.message}; the HTML report has no trace waterfall (Jaeger is optional)`;
        }
      }
      fs.writeFileSync(options.html, renderDoctorHtml(options, report, assessment, trace, traces));
      progress(`wrote the HTML report to ${options.html}`);
    }
    const result = { exitCode, report, assessment, instances, traces, warning } as const;
    if (options.json) {
      const json = {
        ...report,
        assessment,
        generationSource: source,
        instances,
        traces: traces ?? [],
        lastMile,
        ...(warning ? { jaegerError: warning } : {}),
      };
      return { ...result, output: JSON.stringify(json, null, 2) };
    }
    const lines = [
      describeGeneration(source),
      '',
      renderLossReport(report, assessment),
      '',
      ...renderLastMile(lastMile, report, options.since),
    ];
    const troubled = instances.filter((summary) => summary.lossFound);
    if (options.byInstance) {
      lines.push(
        '',
        'Per instance (job = service.name, instance = service.instance.id):',
        ...instances.map(describeInstance),
      );
    } else if (troubled.length > 0 && troubled.length < instances.length) {
      lines.push('', 'Instances with loss (--by-instance lists all):', ...troubled.map(describeInstance));
    }
    if (traces && traces.length > 0) {
      if (options.jaeger && (await jaegerServesNoUi(options.jaeger, options.timeoutMs))) {
        const base = options.jaeger.replace(/\/$/, '');
        lines.push(
          '',
          `Jaeger at ${base} serves no UI (a build without its UI assets), so the links below open a placeholder page: read a trace as JSON at ${base}/api/traces/<trace id>, or see one as a waterfall with --html FILE.`,
        );
      }
      lines.push(
        '',
        'Example traces of dropped events:',
        ...traces.map((t) => `- ${t.url} (${t.service}${t.reason ? `, ${t.reason}` : ''})`),
      );
    }
    return { ...result, output: lines.join('\n') };
  } catch (error) {
    const message = error instanceof DoctorError ? error.message : `unexpected failure: ${(error as Error).message}`;
    return { exitCode: 2, output: `doctor: ${message}` };
  }
}
