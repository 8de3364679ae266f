import { type FunnelReport, type StageOriginCell } from './report';
import { ATTR, SPAN_EVENT_DROP, type Origin, type Stage } from '../semconv';

/**
 * A self-contained HTML page for a person, written by `doctor --html` and the
 * demo's `--html`: the per-stage funnel (workflow vs UI) as an SVG chart, the
 * drops by reason with Twenty's condition, and the waterfall of one lost
 * workflow trace with its drop event. Everything is inline (CSS, SVG, a few
 * lines of JS), nothing is fetched, so the file opens from disk anywhere and
 * reads the same with scripts off.
 */

type AttributeValue = string | number | boolean;

export interface TraceSpan {
  spanId: string;
  parentSpanId?: string;
  name: string;
  service: string;
  /** Epoch microseconds. */
  startUs: number;
  durationUs: number;
  attributes: Record<string, AttributeValue>;
  events: { name: string; timeUs: number; attributes: Record<string, AttributeValue> }[];
  error: boolean;
}

export interface TraceView {
  traceId: string;
  spans: TraceSpan[];
  /** Where the trace came from, e.g. Jaeger's API URL for it. */
  source?: string;
}

export interface HtmlReportInput {
  title: string;
  /** Where the numbers come from, e.g. "Prometheus at http://..., last 1h". */
  source: string;
  generatedAt: Date;
  report: FunnelReport;
  /** Lines shown under the title (the demo's scenario). */
  context?: { label: string; text: string }[];
  trace?: TraceView;
  /** Shown in place of the waterfall when there is no trace. */
  noTrace?: string;
  /** The headline, when the caller judged the report itself (the doctor: routine filtering is not loss). */
  verdict?: { text: string; lost: boolean };
}

const CHART_ORIGINS: { origin: Origin; label: string }[] = [
  { origin: 'workflow', label: 'workflow' },
  { origin: 'ui', label: 'UI' },
];
const COLORS = { forwarded: '#2f9e44', dropped: '#e03131', failed: '#f08c00' } as const;

