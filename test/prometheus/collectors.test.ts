/**
 * loopwatch/prometheus in a real service: a child process runs the agent (--require) and a
 * prom-client registry (with prom-client's default metrics) served over node:http; this
 * process scrapes it over HTTP and reads the exposition.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ALL_METRICS, BLOCK_DURATION, BLOCKED_TIME, OTHER_LABEL, UNMATCHED_ROUTE_LABEL } from '../../src/metrics/names.js';
import { assertBuilt, cleanup, spawnFixture } from '../helpers/child.js';
import { request } from '../helpers/http.js';
import { pollUntil } from '../helpers/poll.js';
import { type Family, parseExposition, samples, total } from './parse.js';

beforeAll(assertBuilt);
afterEach(cleanup);

async function scrape(port: number): Promise<Map<string, Family>> {
  const res = await request(port, '/metrics');
  expect(res.status, res.body).toBe(200);
  return parseExposition(res.body);
}

const HIST = BLOCK_DURATION.prometheus;
const COUNTER = BLOCKED_TIME.prometheus;

describe('loopwatch collectors in a prom-client registry', () => {
  it('every series of the contract, with its type and unit, next to collectDefaultMetrics()', async () => {
    const child = spawnFixture('prom-app.cjs');
    const port = await child.port();
    const families = await scrape(port);
    for (const m of ALL_METRICS) {
      const f = families.get(m.prometheus);
      expect(f, `${m.prometheus} missing; got ${[...families.keys()].join(', ')}`).toBeDefined();
      expect(f!.type, m.prometheus).toBe(m.type);
      expect(f!.help, m.prometheus).toBe(m.help);
      // Units in the names: seconds or a ratio, counters end in _total.
      expect(m.prometheus).toMatch(m.type === 'counter' ? /_seconds_total$/ : /_(seconds|ratio)$/);
      if (m.labels.length === 0 || m.prometheus === COUNTER || m.prometheus === HIST) continue;
      for (const s of f!.samples) expect(Object.keys(s.labels), m.prometheus).toEqual(expect.arrayContaining([...m.labels]));
    }
    // Values that must be there once the loop has turned.
    const stats: Record<string, number> = {};
    for (const stat of ['min', 'max', 'mean', 'stddev', 'p50', 'p90', 'p99']) {
      const [s] = samples(families, `nodejs_eventloop_delay_${stat}_seconds`);
      expect(s.value, stat).toBeGreaterThanOrEqual(0);
      expect(s.value, stat).toBeLessThan(5);
      stats[stat] = s.value;
    }
    // A distribution: min <= p50 <= p90 <= p99 <= max, the mean between min and max.
    const order = [stats.min, stats.p50, stats.p90, stats.p99, stats.max];
    expect(order, JSON.stringify(stats)).toEqual([...order].sort((a, b) => a - b));
    expect(stats.mean, JSON.stringify(stats)).toBeGreaterThanOrEqual(stats.min);
    expect(stats.mean, JSON.stringify(stats)).toBeLessThanOrEqual(stats.max);
    const [util] = samples(families, 'nodejs_eventloop_utilization_ratio');
    expect(util.value).toBeGreaterThan(0);
    expect(util.value).toBeLessThanOrEqual(1);
    expect(total(families, 'nodejs_eventloop_time_seconds_total', { nodejs_eventloop_state: 'active' })).toBeGreaterThan(0);
    expect(total(families, 'nodejs_eventloop_time_seconds_total', { nodejs_eventloop_state: 'idle' })).toBeGreaterThan(0);
    const buckets = samples(families, 'loopwatch_eventloop_delay_seconds_bucket');
    expect(buckets.map((b) => b.labels.le)).toEqual(['0.001', '0.002', '0.005', '0.01', '0.025', '0.05', '0.1', '0.25', '0.5', '1', '2.5', '5', '10', '+Inf']);
    for (let i = 1; i < buckets.length; i++) expect(buckets[i].value).toBeGreaterThanOrEqual(buckets[i - 1].value);
    expect(buckets.at(-1)!.value).toBe(total(families, 'loopwatch_eventloop_delay_seconds_count'));
    expect(samples(families, 'loopwatch_block_ongoing_seconds', { thread: 'main' })).toHaveLength(1);
    // prom-client's own loop series are there too, under their names.
    expect(families.get('nodejs_eventloop_lag_max_seconds')?.type).toBe('gauge');
    expect(families.get('process_cpu_seconds_total')?.type).toBe('counter');
  });

  it('a 300 ms block shows in the duration histogram and the blocked-seconds counter, with its route', async () => {
    const child = spawnFixture('prom-app.cjs');
    const port = await child.port();
    const route = '/users/:id';
    const before = await scrape(port);
    expect(samples(before, `${HIST}_count`, { route })).toHaveLength(0);

    expect((await request(port, `/block?ms=300&route=${encodeURIComponent(route)}`)).status).toBe(200);
    const after = await pollScrape(port, (f) => samples(f, `${HIST}_count`, { route }).length > 0, `a ${HIST} series for route ${route}`);

    const labels = { route, culprit: 'burnCpu (test/fixtures/prom-app.cjs)', thread: 'main' };
    expect(samples(after, `${HIST}_count`, labels).map((s) => s.value)).toEqual([1]);
    const sum = total(after, `${HIST}_sum`, labels);
    expect(sum).toBeGreaterThanOrEqual(0.29);
    expect(sum).toBeLessThan(0.6);
    const bucket = (le: string): number => total(after, `${HIST}_bucket`, { ...labels, le });
    expect(bucket('0.25')).toBe(0);
    expect(bucket('0.5') + bucket('1')).toBeGreaterThanOrEqual(1);
    expect(bucket('+Inf')).toBe(1);
    const blocked = total(after, COUNTER, { route, thread: 'main' });
    expect(blocked).toBeCloseTo(sum, 6);

    // The other route rules: no template → unmatched; a job → its name.
    await request(port, '/block?ms=120');
    await request(port, '/job?ms=120&name=nightly-report');
    const rules = await pollScrape(port, (f) => total(f, COUNTER, { route: 'nightly-report' }) > 0 && total(f, COUNTER, { route: UNMATCHED_ROUTE_LABEL }) > 0, 'unmatched and job routes');
    expect(total(rules, COUNTER, { route: UNMATCHED_ROUTE_LABEL })).toBeGreaterThanOrEqual(0.11);
    expect(total(rules, COUNTER, { route: 'nightly-report' })).toBeGreaterThanOrEqual(0.11);
  });

  it('200 distinct routes produce at most N + 1 route label values (N = LOOPWATCH_METRICS_TOP_N)', async () => {
    const N = 5;
    const child = spawnFixture('prom-app.cjs', { env: { LOOPWATCH_METRICS_TOP_N: String(N), LOOPWATCH_THRESHOLD_MS: '20' } });
    const port = await child.port();
    expect((await request(port, '/many?n=200&ms=30&gap=25', 60_000)).status).toBe(200);
    // Wait until most blocks have been counted (all, unless the machine was too busy to see some).
    const families = await pollScrape(port, (f) => total(f, `${HIST}_count`) >= 180, '180 or more blocks counted');
    const routes = new Set(samples(families, COUNTER).map((s) => s.labels.route));
    const histRoutes = new Set(samples(families, `${HIST}_count`).map((s) => s.labels.route));
    expect(routes.size, [...routes].join(', ')).toBeLessThanOrEqual(N + 1);
    expect(histRoutes.size, [...histRoutes].join(', ')).toBeLessThanOrEqual(N + 1);
    expect(routes.has(OTHER_LABEL)).toBe(true);
    // The rest are counted, not dropped: other carries most of the 200 blocks.
    expect(total(families, `${HIST}_count`, { route: OTHER_LABEL })).toBeGreaterThanOrEqual(150);
    const culprits = new Set(samples(families, `${HIST}_count`).map((s) => s.labels.culprit));
    expect(culprits.size).toBeLessThanOrEqual(N + 1);
  });

  it('OpenMetrics registries get counters as OpenMetrics wants them, and a prefix applies to every name', async () => {
    const child = spawnFixture('prom-app.cjs', { env: { FIXTURE_OPENMETRICS: '1', FIXTURE_PREFIX: 'app_' } });
    const port = await child.port();
    await request(port, '/block?ms=120&route=/om');
    const res = await pollRaw(port, (body) => body.includes('app_loopwatch_blocked_seconds_total{route="/om"'), 'the /om block in the OpenMetrics scrape');
    const families = parseExposition(res, 'openmetrics');
    expect(families.get('app_loopwatch_blocked_seconds')?.type).toBe('counter');
    expect(families.get('app_nodejs_eventloop_time_seconds')?.type).toBe('counter');
    expect(families.get('app_loopwatch_block_duration_seconds')?.type).toBe('histogram');
    for (const m of ALL_METRICS) {
      expect(families.has(`app_${m.prometheus.replace(/_total$/, '')}`), m.prometheus).toBe(true);
      expect(families.has(m.prometheus.replace(/_total$/, '')), `${m.prometheus} without prefix`).toBe(false);
    }
  });
});

async function pollRaw(port: number, ok: (body: string) => boolean, what: string): Promise<string> {
  let last = '';
  return pollUntil(async () => {
    const res = await request(port, '/metrics');
    last = res.body;
    return res.status === 200 && ok(last) ? last : undefined;
  }, { timeoutMs: 5000, what, intervalMs: 20 }, () => `last scrape:\n${last}`);
}

async function pollScrape(port: number, ok: (f: Map<string, Family>) => boolean, what: string): Promise<Map<string, Family>> {
  const body = await pollRaw(port, (b) => ok(parseExposition(b)), what);
  return parseExposition(body);
}
