/**
 * The dashboard and the rules read only what loopwatch exports: every expression is parsed,
 * and each metric name, matcher label and grouping label is checked against the contract in
 * src/metrics/names.ts (recording-rule names are allowed too).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ALL_METRICS, BLOCK_BUCKETS_S, type MetricName } from '../../src/metrics/names.js';
import { loadDashboard, loadRules, panels, panelTargets, templateQueries, variables } from './artifacts.js';
import { references, variableQuery } from './promql.js';

/** Labels Prometheus adds to every scraped series. */
const TARGET_LABELS = ['job', 'instance'];

/** Series names a metric exposes, with the labels each may be matched on. */
function seriesOf(m: MetricName): [string, string[]][] {
  const labels = [...m.labels, ...TARGET_LABELS];
  if (m.type !== 'histogram') return [[m.prometheus, labels]];
  return [
    [`${m.prometheus}_bucket`, [...labels, 'le']],
    [`${m.prometheus}_sum`, labels],
    [`${m.prometheus}_count`, labels],
  ];
}

const CONTRACT = new Map(ALL_METRICS.flatMap(seriesOf));
const ALL_LABELS = new Set([...CONTRACT.values()].flat());
const RULES = loadRules();
const RECORDED = new Set(RULES.flatMap((r) => (r.record ? [r.record] : [])));

/** What is wrong with one expression against the contract; empty when nothing is. */
function violations(expr: string, recorded: ReadonlySet<string> = RECORDED): string[] {
  const problems: string[] = [];
  let refs;
  try {
    refs = references(expr);
  } catch (err) {
    return [(err as Error).message];
  }
  for (const s of refs.selectors) {
    if (s.metric === null) {
      problems.push('a selector without a metric name');
      continue;
    }
    const allowed = CONTRACT.get(s.metric) ?? (recorded.has(s.metric) ? [...ALL_LABELS] : null);
    if (!allowed) {
      problems.push(`unknown metric ${s.metric}`);
      continue;
    }
    for (const l of s.labels) if (!allowed.includes(l)) problems.push(`${s.metric} has no label ${l}`);
  }
  for (const l of refs.groupingLabels) if (!ALL_LABELS.has(l)) problems.push(`no metric has the label ${l}`);
  if (refs.selectors.length === 0) problems.push('reads no metric');
  return problems;
}

describe('the contract check', () => {
  it('accepts contract names, histogram series, recording rules and Grafana variables', () => {
    expect(violations('histogram_quantile(0.99, sum by (le) (rate(loopwatch_eventloop_delay_seconds_bucket{job=~"$job"}[$__rate_interval])))')).toEqual([]);
    expect(violations('sum without (thread) (loopwatch_blocked_seconds_total{route=~"${route}",instance="a"}) > 0')).toEqual([]);
    expect(violations('nodejs_eventloop_time_seconds_total{nodejs_eventloop_state="active"} offset 5m')).toEqual([]);
    expect(violations('instance:loopwatch_eventloop_delay_seconds:p99_rate1m > 0.2')).toEqual([]);
  });

  it('rejects names, labels and functions outside it', () => {
    expect(violations('nodejs_eventloop_lag_seconds > 0.1')).toEqual(['unknown metric nodejs_eventloop_lag_seconds']);
    expect(violations('rate(loopwatch_block_duration_seconds_total[1m])')).toEqual(['unknown metric loopwatch_block_duration_seconds_total']);
    expect(violations('loopwatch_block_ongoing_seconds{route="/x"}')).toEqual(['loopwatch_block_ongoing_seconds has no label route']);
    expect(violations('loopwatch_blocked_seconds_total{le="1"}')).toEqual(['loopwatch_blocked_seconds_total has no label le']);
    expect(violations('sum by (pod) (loopwatch_block_ongoing_seconds)')).toEqual(['no metric has the label pod']);
    expect(violations('rates(loopwatch_blocked_seconds_total[1m])')[0]).toMatch(/unknown function rates/);
    expect(violations('{__name__=~"loopwatch_.*"}')).toEqual(['a selector without a metric name']);
    expect(violations('vector(1)')).toEqual(['reads no metric']);
  });
});