const escapeHtml = (text: unknown): string =>
  String(text).replace(
    /[&<>"']/g,
    (char) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[char]!,
  );

const percent = (ratio: number) => `${(ratio * 100).toFixed(ratio > 0 && ratio < 0.1 ? 1 : 0)}%`;

const unitOf = (stage: Stage) =>
  stage === 'stream'
    ? '(event x stream) pairs'
    : stage === 'deliver'
      ? 'events handed to SSE connections'
      : stage === 'workflow_step'
        ? 'record mutations'
        : 'events';

function describeCell(stage: Stage, origin: string, cell: StageOriginCell): string {
  const reasons = Object.entries(cell.dropsByReason)
    .map(([reason, count]) => `${reason} ${count}`)
    .join(', ');
  return (
    `${stage}, ${origin}: ${cell.entered} ${unitOf(stage)} in, ${cell.forwarded} forwarded` +
    (cell.dropped > 0 ? `, ${cell.dropped} dropped (${reasons})` : '') +
    (cell.failed > 0 ? `, ${cell.failed} failed` : '')
  );
}

/** The funnel as horizontal bars: per stage one bar per origin, split into forwarded, dropped and failed. */
function funnelChart(report: FunnelReport): string {
  const labelWidth = 120;
  const originWidth = 70;
  const barArea = 520;
  const numbersWidth = 250;
  const barHeight = 16;
  const rowGap = 4;
  const groupGap = 14;
  const top = 34;
  const groupHeight = CHART_ORIGINS.length * (barHeight + rowGap) - rowGap;
  const width = labelWidth + originWidth + barArea + numbersWidth;
  const height = top + report.stages.length * (groupHeight + groupGap) + 10;
  const max = Math.max(
    1,
    ...report.stages.flatMap(({ byOrigin }) => CHART_ORIGINS.map(({ origin }) => byOrigin[origin]?.entered ?? 0)),
  );
  const x0 = labelWidth + originWidth;
  const parts: string[] = [];

  let legendX = x0;
  for (const [outcome, color] of Object.entries(COLORS)) {
    parts.push(
      `<rect x="${legendX}" y="8" width="12" height="12" fill="${color}"/><text x="${legendX + 17}" y="18" class="legend">${outcome}</text>`,
    );
    legendX += 110;
  }
  parts.push(
    `<text x="${x0 + barArea}" y="18" class="legend" text-anchor="end">bar length: units that entered the stage</text>`,
  );

  report.stages.forEach(({ stage, byOrigin }, index) => {
    const y = top + index * (groupHeight + groupGap);
    const diverges = report.firstDivergence?.stage === stage;
    if (diverges) {
      parts.push(
        `<rect class="divergence" x="0" y="${y - groupGap / 2 + 1}" width="${width}" height="${groupHeight + groupGap - 2}" rx="4" fill="#fff0f0" stroke="#ffc9c9"/>`,
      );
    }
    parts.push(`<text x="6" y="${y + barHeight - 2}" class="stage">${escapeHtml(stage)}</text>`);
    if (diverges) parts.push(`<text x="6" y="${y + groupHeight + 2}" class="divergence-label">first divergence</text>`);
    CHART_ORIGINS.forEach(({ origin, label }, row) => {
      const rowY = y + row * (barHeight + rowGap);
      const cell = byOrigin[origin];
      parts.push(`<text x="${labelWidth}" y="${rowY + barHeight - 4}" class="origin">${label}</text>`);
      if (!cell) {
        parts.push(
          `<text x="${x0 + 4}" y="${rowY + barHeight - 4}" class="none">no ${label} events at this stage</text>`,
        );
        return;
      }
      let x = x0;
      for (const outcome of ['forwarded', 'dropped', 'failed'] as const) {
        const count = cell[outcome];
        if (count <= 0) continue;
        const segment = Math.max(2, (count / max) * barArea);
        parts.push(
          `<rect class="bar seg-${outcome}" data-stage="${stage}" data-origin="${origin}" data-outcome="${outcome}" data-count="${count}" x="${x.toFixed(1)}" y="${rowY}" width="${segment.toFixed(1)}" height="${barHeight}" fill="${COLORS[outcome]}"><title>${escapeHtml(describeCell(stage, label, cell))}</title></rect>`,
        );
        x += segment;
      }
      const lost = cell.dropped + cell.failed;
      const numbers = `${cell.entered} in, ${cell.forwarded} on${lost > 0 ? `, ${lost} lost (${percent(lost / cell.entered)})` : ''}`;
      parts.push(
        `<text x="${x0 + barArea + 8}" y="${rowY + barHeight - 4}" class="numbers${lost > 0 ? ' lost' : ''}">${escapeHtml(numbers)}</text>`,
      );
    });
  });

  return `<svg id="funnel-chart" role="img" aria-label="Per-stage funnel, workflow vs UI" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" xmlns="http://www.w3.org/2000/svg">${parts.join('')}</svg>`;
}

function dropsTable(report: FunnelReport): string {
  if (report.diagnosis.length === 0 && report.failures.length === 0) {
    return '<p class="ok" id="no-drops">No unit was dropped or failed at any stage.</p>';
  }
  const max = Math.max(1, ...report.diagnosis.map((d) => d.count), ...report.failures.map((f) => f.count));
  const bar = (count: number, color: string) =>
    `<span class="mini-bar" style="width:${Math.max(2, Math.round((count / max) * 120))}px;background:${color}"></span>`;
  const rows = [
    ...report.diagnosis.map(
      (d) =>
        `<tr class="drop-row" data-reason="${escapeHtml(d.reason)}" data-origin="${escapeHtml(d.origin)}"><td><code>${escapeHtml(d.reason)}</code></td><td>${escapeHtml(d.code)}</td><td>${escapeHtml(d.stage)}</td><td class="origin-${escapeHtml(d.origin)}">${escapeHtml(d.origin)}</td><td class="count">${bar(d.count, COLORS.dropped)}${d.count}</td><td><code>${escapeHtml(d.method)}</code><div class="file">${escapeHtml(d.file)}</div><div class="why">${escapeHtml(d.condition)}</div></td></tr>`,
    ),
    ...report.failures.map(
      (f) =>
        `<tr class="failure-row" data-origin="${escapeHtml(f.origin)}"><td>failed (exception)</td><td></td><td>${escapeHtml(f.stage)}</td><td class="origin-${escapeHtml(f.origin)}">${escapeHtml(f.origin)}</td><td class="count">${bar(f.count, COLORS.failed)}${f.count}</td><td><code>${escapeHtml(f.method)}</code><div class="file">${escapeHtml(f.file)}</div><div class="why">the span's error.type names the exception</div></td></tr>`,
    ),
  ];
  return `<table id="drops-by-reason"><thead><tr><th>reason</th><th>code</th><th>stage</th><th>origin</th><th>units</th><th>where in Twenty, and why</th></tr></thead><tbody>${rows.join('')}</tbody></table>`;
}

/** Parents before children, siblings by start time; spans whose parent is not in the trace are roots. */
function treeOrder(spans: TraceSpan[]): { span: TraceSpan; depth: number }[] {
  const ids = new Set(spans.map((span) => span.spanId));
  const children = new Map<string | undefined, TraceSpan[]>();
  for (const span of spans) {
    const parent = span.parentSpanId && ids.has(span.parentSpanId) ? span.parentSpanId : undefined;
    children.set(parent, [...(children.get(parent) ?? []), span]);
  }
  const ordered: { span: TraceSpan; depth: number }[] = [];
  const visit = (parent: string | undefined, depth: number) => {
    for (const span of (children.get(parent) ?? []).sort((a, b) => a.startUs - b.startUs)) {
      ordered.push({ span, depth });
      visit(span.spanId, depth + 1);
    }
  };
  visit(undefined, 0);
  return ordered;
}

const formatMs = (us: number) => (us >= 10_000 ? `${(us / 1000).toFixed(0)} ms` : `${(us / 1000).toFixed(2)} ms`);

function waterfall(trace: TraceView): string {
  const ordered = treeOrder(trace.spans);
  const start = Math.min(...trace.spans.map((span) => span.startUs));
  const end = Math.max(...trace.spans.map((span) => span.startUs + span.durationUs));
  const total = Math.max(1, end - start);
  const position = (us: number) => `${(((us - start) / total) * 100).toFixed(3)}%`;
  const ticks = [0, 0.25, 0.5, 0.75, 1]
    .map((share) => `<span class="tick" style="left:${share * 100}%">${formatMs(share * total)}</span>`)
    .join('');
  const rows = ordered.map(({ span, depth }) => {
    const outcome = String(span.attributes[ATTR.OUTCOME] ?? '');
    const kind =
      span.error || outcome === 'failed'
        ? 'failed'
        : outcome === 'dropped'
          ? 'dropped'
          : outcome === 'forwarded'
            ? 'forwarded'
            : 'other';
    const drops = span.events.filter((event) => event.name === SPAN_EVENT_DROP);
    const markers = drops
      .map((event) => {
        const reason = String(event.attributes[ATTR.DROP_REASON] ?? 'unknown');
        const count = event.attributes[ATTR.EVENTS_DROPPED];
        return `<span class="drop-event" data-reason="${escapeHtml(reason)}" style="left:${position(event.timeUs)}" title="${escapeHtml(`${SPAN_EVENT_DROP}: ${reason}${count !== undefined ? ` x ${count}` : ''}`)}"></span><span class="drop-label" style="left:${position(event.timeUs)}">${escapeHtml(reason)}${count !== undefined ? ` x ${escapeHtml(count)}` : ''}</span>`;
      })
      .join('');
    const attributes = Object.entries(span.attributes)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([key, value]) => `<tr><th>${escapeHtml(key)}</th><td>${escapeHtml(value)}</td></tr>`)
      .join('');
    const events = span.events
      .map(
        (event) =>
          `<tr><th>event ${escapeHtml(event.name)} at +${formatMs(event.timeUs - start)}</th><td>${escapeHtml(
            Object.entries(event.attributes)
              .map(([key, value]) => `${key}=${value}`)
              .join(', '),
          )}</td></tr>`,
      )
      .join('');
    // A drop's label takes the place of the duration after the bar (the duration stays in the bar's tooltip).
    const after =
      markers ||
      `<span class="duration" style="left:${position(span.startUs + span.durationUs)}">${formatMs(span.durationUs)}</span>`;
    return `<details class="span-row span-${kind}" data-span-id="${escapeHtml(span.spanId)}" data-depth="${depth}"${drops.length > 0 ? ' data-has-drop="true"' : ''}><summary><span class="span-name" style="padding-left:${8 + depth * 12}px" title="${escapeHtml(span.name)}">${escapeHtml(span.name)} <span class="service">${escapeHtml(span.service)}</span></span><span class="timeline"><span class="span-bar" title="${escapeHtml(`${span.name}: ${formatMs(span.durationUs)}`)}" style="left:${position(span.startUs)};width:max(2px,${((span.durationUs / total) * 100).toFixed(3)}%)"></span>${after}</span></summary><table class="attributes">${attributes}${events}</table></details>`;
  });
  const dropped = trace.spans.find((span) => span.events.some((event) => event.name === SPAN_EVENT_DROP));
  const summary = dropped
    ? `The drop event is on the <code>${escapeHtml(dropped.name)}</code> span (${escapeHtml(dropped.service)}), marked with a red diamond.`
    : 'No span of this trace has a drop event: the events were lost by an exception (orange spans).';
  return `<p class="trace-id">Trace <code>${escapeHtml(trace.traceId)}</code>, ${trace.spans.length} spans over ${formatMs(total)}${
    trace.source ? `, from <code>${escapeHtml(trace.source)}</code>` : ''
  }. ${summary} Click a span for its attributes.</p><p class="toolbar"><button type="button" id="expand-all">expand all</button> <button type="button" id="collapse-all">collapse all</button></p><div id="waterfall"><div class="axis"><span class="span-name"></span><span class="timeline">${ticks}</span></div>${rows.join('')}</div>`;
}

