/**
 * Fault matrix, load on the agent's own surfaces: a crowd of scrapers on the standalone
 * endpoint while the app is blocked, and thousands of distinct routes blocking (label sets
 * and memory must stay bounded).
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ALL_METRICS, BLOCK_DURATION, BLOCK_ONGOING, BLOCKED_TIME, OTHER_LABEL } from '../../src/metrics/names.js';
import { assertBuilt, cleanup, quit, spawnFixture } from '../helpers/child.js';
import { request, startRequest } from '../helpers/http.js';
import { freePort, pollUntil } from '../helpers/poll.js';
import { parseExposition, samples, total } from '../prometheus/parse.js';
import { scrape } from '../prometheus/scrape.js';

beforeAll(assertBuilt);
afterEach(cleanup);

const SCRAPERS = 200;

describe(`${SCRAPERS} concurrent scrapes of the standalone endpoint during a block`, () => {
  it('every scrape is answered while the main thread is still blocked, each with every family; the block is counted once', async () => {
    const metricsPort = await freePort();
    const child = spawnFixture('http-app.cjs', { env: { LOOPWATCH_PROMETHEUS_PORT: String(metricsPort), LOOPWATCH_PROMETHEUS_HOST: '127.0.0.1' } });
    const port = await child.port();
    const block = startRequest(port, '/block/sync?ms=3000');
    let blockEndedAt = Infinity;
    void block.response.then(() => (blockEndedAt = performance.now()));
    await pollUntil(async () => total(parseExposition((await scrape(metricsPort)).body), BLOCK_ONGOING.prometheus) > 0 || undefined, {
      timeoutMs: 2000,
      intervalMs: 20,
      what: 'the block in the ongoing gauge',
    });

    const results = await Promise.all(Array.from({ length: SCRAPERS }, () => scrape(metricsPort, { timeoutMs: 10_000 })));
    const answeredAt = performance.now();
    expect(answeredAt, 'the scrapes were answered by the watchdog while the app was blocked').toBeLessThan(blockEndedAt);
    for (const r of results) {
      expect(r.status, r.body.slice(0, 200)).toBe(200);
      const families = parseExposition(r.body);
      for (const m of ALL_METRICS) expect(families.get(m.prometheus)?.type, m.prometheus).toBe(m.type);
      expect(total(families, BLOCK_ONGOING.prometheus)).toBeGreaterThan(0);
    }

    const res = await block.response;
    expect(res.status).toBe(200);
    expect(res.body).toBe('ok');
    const after = await pollUntil(async () => {
      const f = parseExposition((await scrape(metricsPort)).body);
      return total(f, BLOCKED_TIME.prometheus) >= 2.9 ? f : undefined;
    }, { timeoutMs: 5000, intervalMs: 50, what: 'the 3 s block in the blocked-time counter' });
    // One 3 s block after the ready line (warm-up blocks, if any, come before it and are short).
    expect(total(after, BLOCKED_TIME.prometheus)).toBeLessThan(3.5);
    expect(total(after, BLOCK_ONGOING.prometheus)).toBe(0);
    expect(await quit(child, port)).toEqual({ code: 0, signal: null });
    expect(child.blocks().filter((b) => !b.block.ongoing), child.describe()).toHaveLength(1);
  });
});

const ROUTES = 5000;
const TOP_N = 10;

describe(`${ROUTES} distinct routes, each blocking once`, () => {
  it(`route and culprit labels stay within top ${TOP_N} + ${OTHER_LABEL}, the rest counted under ${OTHER_LABEL}, memory levels off`, async () => {
    // Short blocks above a low threshold keep the 5,000 blocks within about a minute; the
    // 4 ms gaps let the loop turn between them, so each block is its own (at 1 ms gaps the
    // watchdog sees one long stretch of several).
    const child = spawnFixture('prom-app.cjs', {
      nodeArgs: ['--expose-gc'],
      env: { LOOPWATCH_THRESHOLD_MS: '5', LOOPWATCH_METRICS_TOP_N: String(TOP_N), LOOPWATCH_LOG: 'off' },
    });
    const port = await child.port();
    const rounds = 5;
    const rss: number[] = [];
    for (let round = 0; round < rounds; round++) {
      expect((await request(port, `/many?n=${ROUTES / rounds}&ms=8&gap=4`, 120_000)).status).toBe(200);
      rss.push((JSON.parse((await request(port, '/memory')).body) as { rss: number }).rss);
    }
    const families = await pollUntil(async () => {
      const f = parseExposition((await request(port, '/metrics')).body);
      return total(f, `${BLOCK_DURATION.prometheus}_count`) >= ROUTES * 0.9 ? f : undefined;
    }, { timeoutMs: 10_000, intervalMs: 100, what: `${ROUTES * 0.9} or more blocks counted (two blocks with no loop turn between them on a busy machine count as one)` });

    for (const name of [`${BLOCK_DURATION.prometheus}_count`, BLOCKED_TIME.prometheus]) {
      const routes = new Set(samples(families, name).map((s) => s.labels.route));
      const culprits = new Set(samples(families, name).map((s) => s.labels.culprit));
      expect(routes.size, `${name}: ${[...routes].join(', ')}`).toBeLessThanOrEqual(TOP_N + 1);
      expect(culprits.size, `${name}: ${[...culprits].join(', ')}`).toBeLessThanOrEqual(TOP_N + 1);
    }
    expect(total(families, `${BLOCK_DURATION.prometheus}_count`, { route: OTHER_LABEL })).toBeGreaterThanOrEqual(ROUTES * 0.85);
    // Memory: the first fifth of the routes may be warm-up (heaps growing to their working
    // size); the other 4,000 distinct routes must not keep adding to it. RSS covers both
    // threads; it moves in steps of heap pages, so the bound is loose: a cost of 12 KB or
    // more per distinct route fails it. bench/routes.mjs follows RSS over 20,000 routes.
    const growth = (rss.at(-1)! - rss[0]) / 1e6;
    expect(growth, `RSS after each 1,000 routes (MB): ${rss.map((r) => (r / 1e6).toFixed(1)).join(', ')}`).toBeLessThan(48);
    expect(await quit(child, port)).toEqual({ code: 0, signal: null });
  }, 180_000);
});
