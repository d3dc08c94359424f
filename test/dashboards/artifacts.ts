/**
 * The dashboard and the rule files as data: every query they hold, with where it came
 * from, for the contract check and the end-to-end test.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseYaml, type Yaml } from './yaml.js';

export const DASHBOARDS = fileURLToPath(new URL('../../dashboards/', import.meta.url));
export const DASHBOARD_FILE = `${DASHBOARDS}grafana/loopwatch.json`;
export const RULES_FILE = `${DASHBOARDS}prometheus/loopwatch.rules.yml`;
export const RULES_TEST_FILE = `${DASHBOARDS}prometheus/loopwatch.rules.test.yml`;

export interface PanelTarget {
  panel: string;
  panelType: string;
  refId: string;
  expr: string;
  /** Grafana runs it as an instant query (tables), else over the time range. */
  instant: boolean;
  format: string;
}

export interface Variable {
  name: string;
  type: string;
  query: string;
  allValue?: string;
}

interface RawVariable {
  name: string;
  type: string;
  /** A string, or { query } as newer Grafana versions write it. */
  query: string | { query: string };
  allValue?: string;
}

export interface Dashboard {
  title: string;
  __inputs?: { name: string; type: string; pluginId: string }[];
  panels: Panel[];
  templating: { list: RawVariable[] };
}

interface Panel {
  id: number;
  type: string;
  title: string;
  description?: string;
  panels?: Panel[];
  targets?: { refId: string; expr: string; instant?: boolean; format?: string }[];
}

export function loadDashboard(): Dashboard {
  return JSON.parse(readFileSync(DASHBOARD_FILE, 'utf8')) as Dashboard;
}

/** Panels in display order, rows' collapsed children included; rows themselves left out. */
export function panels(d: Dashboard = loadDashboard()): Panel[] {
  const out: Panel[] = [];
  const walk = (list: Panel[]): void => {
    for (const p of list) {
      if (p.type !== 'row') out.push(p);
      if (p.panels) walk(p.panels);
    }
  };
  walk(d.panels);
  return out;
}

export function panelTargets(d: Dashboard = loadDashboard()): PanelTarget[] {
  return panels(d).flatMap((p) =>
    (p.targets ?? []).map((t) => ({
      panel: p.title,
      panelType: p.type,
      refId: t.refId,
      expr: t.expr,
      instant: t.instant === true,
      format: t.format ?? 'time_series',
    })),
  );
}

export function variables(d: Dashboard = loadDashboard()): Variable[] {
  return d.templating.list.map((v) => ({
    name: v.name,
    type: v.type,
    query: typeof v.query === 'string' ? v.query : v.query.query,
    ...(v.allValue !== undefined ? { allValue: v.allValue } : {}),
  }));
}

export interface Rule {
  group: string;
  record?: string;
  alert?: string;
  expr: string;
  for?: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

function asRecord(v: Yaml | undefined, what: string): Record<string, string> {
  if (v === undefined || v === '') return {};
  if (typeof v !== 'object' || Array.isArray(v)) throw new Error(`${what} must be a mapping`);
  const out: Record<string, string> = {};
  for (const [k, val] of Object.entries(v)) {
    if (typeof val !== 'string') throw new Error(`${what}.${k} must be a string`);
    out[k] = val;
  }
  return out;
}

export function loadRules(file = RULES_FILE): Rule[] {
  const doc = parseYaml(readFileSync(file, 'utf8')) as { groups?: { name: string; rules: Record<string, Yaml>[] }[] };
  if (!Array.isArray(doc.groups)) throw new Error(`${file}: no groups`);
  return doc.groups.flatMap((g) =>
    g.rules.map((r) => {
      const rule: Rule = {
        group: g.name,
        expr: String(r.expr),
        labels: asRecord(r.labels, 'labels'),
        annotations: asRecord(r.annotations, 'annotations'),
      };
      if (typeof r.record === 'string') rule.record = r.record;
      if (typeof r.alert === 'string') rule.alert = r.alert;
      if (typeof r.for === 'string') rule.for = r.for;
      return rule;
    }),
  );
}

/** Queries run by annotation templates: `{{ with printf "<query>" ... | query }}`, with %q/%s as "x". */
export function templateQueries(rule: Rule): string[] {
  const out: string[] = [];
  for (const text of Object.values(rule.annotations)) {
    for (const m of text.matchAll(/printf\s+"((?:[^"\\]|\\.)*)"[^}]*\|\s*query/g)) {
      out.push(m[1].replace(/\\"/g, '"').replace(/%[qs]/g, '"x"'));
    }
  }
  return out;
}

export interface AlertTestCase {
  test: string;
  alertname: string;
  evalTime: string;
  firing: number;
}

/** The alert_rule_test cases of the promtool test file, flattened. */
export function loadAlertTests(file = RULES_TEST_FILE): AlertTestCase[] {
  const doc = parseYaml(readFileSync(file, 'utf8')) as { tests?: Record<string, Yaml>[] };
  if (!Array.isArray(doc.tests)) throw new Error(`${file}: no tests`);
  return doc.tests.flatMap((t) => {
    const cases = (t.alert_rule_test ?? []) as Record<string, Yaml>[];
    return cases.map((c) => ({
      test: String(t.name),
      alertname: String(c.alertname),
      evalTime: String(c.eval_time),
      firing: Array.isArray(c.exp_alerts) ? c.exp_alerts.length : 0,
    }));
  });
}
