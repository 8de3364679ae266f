/**
 * The generator builds the dashboard with @grafana/grafana-foundation-sdk and
 * writes YAML with the `yaml` package instead of hand-written builders.
 * test/dashboards/before-sdk/ holds the files the hand-written generator had
 * committed; this checks that the new output means the same. The rules and the
 * promtool tests parse to identical documents. The dashboard differs only by
 * the entries of ACCEPTED: keys the SDK writes out with the value Grafana
 * assumes when they are absent, and dashboard-link fields on data links, which
 * Grafana's data links do not read.
 *
 * A deliberate change to the dashboard or rules makes this comparison fail:
 * retire it (with before-sdk/) then, its job is done.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import YAML from 'yaml';
import { DASHBOARD_PATH, RULES_PATH, RULE_TESTS_PATH, generatedFiles, toYaml } from '../../dashboards/generator/generate';
import { RUNBOOK_RELATIVE_TO_RULES } from '../../dashboards/generator/rules';

const BEFORE_DIR = path.join(__dirname, 'before-sdk');
const generated = new Map(generatedFiles().map((file) => [file.path, file.content]));
const before = (name: string) => fs.readFileSync(path.join(BEFORE_DIR, name), 'utf8');
const after = (repoPath: string) => generated.get(repoPath) as string;

interface Difference {
  /** `$.panels[3].options.footer`, array indexes included. */
  path: string;
  kind: 'added' | 'removed' | 'changed';
  before?: unknown;
  after?: unknown;
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null;

/** Every place where `next` differs from `previous`; arrays are compared item by item, objects key by key in any order. */
function differences(previous: unknown, next: unknown, at = '$'): Difference[] {
  if (!isObject(previous) || !isObject(next) || Array.isArray(previous) !== Array.isArray(next)) {
    return Object.is(previous, next) ? [] : [{ path: at, kind: 'changed', before: previous, after: next }];
  }
  const keys = [...new Set([...Object.keys(previous), ...Object.keys(next)])];
  return keys.flatMap((key) => {
    const child = Array.isArray(previous) ? `${at}[${key}]` : `${at}.${key}`;
    if (!(key in next)) return [{ path: child, kind: 'removed' as const, before: previous[key] }];
    if (!(key in previous)) return [{ path: child, kind: 'added' as const, after: next[key] }];
    return differences(previous[key], next[key], child);
  });
}

interface Accepted {
  /** Path with every array index written `[*]`. */
  path: string;
  kind: 'added' | 'removed';
  value: unknown;
  why: string;
}

const GRAFANA_DEFAULT = "Grafana's default for the absent key (the SDK's defaults come from Grafana's own schema)";
const DATA_LINK_FIELD =
  "the SDK types panel data links as dashboard links; Grafana's data links read only title, url and targetBlank, which are unchanged";

const ACCEPTED: Accepted[] = [
  { path: '$.timepicker', kind: 'removed', value: {}, why: 'an empty timepicker and an absent one both take Grafana\'s defaults' },
  { path: '$.templating.list[*].skipUrlSync', kind: 'added', value: false, why: GRAFANA_DEFAULT },
  { path: '$.templating.list[*].allowCustomValue', kind: 'added', value: true, why: GRAFANA_DEFAULT },
  { path: '$.templating.list[*].multi', kind: 'added', value: false, why: GRAFANA_DEFAULT },
  { path: '$.templating.list[*].includeAll', kind: 'added', value: false, why: GRAFANA_DEFAULT },
  ...(['auto', 'auto_min', 'auto_count'] as const).map(
    (key): Accepted => ({
      path: `$.templating.list[*].${key}`,
      kind: 'added',
      value: { auto: false, auto_min: '10s', auto_count: 30 }[key],
      why: `interval-variable setting (${GRAFANA_DEFAULT}); query, custom and textbox variables ignore it`,
    }),
  ),
  { path: '$.panels[*].transparent', kind: 'added', value: false, why: GRAFANA_DEFAULT },
  { path: '$.panels[*].repeatDirection', kind: 'added', value: 'h', why: `${GRAFANA_DEFAULT}; no panel repeats` },
  { path: '$.panels[*].options.wideLayout', kind: 'added', value: true, why: `stat: ${GRAFANA_DEFAULT}` },
  { path: '$.panels[*].options.showPercentChange', kind: 'added', value: false, why: `stat: ${GRAFANA_DEFAULT}` },
  { path: '$.panels[*].options.percentChangeColorMode', kind: 'added', value: 'standard', why: `stat: ${GRAFANA_DEFAULT}` },
  { path: '$.panels[*].options.frameIndex', kind: 'added', value: 0, why: `table: ${GRAFANA_DEFAULT}` },
  { path: '$.panels[*].options.showTypeIcons', kind: 'added', value: false, why: `table: ${GRAFANA_DEFAULT}` },
  {
    path: '$.panels[*].fieldConfig.defaults.custom',
    kind: 'added',
    value: { align: 'auto', inspect: false },
    why: `table field options: ${GRAFANA_DEFAULT}`,
  },
  {
    path: '$.panels[*].options.footer.fields',
    kind: 'removed',
    value: '',
    why: 'the table footers stay hidden (show: false); the SDK types `fields` as a list, and absent means every numeric field, as "" did',
  },
  ...(
    [
      ['type', 'link'],
      ['icon', ''],
      ['tooltip', ''],
      ['tags', []],
      ['asDropdown', false],
      ['includeVars', false],
      ['keepTime', false],
    ] as const
  ).map(
    ([key, value]): Accepted => ({ path: `$.panels[*].fieldConfig.defaults.links[*].${key}`, kind: 'added', value, why: DATA_LINK_FIELD }),
  ),
];

