/**
 * The generated dashboard, rules and rule tests: committed = generated, every
 * panel and query well-formed, every name and value from src/semconv.ts, and
 * promtool accepts the rules, configs and unit tests.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import YAML from 'yaml';
import {
  ATTR,
  DROP_REASON_NAMES,
  DROP_REASONS,
  ORIGINS,
  OUTCOMES,
  PROM,
  STAGES,
  dropReasonsOfKind,
  routineShareOf,
} from '../../src/semconv';
import {
  TEST_VARIABLE_VALUES,
  allPanels,
  buildDashboard,
  dashboardQueries,
  substituteTemplateVariables,
  type Panel,
  type PrometheusTarget,
} from '../../dashboards/generator/dashboard';
import { DASHBOARD_PATH, RULES_PATH, generatedFiles, toYaml } from '../../dashboards/generator/generate';
import { LOSS_CASES, STATED_DELAY_MINUTES, describeFiredAlert } from '../../dashboards/generator/rule-tests';
import { STAGE_IN_ORDER_LABEL, stageInOrder } from '../../dashboards/generator/promql';
import {
  LAST_MILE_REASON,
  PRODUCTION_TIMING,
  RUNBOOK_RELATIVE_TO_RULES,
  buildRuleGroups,
  compressedTiming,
  defaultRunbookBaseUrl,
  isAlertingRule,
  recordNames,
  ruleNames,
  type AlertingRule,
} from '../../dashboards/generator/rules';
import { parseYaml } from '../helpers/stack';

const ROOT = path.resolve(__dirname, '../..');
const PROMETHEUS_DIR = path.join(ROOT, 'dashboards/prometheus');

/** As Grafana reads it: the JSON the generator writes. */
const dashboard = JSON.parse(JSON.stringify(buildDashboard())) as {
  uid: string;
  schemaVersion: number;
  panels: Panel[];
  templating: { list: Array<Record<string, unknown> & { name: string; type: string }> };
};
const panels = allPanels(dashboard);
const targetsOf = (panel: Panel) => panel.targets ?? [];
const promTargets = panels.flatMap((panel) =>
  targetsOf(panel).filter((target): target is PrometheusTarget => target.datasource.type === 'prometheus'),
);
const alerts = buildRuleGroups()
  .flatMap((group) => group.rules)
  .filter(isAlertingRule);
const ruleExprs = buildRuleGroups().flatMap((group) => group.rules.map((rule) => rule.expr));
const variableQueries = dashboard.templating.list
  .filter((variable) => variable.type === 'query')
  .map((variable) => String(variable.query));
const allExprs = [...promTargets.map((target) => target.expr), ...ruleExprs, ...variableQueries];

describe('generated files', () => {
  test.each(generatedFiles().map((file) => [file.path, file.content]))(
    '%s is committed exactly as the generator writes it',
    (relativePath, content) => {
      const committed = fs.readFileSync(path.join(ROOT, relativePath), 'utf8');
      expect(committed).toEqual(content);
    },
  );

  test('strings that YAML 1.1 (Prometheus reads YAML with Go) takes for booleans or null stay strings', () => {
    const value = { labels: { a: 'on', b: 'y', c: 'No', d: 'null', e: '5m', f: 'x: y' }, list: ['off', 'yes'] };
    expect(YAML.parse(toYaml(value, []), { version: '1.1' })).toEqual(value);
  });

  test('the header becomes leading comment lines, a blank one as a bare #', () => {
    expect(toYaml({ a: 1 }, ['first', '', 'last'])).toBe('# first\n#\n# last\n\na: 1\n');
  });

  test('the dashboard JSON parses and ends with a newline', () => {
    const text = fs.readFileSync(path.join(ROOT, 'dashboards/grafana/dashboards/twenty-sse.json'), 'utf8');
    expect(text.endsWith('}\n')).toBe(true);
    expect(JSON.parse(text)).toEqual(dashboard);
  });
});