function headline(report: FunnelReport): string {
  const d = report.firstDivergence;
  if (d) {
    return `<p class="headline lost" id="headline">Workflow events are lost at stage <b>${escapeHtml(d.stage)}</b>: ${percent(d.workflowLossRatio)} of workflow units vs ${percent(
      d.uiLossRatio,
    )} of UI units${d.topReason ? `, mostly <code>${escapeHtml(d.topReason)}</code>` : ''}.</p>`;
  }
  if (report.healthy)
    return '<p class="headline ok" id="headline">Healthy: no unit was dropped or failed at any stage.</p>';
  return '<p class="headline" id="headline">Units were dropped, but no stage loses workflow events at a higher ratio than UI events.</p>';
}

const STYLE = `
:root { color-scheme: light; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; margin: 24px auto; max-width: 1100px; padding: 0 16px; color: #1f2328; background: #fff; }
h1 { font-size: 22px; margin: 0 0 4px; } h2 { font-size: 17px; margin: 28px 0 8px; border-bottom: 1px solid #d0d7de; padding-bottom: 4px; }
.meta { color: #57606a; margin: 0 0 12px; } .context { margin: 0 0 12px; border-collapse: collapse; } .context th { text-align: left; padding: 2px 12px 2px 0; vertical-align: top; color: #57606a; font-weight: 600; }
.headline { font-size: 16px; padding: 10px 14px; border-radius: 6px; background: #f6f8fa; border: 1px solid #d0d7de; }
.headline.lost { background: #fff0f0; border-color: #ffc9c9; } .headline.ok, .ok { color: #1a7f37; }
code { font: 12.5px ui-monospace, SFMono-Regular, Menlo, Consolas, "DejaVu Sans Mono", monospace; background: #f6f8fa; padding: 0 3px; border-radius: 3px; }
.note { color: #57606a; font-size: 13px; }
#funnel-chart { max-width: 100%; height: auto; }
#funnel-chart text { font-family: inherit; font-size: 12px; fill: #1f2328; } #funnel-chart .stage { font-weight: 600; font-size: 13px; }
#funnel-chart .origin, #funnel-chart .legend { fill: #57606a; } #funnel-chart .none { fill: #8c959f; font-style: italic; }
#funnel-chart .numbers.lost { fill: #c92a2a; font-weight: 600; } #funnel-chart .divergence-label { fill: #c92a2a; font-size: 11px; font-weight: 600; }
table#drops-by-reason { border-collapse: collapse; width: 100%; } #drops-by-reason th, #drops-by-reason td { border-bottom: 1px solid #d0d7de; padding: 6px 8px; text-align: left; vertical-align: top; }
#drops-by-reason td.count { white-space: nowrap; } .mini-bar { display: inline-block; height: 10px; margin-right: 6px; border-radius: 2px; vertical-align: middle; }
.file { color: #57606a; font-size: 12px; } .why { font-size: 13px; margin-top: 2px; } .origin-workflow { font-weight: 600; }
#waterfall { border: 1px solid #d0d7de; border-radius: 6px; overflow: hidden; }
#waterfall .axis, #waterfall summary { display: grid; grid-template-columns: 440px 1fr; align-items: center; }
#waterfall .axis { background: #f6f8fa; border-bottom: 1px solid #d0d7de; height: 22px; font-size: 11px; color: #57606a; }
#waterfall .tick { position: absolute; transform: translateX(-50%); white-space: nowrap; } #waterfall .tick:first-child { transform: none; } #waterfall .tick:last-child { transform: translateX(-100%); }
#waterfall summary { list-style: none; cursor: pointer; min-height: 26px; border-bottom: 1px solid #eaeef2; } #waterfall summary::-webkit-details-marker { display: none; }
#waterfall summary:hover { background: #f6f8fa; }
.span-name { overflow: hidden; white-space: nowrap; text-overflow: ellipsis; padding-right: 8px; font-size: 12.5px; } .service { color: #57606a; font-size: 11px; }
.timeline { position: relative; height: 26px; margin: 0 150px 0 8px; }
.span-bar { position: absolute; top: 7px; height: 12px; border-radius: 2px; background: #4c6ef5; }
.span-dropped .span-bar { background: #e03131; } .span-failed .span-bar { background: #f08c00; } .span-forwarded .span-bar { background: #2f9e44; } .span-other .span-bar { background: #868e96; }
.duration { position: absolute; top: 5px; margin-left: 5px; font-size: 10.5px; color: #57606a; white-space: nowrap; }
.drop-event { position: absolute; top: 6px; width: 11px; height: 11px; background: #c92a2a; border: 2px solid #fff; outline: 1px solid #c92a2a; transform: translateX(-50%) rotate(45deg); }
.drop-label { position: absolute; top: 5px; margin-left: 10px; font-size: 11px; font-weight: 600; color: #c92a2a; white-space: nowrap; background: rgba(255,255,255,.85); padding: 0 3px; }
.attributes { margin: 4px 12px 10px 24px; border-collapse: collapse; font-size: 12px; } .attributes th { text-align: left; font-weight: 500; color: #57606a; padding: 1px 12px 1px 0; } .attributes td { font-family: ui-monospace, Menlo, Consolas, "DejaVu Sans Mono", monospace; }
footer { margin-top: 32px; color: #8c959f; font-size: 12px; }
@media print { details { page-break-inside: avoid; } button { display: none; } }
`;

