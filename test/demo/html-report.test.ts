import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { countColor, decodePng, dumpDom, screenshot } from '../helpers/chromium';

/**
 * `npm run demo -- --html FILE` as a person would look at it: the page is
 * rendered by headless Chromium, from disk, with no server. The DOM after the
 * page's script ran must hold the funnel chart with the numbers of the same
 * run's --json report, the drops table, and the waterfall of the lost
 * workflow trace with its drop event; the screenshot must show the red
 * dropped bar. The page may load nothing from anywhere.
 */

const ROOT = path.resolve(__dirname, '../..');
const DEMO = path.join(ROOT, 'dist/demo/demo.js');
const NODE = process.env.TEST_NODE_BIN ?? process.execPath;
const DROPPED_RED: [number, number, number] = [0xe0, 0x31, 0x31];
const FORWARDED_GREEN: [number, number, number] = [0x2f, 0x9e, 0x44];

type Cell = { entered: number; forwarded: number; failed: number; dropped: number };
type DemoJson = {
  report: { stages: { stage: string; byOrigin: Record<string, Cell> }[]; firstDivergence?: { stage: string } };
  traces: { lostWorkflowTraceIds: string[] };
};

let work: string;
beforeAll(() => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'twenty-sse-html-report-'));
});
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

function runDemo(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const env = { ...process.env };
  for (const key of Object.keys(env))
    if (
      key.startsWith('TWENTY_SSE_OTEL_') ||
      key.startsWith('EXAMPLE_') ||
      key === 'REDIS_URL' ||
      key === 'NODE_OPTIONS'
    )
      delete env[key];
  return new Promise((resolve, reject) => {
    const child = spawn(NODE, [DEMO, ...args], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Every `<tag ...>` opening tag of the DOM with its attributes. */
function elements(dom: string, tag: string): Record<string, string>[] {
  return [...dom.matchAll(new RegExp(`<${tag}\\b([^>]*)>`, 'g'))].map((match) =>
    Object.fromEntries(
      [...match[1].matchAll(/([\w-]+)(?:="([^"]*)")?/g)].map((attribute) => [attribute[1], attribute[2] ?? '']),
    ),
  );
}

describe('demo --html: workflow-leaves-filter on v5, rendered in headless Chromium', () => {
  let html: string;
  let dom: string;
  let json: DemoJson;
  const file = () => path.join(work, 'workflow-leaves-filter.html');

  beforeAll(async () => {
    const run = await runDemo([
      '--scenario',
      'workflow-leaves-filter',
      '--generation',
      'v5',
      '--events',
      '5',
      '--json',
      '--html',
      file(),
    ]);
    expect({ code: run.code, stderr: run.stderr }).toEqual({
      code: 0,
      stderr: `demo: wrote the HTML report to ${file()}\n`,
    });
    json = JSON.parse(run.stdout) as DemoJson;
    html = fs.readFileSync(file(), 'utf8');
    dom = await dumpDom(file());
  }, 120_000);

  test('the file is self-contained: no external script, style, image, font or frame', () => {
    expect(html).not.toMatch(/<(script|img|iframe|link)\b[^>]*\b(src|href)=/i);
    expect(html).not.toMatch(/url\(|@import|https?:\/\/(?!www\.w3\.org\/2000\/svg)/i);
  });

  test("the page's script ran in Chromium (it marks the body and opens the span with the drop)", () => {
    expect(elements(dom, 'body')[0]['data-ready']).toBe('true');
    const opened = elements(dom, 'details').filter((details) => 'open' in details);
    expect(opened.map((details) => details['data-has-drop'])).toEqual(['true']);
  });

  test('the funnel chart has a bar per stage and origin, with the numbers of the same run', () => {
    const bars = elements(dom, 'rect').filter((rect) => rect.class?.startsWith('bar '));
    const drawn: Record<string, number> = {};
    for (const bar of bars)
      drawn[`${bar['data-stage']}|${bar['data-origin']}|${bar['data-outcome']}`] = Number(bar['data-count']);
    const expected: Record<string, number> = {};
    for (const { stage, byOrigin } of json.report.stages) {
      for (const origin of ['workflow', 'ui']) {
        for (const outcome of ['forwarded', 'dropped', 'failed'] as const) {
          const count = byOrigin[origin]?.[outcome] ?? 0;
          if (count > 0) expected[`${stage}|${origin}|${outcome}`] = count;
        }
      }
    }
    expect(drawn).toEqual(expected);
    expect(drawn['stream|workflow|dropped']).toBe(5);
    expect(elements(dom, 'svg').find((svg) => svg.id === 'funnel-chart')).toBeDefined();
    expect(dom).toMatch(/<text [^>]*class="divergence-label"[^>]*>first divergence<\/text>/);
  });

  test('the drops table names the reason, its code, the stage, the origin and Twenty’s method', () => {
    const rows = elements(dom, 'tr').filter((row) => row.class === 'drop-row');
    expect(rows).toEqual([{ class: 'drop-row', 'data-reason': 'no_matching_query', 'data-origin': 'workflow' }]);
    expect(dom).toMatch(
      /<td><code>no_matching_query<\/code><\/td><td>D8<\/td><td>stream<\/td><td class="origin-workflow">workflow<\/td>/,
    );
    expect(dom).toContain('WorkspaceEventEmitterService.processStreamEvents');
  });

  test('the waterfall shows one lost workflow trace, from the workflow job to the stream span with its drop event', () => {
    expect(dom).toContain(`Trace <code>${json.traces.lostWorkflowTraceIds[0]}</code>`);
    const rows = elements(dom, 'details').filter((details) => details.class?.startsWith('span-row'));
    expect(rows.length).toBeGreaterThanOrEqual(5);
    expect(rows[0]['data-depth']).toBe('0');
    const spanNames = [...dom.matchAll(/<span class="span-name"[^>]*title="([^"]+)"/g)].map((match) => match[1]);
    expect(spanNames[0]).toBe('RunWorkflowJob.handle');
    const dropped = rows.findIndex((row) => row['data-has-drop'] === 'true');
    expect(spanNames[dropped]).toBe('WorkspaceEventEmitterService.processStreamEvents');
    expect(rows[dropped].class).toBe('span-row span-dropped');
    expect(Number(rows[dropped]['data-depth'])).toBeGreaterThan(0);
    expect(
      elements(dom, 'span')
        .filter((span) => span.class === 'drop-event')
        .map((span) => span['data-reason']),
    ).toEqual(['no_matching_query']);
  });

  test('a screenshot shows the page: the red dropped bar, green forwarded bars, not a blank page', async () => {
    const png = path.join(work, 'workflow-leaves-filter.png');
    await screenshot(file(), png, 1280, 2400);
    const image = decodePng(fs.readFileSync(png));
    expect({ width: image.width, height: image.height }).toEqual({ width: 1280, height: 2400 });
    // The workflow bar at stream is all dropped (about 520 x 16 px), and the dropped span of the waterfall is red too.
    expect(countColor(image, DROPPED_RED)).toBeGreaterThan(5_000);
    expect(countColor(image, FORWARDED_GREEN)).toBeGreaterThan(50_000);
  }, 120_000);
});

describe('demo --html: healthy run', () => {
  test('no dropped bar, no drop row, and the page says there is no lost trace', async () => {
    const file = path.join(work, 'healthy.html');
    const run = await runDemo(['--scenario', 'healthy', '--events', '2', '--html', file]);
    expect(run.code).toBe(0);
    const dom = await dumpDom(file);
    expect(elements(dom, 'body')[0]['data-ready']).toBe('true');
    expect(elements(dom, 'rect').filter((rect) => rect.class === 'bar seg-dropped')).toEqual([]);
    expect(elements(dom, 'rect').filter((rect) => rect.class === 'bar seg-forwarded').length).toBeGreaterThan(8);
    expect(dom).toContain('id="no-drops"');
    expect(dom).toContain('No workflow event was lost in this run, so there is no trace to show.');
    expect(dom).not.toContain('id="waterfall"');
  }, 120_000);
});

describe('demo --html: a file it cannot write', () => {
  test('exits 2 with one line before running anything', async () => {
    const run = await runDemo(['--html', path.join(work, 'missing-dir', 'report.html')]);
    expect({ code: run.code, stdout: run.stdout }).toEqual({ code: 2, stdout: '' });
    expect(run.stderr).toBe(
      `demo: --html ${path.join(work, 'missing-dir', 'report.html')}: the directory ${path.join(work, 'missing-dir')} does not exist or is not writable\n`,
    );
  });
});