describe('dashboard structure', () => {
  test('uid, schema version and datasources', () => {
    expect(dashboard.uid).toBe('twenty-sse');
    expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(39);
    expect(dashboard.schemaVersion).toBeLessThanOrEqual(42);
  });

  test('every panel has a datasource uid, a unique id and a place on the grid', () => {
    const ids = new Set<number>();
    for (const panel of panels) {
      expect(['prometheus', 'jaeger']).toContain(panel.datasource.uid);
      expect(ids.has(panel.id)).toBe(false);
      ids.add(panel.id);
      expect(panel.gridPos.x + panel.gridPos.w).toBeLessThanOrEqual(24);
    }
  });

  test('every target has an explicit refId unique in its panel, and a datasource uid', () => {
    for (const panel of panels.filter((candidate) => candidate.type !== 'row')) {
      const refIds = targetsOf(panel).map((target) => target.refId);
      expect(refIds.length).toBeGreaterThan(0);
      expect(refIds.every((refId) => /^[A-Z]$/.test(refId))).toBe(true);
      expect(new Set(refIds).size).toBe(refIds.length);
      for (const target of targetsOf(panel)) expect(target.datasource.uid).toBe(panel.datasource.uid);
    }
  });

  test('every Prometheus target has a non-empty expr and says whether it is instant or range', () => {
    expect(promTargets.length).toBeGreaterThan(20);
    for (const target of promTargets) {
      expect(target.expr.trim()).not.toBe('');
      expect(target.instant).toBe(!target.range);
    }
  });

  test('the Jaeger panel queries the jaeger datasource', () => {
    const jaegerTargets = panels.flatMap(targetsOf).filter((target) => target.datasource.type === 'jaeger');
    expect(jaegerTargets.length).toBe(1);
    expect(jaegerTargets[0]).toMatchObject({ refId: 'A', datasource: { uid: 'jaeger' }, queryType: 'search' });
  });

  test('template variables: origin (multi, all), job, jaeger_service, jaeger_url', () => {
    const byName = Object.fromEntries(dashboard.templating.list.map((variable) => [variable.name, variable]));
    expect(byName.origin).toMatchObject({ type: 'custom', multi: true, includeAll: true, query: ORIGINS.join(',') });
    expect(byName.job).toMatchObject({
      type: 'query',
      multi: true,
      includeAll: true,
      datasource: { uid: 'prometheus' },
    });
    expect(byName.jaeger_service).toMatchObject({ type: 'query', datasource: { uid: 'prometheus' } });
    expect(byName.jaeger_url).toMatchObject({ type: 'textbox', query: 'http://localhost:16686' });
  });

  test('drop panels link to the Jaeger search by drop reason and origin', () => {
    const links = panels.flatMap((panel) =>
      ((panel.fieldConfig?.defaults.links ?? []) as Array<{ url: string }>).map((link) => ({
        panel: panel.title,
        url: link.url,
      })),
    );
    expect(links.map((link) => link.panel)).toEqual(
      expect.arrayContaining(['Drops by reason, stage and origin', 'Drop rate by origin and reason']),
    );
    for (const { url } of links) {
      expect(url.startsWith('${jaeger_url}/search?service=')).toBe(true);
      const tags = new URL(url.replace('${jaeger_url}', 'http://jaeger')).searchParams.get('tags') ?? '';
      const parsed = JSON.parse(tags) as Record<string, string>;
      expect(Object.keys(parsed).sort()).toEqual([ATTR.DROP_REASON, ATTR.ORIGIN].sort());
      expect(parsed[ATTR.DROP_REASON]).toMatch(/^\$\{__(data\.fields|field\.labels)\.twenty_sse_drop_reason\}$/);
    }
  });
});

