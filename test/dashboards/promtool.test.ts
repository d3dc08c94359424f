/**
 * The rules through promtool: `check rules`, `test rules`, and proof that the unit tests
 * would catch a broken rule (each alert, made to never fire or to fire too eagerly, must
 * fail them). Plus the structure promtool does not check: every alert has a firing and a
 * silent case, annotations, and a runbook anchor that exists in the README.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/child.js';
import { loadAlertTests, loadRules, RULES_FILE, RULES_TEST_FILE } from './artifacts.js';
import { tool } from './tools.js';

const promtool = tool('promtool');
const RULES = loadRules();
const ALERTS = RULES.filter((r) => r.alert).map((r) => r.alert!);

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens. */
function anchors(markdown: string): Set<string> {
  const out = new Set<string>();
  for (const m of markdown.matchAll(/^#{1,6}\s+(.+)$/gm)) {
    out.add(m[1].trim().toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, '').replace(/\s/g, '-'));
  }
  return out;
}

describe('alert rules: structure', () => {
  it('has the alerts of the contract (the four of the dashboards issue and LoopwatchStarved, issue 12)', () => {
    expect(ALERTS).toEqual(['LoopwatchLoopLagHigh', 'LoopwatchLongBlock', 'LoopwatchLoopStuck', 'LoopwatchBlockedTimeHigh', 'LoopwatchStarved']);
  });

  it.each(ALERTS)('%s has a severity, summary, description and a runbook_url whose anchor is a heading of docs/dashboards.md', (name) => {
    const rule = RULES.find((r) => r.alert === name)!;
    expect(rule.labels.severity).toMatch(/^(warning|critical)$/);
    expect(rule.annotations.summary).toMatch(/\{\{ \$labels\.instance \}\}/);
    expect(rule.annotations.description.length).toBeGreaterThan(80);
    const url = rule.annotations.runbook_url;
    expect(url).toMatch(/^docs\/dashboards\.md#runbook-/);
    const runbooks = readFileSync(join(ROOT, 'docs', 'dashboards.md'), 'utf8');
    expect([...anchors(runbooks)]).toContain(url.split('#')[1]);
  });

  it('names the route and culprit where the alert\'s labels carry them', () => {
    const longBlock = RULES.find((r) => r.alert === 'LoopwatchLongBlock')!;
    expect(longBlock.annotations.description).toContain('{{ $labels.culprit }}');
    expect(longBlock.annotations.description).toContain('{{ $labels.route }}');
  });

  it('the promtool tests have, for every alert, a case where it fires and one where it stays silent', () => {
    const cases = loadAlertTests();
    for (const name of ALERTS) {
      const mine = cases.filter((c) => c.alertname === name);
      expect(mine.some((c) => c.firing > 0), `${name} fires somewhere`).toBe(true);
      expect(mine.some((c) => c.firing === 0), `${name} is silent somewhere`).toBe(true);
    }
    for (const c of cases) expect(ALERTS, `test "${c.test}" names an alert that exists`).toContain(c.alertname);
  });
});

describe.skipIf(promtool.skip)('alert rules: promtool', () => {
  const dirs: string[] = [];
  afterAll(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  /** Runs `promtool test rules` on a copy of the rules with `edit` applied. */
  function testMutated(edit: (rules: string) => string): { status: number | null; output: string } {
    const dir = mkdtempSync(join(tmpdir(), 'loopwatch-rules-'));
    dirs.push(dir);
    const original = readFileSync(RULES_FILE, 'utf8');
    const changed = edit(original);
    expect(changed, 'the mutation changed the rules').not.toBe(original);
    writeFileSync(join(dir, 'loopwatch.rules.yml'), changed);
    copyFileSync(RULES_TEST_FILE, join(dir, 'loopwatch.rules.test.yml'));
    const r = spawnSync(promtool.require(), ['test', 'rules', 'loopwatch.rules.test.yml'], { cwd: dir, encoding: 'utf8', timeout: 60_000 });
    return { status: r.status, output: `${r.stdout}${r.stderr}` };
  }

  it('promtool check rules accepts the rules', () => {
    const out = execFileSync(promtool.require(), ['check', 'rules', RULES_FILE], { encoding: 'utf8' });
    expect(out).toMatch(new RegExp(`SUCCESS: ${RULES.length} rules found`));
  });

  it('promtool test rules passes', () => {
    const r = spawnSync(promtool.require(), ['test', 'rules', 'loopwatch.rules.test.yml'], { cwd: join(ROOT, 'dashboards/prometheus'), encoding: 'utf8', timeout: 60_000 });
    expect(`${r.stdout}${r.stderr}`).toMatch(/SUCCESS/);
    expect(r.status).toBe(0);
  });

  /** Per alert: an edit that silences it and one that makes it fire where it must not. */
  const mutations: [string, string, (s: string) => string][] = [
    ['LoopwatchLoopLagHigh', 'never fires', (s) => s.replace('p99_rate1m > 0.2', 'p99_rate1m > 1000')],
    ['LoopwatchLoopLagHigh', 'fires on a healthy instance', (s) => s.replace('p99_rate1m > 0.2', 'p99_rate1m > 0.005')],
    ['LoopwatchLoopLagHigh', 'fires without waiting 5 min', (s) => s.replace('p99_rate1m > 0.2\n        for: 5m', 'p99_rate1m > 0.2\n        for: 1m')],
    ['LoopwatchLongBlock', 'never fires', (s) => s.replace('[5m]) > 0\n', '[5m]) > 1000\n').replace('total > 0 unless', 'total > 1000 unless')],
    ['LoopwatchLongBlock', 'misses the first block of a new series', (s) => s.replace(/\n\s*or\n\s*\(route_culprit[^\n]*\n/, '\n')],
    ['LoopwatchLongBlock', 'fires on short blocks', (s) => s.replace('[5m]) > 0\n', '[5m]) >= 0\n')],
    ['LoopwatchLoopStuck', 'never fires', (s) => s.replace('(loopwatch_block_ongoing_seconds) >= 10', '(loopwatch_block_ongoing_seconds) >= 1000')],
    ['LoopwatchLoopStuck', 'fires on a 9 s block', (s) => s.replace('(loopwatch_block_ongoing_seconds) >= 10', '(loopwatch_block_ongoing_seconds) >= 5')],
    ['LoopwatchBlockedTimeHigh', 'never fires', (s) => s.replace('ratio_rate1m{cause!="starved"}) > 0.1\n', 'ratio_rate1m{cause!="starved"}) > 10\n')],
    ['LoopwatchBlockedTimeHigh', 'fires at 5%', (s) => s.replace('ratio_rate1m{cause!="starved"}) > 0.1\n', 'ratio_rate1m{cause!="starved"}) > 0.01\n')],
    ['LoopwatchBlockedTimeHigh', 'counts starved time', (s) => s.replace('ratio_rate1m{cause!="starved"}) > 0.1\n', 'ratio_rate1m) > 0.1\n')],
    ['LoopwatchLongBlock', 'counts starved blocks', (s) => s.replaceAll(',cause!="starved"}', '}').replace('_count{cause!="starved"}', '_count')],
    ['LoopwatchStarved', 'never fires', (s) => s.replace('{cause="starved"} > 0.05', '{cause="starved"} > 10')],
    ['LoopwatchStarved', 'fires on 3 %', (s) => s.replace('{cause="starved"} > 0.05', '{cause="starved"} > 0.01')],
    ['LoopwatchStarved', 'counts code blocks', (s) => s.replace('{cause="starved"} > 0.05', ' > 0.05')],
  ];

  it.each(mutations.map(([alert, what, edit]) => [alert, what, edit] as const))('the promtool tests fail when %s %s', (_alert, _what, edit) => {
    const r = testMutated(edit);
    expect(r.output).toMatch(/FAILED/);
    expect(r.status).not.toBe(0);
  });
});
