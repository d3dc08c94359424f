/**
 * End to end: the demo service under `--require loopwatch/register` with the standalone
 * /metrics endpoint, a real Prometheus scraping it every second with our rules, blocking
 * traffic from outside, then every query of the Grafana dashboard run through Prometheus's
 * HTTP API (each must return data), and the long-block and stuck-loop alerts seen firing.
 * Both processes are stopped by their PIDs at the end, and on failure in afterAll.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setTimeout as sleep } from 'node:timers/promises';
import { assertBuilt, type Child, cleanup, spawnFixture } from '../helpers/child.js';
import { request, startRequest } from '../helpers/http.js';
import { loadDashboard, panelTargets, RULES_FILE, variables } from './artifacts.js';
import { freePort, pollUntil } from '../helpers/poll.js';
import { alive, type Alert, Prometheus, type Sample } from './prometheus.js';
import { variableQuery } from './promql.js';
import { tool } from './tools.js';

const prometheusBin = tool('prometheus');
const JOB = 'loopwatch-demo';
const INTERVAL_S = 1;
/** Grafana's $__rate_interval is at least 4 scrape intervals; a little more rides out a late scrape on a busy machine. */
const RATE_INTERVAL = '10s';
const LONG_BLOCK_MS = 1_500;
/**
 * Past the stuck-loop alert's 10 s with room to spare for a late scrape or evaluation on a
 * busy machine (the service's cap). The test does not wait for it to end: it stops as soon
 * as the alerts fire.
 */
const STUCK_BLOCK_MS = 30_000;
const CULPRIT = 'waitForLock (examples/service.cjs)';
const ROUTES = ['/cpu', '/json', '/hash', '/file', '/after-await', '/timer', '/ok'];

/** Grafana escapes a selected value for use inside a regex matcher ("=~"), then it sits in a PromQL string. */
function regexValue(v: string): string {
  return v.replace(/[.*+?^${}()|[\]\\]/g, '\\\\$&');
}

function substitute(expr: string, vars: Record<string, string>): string {
  return expr.replace(/\$\{(\w+)\}|\$(\w+)/g, (all, a: string | undefined, b: string | undefined) => {
    const name = (a ?? b)!;
    if (!(name in vars)) throw new Error(`no value for $${name} in ${expr}`);
    return vars[name];
  });
}

const finite = (v: string): boolean => Number.isFinite(Number(v));

function firing(alerts: Alert[], name: string, labels: Record<string, string> = {}): Alert | undefined {
  return alerts.find((a) => a.labels.alertname === name && a.state === 'firing' && Object.entries(labels).every(([k, v]) => a.labels[k] === v));
}