describe('names and values come from src/semconv.ts', () => {
  const PROMQL_WORDS = new Set([
    'sum',
    'max',
    'min',
    'count',
    'by',
    'without',
    'on',
    'ignoring',
    'group_left',
    'group_right',
    'and',
    'or',
    'unless',
    'offset',
    'bool',
    'rate',
    'increase',
    'vector',
    'absent',
    'label_replace',
    'histogram_quantile',
    'label_values',
  ]);

  /** Metric names an expression reads: identifiers left after removing strings, label matchers, grouping clauses and variables. */
  function metricNames(expr: string): string[] {
    const stripped = expr
      .replace(/"(?:[^"\\]|\\.)*"/g, '""')
      .replace(/\$\{?\w+\}?/g, ' ')
      .replace(/\{[^}]*\}/g, ' ')
      .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ')
      .replace(/\[[^\]]*\]/g, ' ')
      .replace(/\boffset\s+\w+/g, ' ')
      .replace(/\blabel_values\(([^,]*),\s*\w+\)/g, '$1');
    return (stripped.match(/[A-Za-z_:][A-Za-z0-9_:]*/g) ?? []).filter((word) => !PROMQL_WORDS.has(word));
  }

  const semconvMetrics = new Set<string>(
    Object.entries(PROM)
      .filter(([key]) => !key.startsWith('LABEL_'))
      .map(([, name]) => name),
  );
  const recorded = new Set(ruleNames().filter((name) => name.includes(':')));
  const isKnownMetric = (name: string) =>
    semconvMetrics.has(name) || recorded.has(name) || /^(otelcol_|traces_span_metrics_)/.test(name);

  test('the name extractor sees through label matchers and functions', () => {
    expect(
      metricNames('sum by (job) (rate(twenty_sse_stage_events_total{job=~"$job"}[$__rate_interval])) or vector(0)'),
    ).toEqual(['twenty_sse_stage_events_total']);
  });

  test('every metric name in a dashboard query, variable or rule is in semconv PROM (or otelcol_ / traces_span_metrics_ / recorded)', () => {
    const names = allExprs.flatMap(metricNames);
    expect(names.length).toBeGreaterThan(50);
    expect(names.filter((name) => !isKnownMetric(name))).toEqual([]);
  });

  test('every __name__ regex selects collector metrics only', () => {
    const patterns = allExprs.flatMap((expr) => [...expr.matchAll(/__name__=~"([^"]*)"/g)].map((match) => match[1]));
    expect(patterns.length).toBeGreaterThan(0);
    for (const pattern of patterns) expect(pattern).toMatch(/^otelcol_\w+\(_total\)\?$/);
  });

  test('every label used as a twenty_sse label is a semconv label', () => {
    const labels = new Set<string>(
      Object.entries(PROM)
        .filter(([key]) => key.startsWith('LABEL_'))
        .map(([, name]) => name),
    );
    const used = allExprs.flatMap((expr) =>
      [...expr.matchAll(/\b(twenty_sse_[a-z_]+)\s*(?:=|!=|=~|!~)/g)].map((match) => match[1]),
    );
    expect(used.length).toBeGreaterThan(0);
    expect(used.filter((label) => !labels.has(label))).toEqual([]);
  });

  test('every stage, origin, outcome and drop-reason literal is a member of its semconv set', () => {
    const allowed: Record<string, ReadonlySet<string>> = {
      [PROM.LABEL_STAGE]: new Set(STAGES),
      [PROM.LABEL_ORIGIN]: new Set(ORIGINS),
      [PROM.LABEL_OUTCOME]: new Set(OUTCOMES),
      [PROM.LABEL_DROP_REASON]: new Set(DROP_REASON_NAMES),
    };
    let checked = 0;
    for (const expr of allExprs) {
      for (const [, label, value] of expr.matchAll(/\b(twenty_sse_\w+)\s*(?:=|!=|=~|!~)\s*"([^"]*)"/g)) {
        if (allowed[label] === undefined || value.startsWith('$')) continue;
        for (const literal of value.split('|')) {
          expect({ label, literal, known: allowed[label].has(literal) }).toEqual({ label, literal, known: true });
          checked += 1;
        }
      }
      for (const [, replacement, stage] of expr.matchAll(
        new RegExp(`"${STAGE_IN_ORDER_LABEL}", "([^"]*)", "${PROM.LABEL_STAGE}", "([^"]*)"`, 'g'),
      )) {
        expect(STAGES as readonly string[]).toContain(stage);
        expect(replacement).toBe(stageInOrder(stage as (typeof STAGES)[number]));
        checked += 1;
      }
    }
    expect(checked).toBeGreaterThan(100);
  });

  test('pipeline order labels sort in pipeline order', () => {
    const ordered = STAGES.map(stageInOrder);
    expect([...ordered].sort()).toEqual(ordered);
  });
});