describe('dashboards/grafana/loopwatch.json', () => {
  const targets = panelTargets();

  it('has panel queries', () => {
    expect(targets.length).toBeGreaterThanOrEqual(8);
  });

  it.each(targets.map((t) => [`${t.panel} ${t.refId}`, t.expr]))('%s reads only contract metrics', (_name, expr) => {
    expect(violations(expr)).toEqual([]);
  });

  it.each(variables().filter((v) => v.type === 'query').map((v) => [v.name, v.query]))('variable $%s reads only contract metrics', (_name, query) => {
    const { expr, label } = variableQuery(query);
    expect(violations(expr)).toEqual([]);
    expect(label === null || ALL_LABELS.has(label)).toBe(true);
  });

  it('is templated: every selector is filtered by $job and $instance, block series by $route too', () => {
    for (const t of targets) {
      for (const s of references(t.expr).selectors) {
        const where = `${t.panel} ${t.refId}: ${s.metric}`;
        expect(s.labels, where).toEqual(expect.arrayContaining(['job', 'instance']));
        const m = [...CONTRACT.entries()].find(([name]) => name === s.metric);
        if (m?.[1].includes('route')) expect(s.labels, where).toContain('route');
      }
      expect(t.expr).toMatch(/=~"\$job"/);
    }
  });

  it('has the panels of the issue, each with a description of what it shows and what to do', () => {
    const list = panels();
    expect(list.map((p) => `${p.type}: ${p.title}`)).toEqual([
      'timeseries: Loop delay p50 / p90 / p99 per instance',
      'timeseries: Fleet p99 loop delay (histogram)',
      'timeseries: Event-loop utilization',
      'timeseries: Fraction of time blocked',
      'timeseries: Blocked time by cause',
      'timeseries: Blocks per minute by route',
      'stat: Ongoing block',
      'heatmap: Block duration heatmap',
      'table: Top culprits',
    ]);
    for (const p of list) expect(p.description?.length ?? 0, p.title).toBeGreaterThan(200);
  });

  it('is importable: a Prometheus input, used as the default of $datasource, which every panel uses', () => {
    const d = loadDashboard();
    expect(d.__inputs).toEqual([expect.objectContaining({ name: 'DS_PROMETHEUS', type: 'datasource', pluginId: 'prometheus' })]);
    const raw = JSON.parse(readFileSync(new URL('../../dashboards/grafana/loopwatch.json', import.meta.url), 'utf8')) as {
      templating: { list: { name: string; current?: { value?: string } }[] };
      panels: { type: string; datasource?: { uid: string }; targets?: { datasource?: { uid: string } }[] }[];
    };
    const ds = raw.templating.list.find((v) => v.name === 'datasource');
    expect(ds?.current?.value).toBe('${DS_PROMETHEUS}');
    expect(variables().map((v) => v.name)).toEqual(['datasource', 'job', 'instance', 'route']);
    for (const p of raw.panels.filter((x) => x.type !== 'row')) {
      expect(p.datasource?.uid).toBe('${datasource}');
      for (const t of p.targets ?? []) expect(t.datasource?.uid).toBe('${datasource}');
    }
  });
});

describe('dashboards/prometheus/loopwatch.rules.yml', () => {
  it.each(RULES.map((r) => [r.record ?? r.alert, r.expr]))('%s reads only contract metrics and recording rules', (_name, expr) => {
    expect(violations(expr)).toEqual([]);
  });

  it('the long-block threshold is a bucket bound of loopwatch_block_duration_seconds', () => {
    const rule = RULES.find((r) => r.record === 'route_culprit:loopwatch_blocks_over_1s:total')!;
    const le = /le=~"([^"]+)"/.exec(rule.expr)![1];
    // The regex lists one bound as the exporters write it ("1") and as Prometheus 3 does ("1.0").
    const bounds = new Set(le.replace(/\\\\/g, '').split('|').map(Number));
    expect([...bounds]).toEqual([1]);
    expect(BLOCK_BUCKETS_S).toContain(1);
  });

  it('annotation templates query only contract metrics and recording rules', () => {
    const queries = RULES.flatMap(templateQueries);
    expect(queries.length).toBeGreaterThan(0);
    for (const q of queries) expect(violations(q), q).toEqual([]);
  });
});