describe.skipIf(prometheusBin.skip)('dashboards against a real Prometheus', () => {
  let service: Child | undefined;
  let prometheus: Prometheus | undefined;

  beforeAll(() => assertBuilt());

  afterAll(async () => {
    await cleanup();
    await prometheus?.stop();
  });

  it('every panel query returns data, and the long-block and stuck-loop alerts fire', { timeout: 110_000 }, async () => {
    const t0 = performance.now();
    const metricsPort = await freePort();
    service = spawnFixture('../../examples/service.cjs', {
      env: { LOOPWATCH_PROMETHEUS_PORT: String(metricsPort), LOOPWATCH_PROMETHEUS_HOST: '127.0.0.1', PORT: '0' },
    });
    const listening = await service.waitForStdout(/^listening \d+$/, 15_000);
    const port = Number(listening.text.split(' ')[1]);
    const instance = `127.0.0.1:${metricsPort}`;

    prometheus = await Prometheus.start({
      binary: prometheusBin.require(), job: JOB, targets: [instance], ruleFiles: [RULES_FILE], intervalSeconds: INTERVAL_S,
    });
    const prom = prometheus;
    const startedAt = Date.now() / 1000;
    const diagnose = (): string => `${prom.describe()}\n${service!.describe()}`;

    // The endpoint is scraped, and loopwatch's delay histogram is there.
    await pollUntil(async () => (await prom.query(`up{job="${JOB}"} == 1 and on (instance) count by (instance) (loopwatch_eventloop_delay_seconds_count)`)).length === 1,
      { timeoutMs: 20_000, what: `Prometheus scraping loopwatch's metrics from ${instance}` }, diagnose);

    // Blocking traffic, from this process: three rounds over the demo's routes, then one block over 1 s.
    for (let round = 0; round < 3; round++) {
      for (const path of ROUTES) {
        const res = await request(port, path);
        expect(res.status, `GET ${path}`).toBeLessThan(400);
        await sleep(path === '/timer' ? 300 : 100);
      }
    }
    expect((await request(port, `/block?ms=${LONG_BLOCK_MS}`)).status).toBe(200);

    // A block that lasts past the stuck-loop threshold; its response comes only after it.
    const stuckAt = performance.now();
    const stuck = startRequest(port, `/block?ms=${STUCK_BLOCK_MS}`);
    let alerts: Alert[] = [];
    const firedAt: Record<string, number> = {};
    await pollUntil(async () => {
      alerts = await prom.alerts();
      const want = { LoopwatchLongBlock: { instance, culprit: CULPRIT }, LoopwatchLoopStuck: { instance } };
      for (const [name, labels] of Object.entries(want)) {
        if (firing(alerts, name, labels) && firedAt[name] === undefined) firedAt[name] = performance.now() - stuckAt;
      }
      return firedAt.LoopwatchLongBlock !== undefined && firedAt.LoopwatchLoopStuck !== undefined;
    }, { timeoutMs: STUCK_BLOCK_MS, what: 'LoopwatchLongBlock and LoopwatchLoopStuck firing' }, () => `${JSON.stringify(alerts, null, 1)}\n${diagnose()}`);

    const longBlock = firing(alerts, 'LoopwatchLongBlock', { culprit: CULPRIT })!;
    expect(longBlock.labels).toMatchObject({ job: JOB, instance, thread: 'main', route: 'unmatched', severity: 'warning' });
    expect(longBlock.annotations.description).toContain(`${CULPRIT} blocked the main thread of ${instance}`);
    const stuckAlert = firing(alerts, 'LoopwatchLoopStuck', { instance })!;
    expect(stuckAlert.labels).toMatchObject({ job: JOB, instance, thread: 'main', severity: 'critical' });
    expect(Number(stuckAlert.value)).toBeGreaterThanOrEqual(10);
    // Not before the block reached 10 s, and soon after: a scrape and an evaluation (1 s each) later, plus load.
    expect(firedAt.LoopwatchLoopStuck).toBeGreaterThan(9_000);
    expect(firedAt.LoopwatchLoopStuck).toBeLessThan(STUCK_BLOCK_MS);
    console.log(`[e2e] LoopwatchLoopStuck firing ${(firedAt.LoopwatchLoopStuck / 1000).toFixed(1)} s after the stuck block began`);

    // The dashboard's variables, resolved through Prometheus as Grafana would.
    const now = Date.now() / 1000;
    const vars: Record<string, string> = {};
    const chosen: Record<string, string> = { job: JOB, instance };
    for (const v of variables()) {
      if (v.type !== 'query') continue;
      const { expr, label } = variableQuery(v.query);
      const found = await prom.series(substitute(expr, vars), startedAt, now);
      const values = [...new Set(found.map((s) => s[label!]))];
      expect(values.length, `values of $${v.name} from ${v.query}`).toBeGreaterThan(0);
      if (chosen[v.name]) {
        expect(values).toContain(chosen[v.name]);
        vars[v.name] = regexValue(chosen[v.name]);
      } else {
        vars[v.name] = v.allValue ?? '.*';
      }
      if (v.name === 'route') expect(values).toEqual(expect.arrayContaining(['unmatched', 'nightly-rollup']));
    }
    vars.__rate_interval = RATE_INTERVAL;
    vars.__interval = `${INTERVAL_S}s`;
    vars.__range = `${Math.ceil(now - startedAt) + 1}s`;

    // Every panel query, as Grafana runs it (instant for tables, else over the range).
    const results = new Map<string, Sample[]>();
    const targets = panelTargets(loadDashboard());
    for (const t of targets) {
      const expr = substitute(t.expr, vars);
      const data = t.instant ? await prom.query(expr, now) : await prom.queryRange(expr, startedAt, now, INTERVAL_S);
      const values = data.flatMap((s) => (s.values ?? (s.value ? [s.value] : [])).map((v) => v[1]));
      expect(values.filter(finite).length, `${t.panel} ${t.refId}: ${expr} returned no data\n${diagnose()}`).toBeGreaterThan(0);
      results.set(`${t.panel}/${t.refId}`, data);
    }

    // What the panels show is what happened.
    const labelValues = (key: string, label: string): string[] => (results.get(key) ?? []).map((s) => s.metric[label]);
    expect(labelValues('Blocks per minute by route/A', 'route')).toEqual(expect.arrayContaining(['unmatched', 'nightly-rollup']));
    const culprits = labelValues('Top culprits/B', 'culprit');
    // Functions whose blocks are plain JavaScript loops, so the culprit rule names them on any machine.
    for (const fn of ['computeDiscounts', 'rollupDailyTotals', 'waitForLock']) {
      expect(culprits, `a Top culprits row for ${fn}: ${culprits.join(', ')}`).toContain(`${fn} (examples/service.cjs)`);
    }
    const worst = (results.get('Top culprits/C') ?? []).find((s) => s.metric.culprit === CULPRIT);
    expect(Number(worst?.value?.[1])).toBeGreaterThan(1);
    // The stat at the dashboard's "now" shows the block still going on, past 10 s (the alert saw it).
    const stat = targets.find((t) => t.panel === 'Ongoing block')!;
    const ongoing = await prom.query(substitute(stat.expr, vars), now);
    expect(ongoing.map((s) => Number(s.value?.[1]))).toEqual([expect.any(Number)]);
    expect(Number(ongoing[0].value?.[1])).toBeGreaterThanOrEqual(10);
    expect(labelValues('Block duration heatmap/A', 'le').length).toBeGreaterThan(3);

    // Stop both by their PIDs and see them gone.
    const pids = { service: service.proc.pid!, prometheus: prom.pid };
    stuck.req.destroy();
    await service.kill();
    await prom.stop();
    expect(alive(pids.service)).toBe(false);
    expect(alive(pids.prometheus)).toBe(false);
    expect(prom.exit).toEqual({ code: 0, signal: null });
    console.log(`[e2e] ${targets.length} panel queries with data; whole run ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  });
});