// Only conveniences: the page is complete without it. data-ready tells a headless check that it ran.
const SCRIPT = `
(function () {
  var rows = document.querySelectorAll('#waterfall details');
  var set = function (open) { for (var i = 0; i < rows.length; i++) rows[i].open = open; };
  var expand = document.getElementById('expand-all'); if (expand) expand.addEventListener('click', function () { set(true); });
  var collapse = document.getElementById('collapse-all'); if (collapse) collapse.addEventListener('click', function () { set(false); });
  var dropped = document.querySelector('#waterfall details[data-has-drop]'); if (dropped) dropped.open = true;
  document.body.setAttribute('data-ready', 'true');
})();
`;

export function renderHtmlReport(input: HtmlReportInput): string {
  const { report } = input;
  const context = input.context?.length
    ? `<table class="context">${input.context.map(({ label, text }) => `<tr><th>${escapeHtml(label)}</th><td>${escapeHtml(text)}</td></tr>`).join('')}</table>`
    : '';
  const trace =
    input.trace && input.trace.spans.length > 0
      ? waterfall(input.trace)
      : `<p class="note" id="no-trace">${escapeHtml(input.noTrace ?? 'No trace.')}</p>`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(input.title)}</title>
<style>${STYLE}</style>
</head>
<body>
<h1>${escapeHtml(input.title)}</h1>
<p class="meta">${escapeHtml(input.source)}${report.generation ? ` &middot; Twenty generation ${escapeHtml(report.generation)}` : ''} &middot; generated ${escapeHtml(input.generatedAt.toISOString())}</p>
${context}
${input.verdict ? `<p class="headline${input.verdict.lost ? ' lost' : ' ok'}" id="headline">${escapeHtml(input.verdict.text)}</p>` : headline(report)}
<h2>Funnel per stage: workflow vs UI</h2>
<p class="note">Each stage's units end forwarded (went on), dropped (with a reason) or failed (an exception). Units differ by stage: <code>stream</code> counts (event x subscriber stream) pairs, <code>deliver</code> events handed to SSE connections, <code>workflow_step</code> record mutations, the others events. Hover a bar for its numbers.</p>
${funnelChart(report)}
<h2>Drops by reason</h2>
${dropsTable(report)}
<h2>One lost workflow trace</h2>
${trace}
<footer>opentelemetry-instrumentation-twenty-sse &middot; a self-contained page: no server, no network.</footer>
<script>${SCRIPT}</script>
</body>
</html>
`;
}

interface JaegerTag {
  key: string;
  value: unknown;
}

const tagsToAttributes = (tags: JaegerTag[] | undefined): Record<string, AttributeValue> =>
  Object.fromEntries(
    (tags ?? [])
      .filter((tag) => tag && typeof tag.key === 'string')
      .map((tag) => [
        tag.key,
        typeof tag.value === 'number' || typeof tag.value === 'boolean' ? tag.value : String(tag.value),
      ]),
  );

/** One trace of Jaeger's HTTP API answer (`GET /api/traces/{id}`: `{ data: [trace] }`) as a TraceView; undefined if it is not that shape. */
export function traceFromJaeger(body: unknown, source?: string): TraceView | undefined {
  const trace = (body as { data?: unknown })?.data;
  const first = Array.isArray(trace) ? (trace[0] as Record<string, unknown> | undefined) : undefined;
  if (!first || typeof first.traceID !== 'string' || !Array.isArray(first.spans)) return undefined;
  const processes = (first.processes ?? {}) as Record<string, { serviceName?: string }>;
  const spans: TraceSpan[] = [];
  for (const raw of first.spans as Record<string, unknown>[]) {
    if (!raw || typeof raw.spanID !== 'string' || typeof raw.startTime !== 'number' || typeof raw.duration !== 'number')
      return undefined;
    const references = (Array.isArray(raw.references) ? raw.references : []) as { refType?: string; spanID?: string }[];
    const attributes = tagsToAttributes(raw.tags as JaegerTag[]);
    spans.push({
      spanId: raw.spanID,
      parentSpanId: references.find((reference) => reference.refType === 'CHILD_OF')?.spanID,
      name: String(raw.operationName ?? ''),
      service: processes[String(raw.processID)]?.serviceName ?? 'unknown',
      startUs: raw.startTime,
      durationUs: raw.duration,
      attributes,
      events: ((Array.isArray(raw.logs) ? raw.logs : []) as { timestamp?: number; fields?: JaegerTag[] }[]).map(
        (log) => {
          const fields = tagsToAttributes(log.fields);
          const { event, ...rest } = fields;
          return { name: String(event ?? 'log'), timeUs: Number(log.timestamp ?? raw.startTime), attributes: rest };
        },
      ),
      error: attributes.error === true || attributes['otel.status_code'] === 'ERROR',
    });
  }
  return { traceId: first.traceID, spans, source };
}