describe('dashboardQueries() and the variable substitution', () => {
  test('lists every Prometheus target with its panel, refId and substituted expr', () => {
    const queries = dashboardQueries();
    expect(queries.length).toBe(promTargets.length);
    for (const query of queries) {
      expect(query.expr).not.toMatch(/\$/);
      expect(query.panel).not.toBe('');
      expect(query.refId).toMatch(/^[A-Z]$/);
    }
  });

  test('substitutes $var and ${var}, and refuses a variable without a test value', () => {
    expect(substituteTemplateVariables('rate(m{o=~"$origin"}[$__rate_interval]) offset ${__range}')).toBe(
      `rate(m{o=~"${TEST_VARIABLE_VALUES.origin}"}[5m]) offset 1h`,
    );
    expect(() => substituteTemplateVariables('m{x="$nope"}')).toThrow(/\$nope/);
  });
});

describe('alert rules', () => {
  const RUNBOOK = path.join(ROOT, 'RUNBOOK.md');
  const runbook = fs.readFileSync(RUNBOOK, 'utf8');
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  /** GitHub's heading anchor. */
  const slug = (heading: string) =>
    heading
      .toLowerCase()
      .replace(/[^a-z0-9 _-]/g, '')
      .replace(/ /g, '-');
  const anchors = new Set([...runbook.matchAll(/^#+ (.+)$/gm)].map((match) => slug(match[1])));
  const committedRules = (
    parseYaml(fs.readFileSync(path.join(ROOT, RULES_PATH), 'utf8')) as {
      groups: { rules: { alert?: string; annotations?: Record<string, string> }[] }[];
    }
  ).groups.flatMap((group) => group.rules.filter((rule) => rule.alert !== undefined));

  test('the alerts the product promises exist', () => {
    expect(alerts.map((rule) => rule.alert).sort()).toEqual(
      [
        'CollectorExportFailing',
        'CollectorRefusingSpans',
        'TwentySseDropsAboveRoutineLevel',
        'TwentySseEventsFailing',
        'TwentySseInstrumentationErrors',
        'TwentySseInstrumentationTargetsMissing',
        'TwentySseLossSpike',
        'TwentySseNoLiveConnection',
        'TwentySseTelemetryAbsent',
        'TwentySseUnattributedDrops',
        'TwentySseWorkflowLossAboveUi',
      ].sort(),
    );
  });

  test.each(alerts.map((rule): [string, AlertingRule] => [rule.alert, rule]))(
    '%s has severity, summary, description, runbook section and a Jaeger search',
    (name, rule) => {
      expect(['warning', 'critical']).toContain(rule.labels.severity);
      expect(rule.annotations.summary).not.toBe('');
      expect(rule.annotations.description).not.toBe('');
      expect(rule.annotations.runbook_url).toBe(`../../../RUNBOOK.md#${name.toLowerCase()}`);
      expect(anchors.has(name.toLowerCase())).toBe(true);
      expect(rule.annotations.jaeger_search).toMatch(/^http:\/\/localhost:16686\/search/);
    },
  );

  test('the pages are the losses: critical alerts are the workflow-vs-UI divergence and failures', () => {
    const critical = alerts
      .filter((rule) => rule.labels.severity === 'critical')
      .map((rule) => rule.alert)
      .sort();
    expect(critical).toEqual(['TwentySseEventsFailing', 'TwentySseWorkflowLossAboveUi']);
    const byName = Object.fromEntries(alerts.map((rule) => [rule.alert, rule]));
    expect(byName.TwentySseWorkflowLossAboveUi.labels.origin).toBe('workflow');
    expect(byName.TwentySseUnattributedDrops.labels.origin).toBe(`{{ $labels.${PROM.LABEL_ORIGIN} }}`);
  });

  test('every drop reason follows its kind from src/semconv.ts: loss reasons in the loss share, churn reasons each with its routine share, filtering nowhere in an alert', () => {
    const record = recordNames();
    const groups = buildRuleGroups();
    const rules = groups.flatMap((group) => group.rules);
    const exprOf = (name: string) =>
      rules.find((rule) => (isAlertingRule(rule) ? rule.alert : rule.record) === name)?.expr ?? '';
    const regexValues = (expr: string) =>
      [...expr.matchAll(/twenty_sse_drop_reason=~"([^"]*)"/g)].map((match) => match[1].split('|').sort());
    const lossRegexes = regexValues(exprOf(record.LOSS_SHARE));
    expect(lossRegexes.length).toBeGreaterThan(0);
    for (const values of lossRegexes) expect(values).toEqual(dropReasonsOfKind('loss').sort());
    const churn = exprOf('TwentySseDropsAboveRoutineLevel');
    for (const reason of dropReasonsOfKind('churn')) {
      const share = routineShareOf(reason) as number;
      expect(share).toBeGreaterThan(0);
      if (reason === LAST_MILE_REASON) continue;
      expect(churn).toContain(`${PROM.LABEL_DROP_REASON}="${reason}"} > ${share}, "routine_share", "${share * 100}%"`);
    }
    // the last mile's churn is judged by its own alert, at its routine share, and by no other
    expect(churn).not.toContain(LAST_MILE_REASON);
    const noLive = exprOf('TwentySseNoLiveConnection');
    expect(noLive).toContain(`${PROM.LABEL_DROP_REASON}="${LAST_MILE_REASON}"} > ${routineShareOf(LAST_MILE_REASON)})`);
    expect(noLive).toContain(PROM.CONNECTIONS_ACTIVE);
    const alertExprs =
      alerts.map((rule) => rule.expr).join('\n') +
      rules
        .filter((rule) => !isAlertingRule(rule))
        .map((rule) => rule.expr)
        .join('\n');
    for (const reason of dropReasonsOfKind('filtering')) expect(alertExprs).not.toContain(reason);
    expect(Object.values(DROP_REASONS).every((info) => ['filtering', 'churn', 'loss'].includes(info.kind))).toBe(true);
  });

  test("the live run's compressed timing divides every duration and keeps the rules valid", () => {
    const fast = compressedTiming(30, 5);
    expect(fast).toMatchObject({
      window: '20s',
      baseline: '12m',
      divergenceFor: '10s',
      churnFor: '20s',
      absentFor: '20s',
      minUnits: 5,
    });
    expect(buildRuleGroups(undefined, fast).flatMap((group) => group.rules).length).toBe(
      buildRuleGroups(undefined, PRODUCTION_TIMING).flatMap((group) => group.rules).length,
    );
    expect(() => compressedTiming(7, 5)).toThrow(/whole seconds/);
  });

  test("the README's table of measured loss cases is the one the promtool tests check", () => {
    for (const lossCase of LOSS_CASES) {
      const row = readme.split('\n').find((line) => line.startsWith(`| \`${lossCase.kind}\``));
      expect({ kind: lossCase.kind, row }).toEqual({
        kind: lossCase.kind,
        row: expect.stringContaining(`| ${lossCase.fires.map(describeFiredAlert).join(', ')} |`),
      });
    }
    for (const [alert, minutes] of Object.entries(STATED_DELAY_MINUTES))
      expect(readme).toMatch(new RegExp(`${alert}[^.]*within[^.]*\\b${minutes}\\b`));
  });

  test('the shipped rules file links each alert to its own RUNBOOK.md section, offline (a path from the rules file)', () => {
    expect(committedRules.map((rule) => rule.alert).sort()).toEqual(alerts.map((rule) => rule.alert).sort());
    for (const rule of committedRules) {
      const [file, anchor] = rule.annotations!.runbook_url.split('#');
      expect({
        alert: rule.alert,
        file: path.resolve(path.dirname(path.join(ROOT, RULES_PATH)), file),
        anchor,
      }).toEqual({
        alert: rule.alert,
        file: RUNBOOK,
        anchor: rule.alert!.toLowerCase(),
      });
      expect(anchors.has(anchor)).toBe(true);
    }
  });

  test('RUNBOOK.md ships in the package', () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { files: string[] };
    expect(pkg.files).toContain('RUNBOOK.md');
  });

  test('the runbook base URL: an option, else package.json repository or homepage, else the relative path', () => {
    const base = 'https://wiki.example/ops/RUNBOOK.md';
    const custom = buildRuleGroups(base)
      .flatMap((group) => group.rules)
      .filter(isAlertingRule);
    expect(custom.map((rule) => rule.annotations.runbook_url)).toEqual(
      alerts.map((rule) => `${base}#${rule.alert.toLowerCase()}`),
    );
    // The promtool tests expect the annotations the rules carry, so both files take the option.
    for (const file of generatedFiles({ runbookBaseUrl: base }).filter(
      (generated) => generated.path !== DASHBOARD_PATH,
    )) {
      const urls = [...file.content.matchAll(/runbook_url: '?([^'\n]+)'?$/gm)].map((match) => match[1]);
      expect(urls.length).toBeGreaterThanOrEqual(alerts.length);
      expect(urls.filter((url) => !url.startsWith(`${base}#`))).toEqual([]);
      expect(urls).toContain(`${base}#twentysseworkflowlossaboveui`);
    }

    expect(defaultRunbookBaseUrl({})).toBe(RUNBOOK_RELATIVE_TO_RULES);
    expect(defaultRunbookBaseUrl({ repository: { url: 'git+https://github.com/acme/twenty-sse.git' } })).toBe(
      'https://github.com/acme/twenty-sse/blob/HEAD/RUNBOOK.md',
    );
    expect(defaultRunbookBaseUrl({ repository: 'github:acme/twenty-sse' })).toBe(
      'https://github.com/acme/twenty-sse/blob/HEAD/RUNBOOK.md',
    );
    expect(defaultRunbookBaseUrl({ repository: 'acme/twenty-sse', homepage: 'https://docs.example' })).toBe(
      'https://github.com/acme/twenty-sse/blob/HEAD/RUNBOOK.md',
    );
    expect(defaultRunbookBaseUrl({ homepage: 'https://docs.example/twenty-sse/#readme' })).toBe(
      'https://docs.example/twenty-sse/RUNBOOK.md',
    );
  });

  test('the runbook explains every drop reason', () => {
    for (const reason of DROP_REASON_NAMES) expect(runbook).toContain(`\`${reason}\``);
  });
});

function findPromtool(): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    const candidate = path.join(dir, 'promtool');
    if (dir !== '' && fs.existsSync(candidate)) return candidate;
  }
  return undefined;
}

const promtool = findPromtool();
const describePromtool = promtool === undefined ? describe.skip : describe;

describePromtool(
  promtool === undefined ? 'promtool (SKIPPED: promtool not on PATH; apt-get install prometheus)' : 'promtool',
  () => {
    const run = (...args: string[]) =>
      execFileSync(promtool as string, args, { cwd: PROMETHEUS_DIR, encoding: 'utf8', stdio: 'pipe' });

    test('check rules (with lint)', () => {
      expect(run('check', 'rules', '--lint-fatal', 'rules/twenty-sse.rules.yml')).toMatch(/SUCCESS: \d+ rules found/);
    });

    test.each(['prometheus.yml', 'prometheus.compose.yml'])('check config %s', (file) => {
      expect(run('check', 'config', file)).toMatch(/SUCCESS/);
    });

    test('test rules', () => {
      expect(run('test', 'rules', 'tests/twenty-sse.rules.test.yml')).toMatch(/SUCCESS/);
    });
  },
);