const wildcard = (difference: Difference) => difference.path.replace(/\[\d+\]/g, '[*]');
const isAccepted = (difference: Difference) =>
  ACCEPTED.some(
    (accepted) =>
      accepted.path === wildcard(difference) &&
      accepted.kind === difference.kind &&
      JSON.stringify(accepted.value) === JSON.stringify(difference.kind === 'added' ? difference.after : difference.before),
  );

describe('the SDK-built dashboard means what the hand-written one did', () => {
  const beforeDashboard = JSON.parse(before('twenty-sse.json')) as unknown;
  const afterDashboard = JSON.parse(after(DASHBOARD_PATH)) as Record<string, unknown>;
  const found = differences(beforeDashboard, afterDashboard);

  test('every difference is an accepted one', () => {
    expect(found.filter((difference) => !isAccepted(difference))).toEqual([]);
  });

  test('every accepted difference occurs (the list names no more than the SDK changes)', () => {
    const occurring = new Set(found.filter(isAccepted).map((difference) => `${difference.kind} ${wildcard(difference)}`));
    expect(ACCEPTED.map((accepted) => `${accepted.kind} ${accepted.path}`).filter((key) => !occurring.has(key))).toEqual([]);
  });

  /** The parts of the written JSON that the mutations below touch. */
  interface DashboardJson {
    panels: Array<{
      title: string;
      transparent?: boolean;
      gridPos: { w: number };
      targets: Array<{ expr: string }>;
      fieldConfig?: { defaults: { unit?: string; links?: Array<{ url: string }> } };
    }>;
    templating: { list: Array<{ query: string }> };
  }
  const parsedAfter = () => JSON.parse(after(DASHBOARD_PATH)) as DashboardJson;

  test('the comparison notices a changed query, title, unit, data link, layout or a missing panel', () => {
    const firstDataLink = (dashboard: DashboardJson) =>
      dashboard.panels.flatMap((panel) => panel.fieldConfig?.defaults.links ?? [])[0];
    const mutations: Array<[string, (dashboard: DashboardJson) => void]> = [
      ['query', (dashboard) => (dashboard.panels[1].targets[0].expr += ' * 2')],
      ['title', (dashboard) => (dashboard.panels[2].title = 'Dropped')],
      ['unit', (dashboard) => (dashboard.panels[3].fieldConfig!.defaults.unit = 'percent')],
      ['data link', (dashboard) => (firstDataLink(dashboard).url += '&x=1')],
      ['layout', (dashboard) => (dashboard.panels[4].gridPos.w = 4)],
      ['panel', (dashboard) => dashboard.panels.pop()],
      ['variable', (dashboard) => (dashboard.templating.list[1].query = 'ui')],
    ];
    for (const [what, mutate] of mutations) {
      const mutated = parsedAfter();
      mutate(mutated);
      const unaccepted = differences(beforeDashboard, mutated).filter((difference) => !isAccepted(difference));
      expect({ what, noticed: unaccepted.length > 0 }).toEqual({ what, noticed: true });
    }
  });

  test('the SDK-set keys are not accepted with another value', () => {
    const mutated = parsedAfter();
    mutated.panels[1].transparent = true;
    expect(differences(beforeDashboard, mutated).filter((difference) => !isAccepted(difference))).toEqual([
      { path: '$.panels[1].transparent', kind: 'added', after: true },
    ]);
  });
});

/**
 * One deliberate change since before-sdk/: each alert's runbook_url moved from
 * the README's anchor on the npm page to its section of the shipped RUNBOOK.md.
 * Applied to the old documents, so everything else must still be identical.
 */
const OLD_RUNBOOK_BASE = 'https://www.npmjs.com/package/opentelemetry-instrumentation-twenty-sse#runbook-';
function withRunbookMoved(value: unknown, key?: string): unknown {
  if (key === 'runbook_url' && typeof value === 'string' && value.startsWith(OLD_RUNBOOK_BASE)) {
    return `${RUNBOOK_RELATIVE_TO_RULES}#${value.slice(OLD_RUNBOOK_BASE.length)}`;
  }
  if (Array.isArray(value)) return value.map((item) => withRunbookMoved(item));
  if (isObject(value)) return Object.fromEntries(Object.entries(value).map(([name, child]) => [name, withRunbookMoved(child, name)]));
  return value;
}

describe('the yaml package writes the same Prometheus documents', () => {
  test.each([
    ['twenty-sse.rules.yml', RULES_PATH],
    ['twenty-sse.rules.test.yml', RULE_TESTS_PATH],
  ])('%s parses to the same document as before (runbook links moved to RUNBOOK.md)', (beforeName, repoPath) => {
    expect(YAML.parse(after(repoPath))).toEqual(withRunbookMoved(YAML.parse(before(beforeName))));
  });

  test('strings that YAML 1.1 (Prometheus reads YAML with Go) takes for booleans or null stay strings', () => {
    const value = { labels: { a: 'on', b: 'y', c: 'No', d: 'null', e: '5m', f: 'x: y' }, list: ['off', 'yes'] };
    expect(YAML.parse(toYaml(value, []), { version: '1.1' })).toEqual(value);
  });

  test('the header becomes leading comment lines, a blank one as a bare #', () => {
    expect(toYaml({ a: 1 }, ['first', '', 'last'])).toBe('# first\n#\n# last\n\na: 1\n');
  });
});
