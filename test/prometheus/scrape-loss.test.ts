/**
 * Blocks next to a scrape are not lost. prom-client's loop-lag gauges (like the
 * OpenTelemetry runtime metrics) reset monitorEventLoopDelay() at every scrape, which also
 * forgets the tick in progress: a block followed at once by a scrape never shows. loopwatch
 * counts blocks from the watchdog and reads cumulative data without resets.
 *
 * 50 blocks of 60 ms, each with a scrape sent at a random moment from 40 ms before the
 * block to 100 ms after it began; then every block must be in loopwatch's counter. The
 * same scrapes show how many intervals with a block prom-client's max gauge missed
 * (bench/scrape-loss.mjs prints the same figures over more rounds).
 */
import { Agent } from 'node:http';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { BLOCK_DURATION, BLOCKED_TIME } from '../../src/metrics/names.js';
import { assertBuilt, cleanup, spawnFixture } from '../helpers/child.js';
import { startRequest } from '../helpers/http.js';
import { type Family, parseExposition, total } from './parse.js';
import { scrape } from './scrape.js';

beforeAll(assertBuilt);
afterEach(cleanup);

const BLOCKS = 50;
const BLOCK_MS = 60;
const ROUTE = '/loss';
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A seeded draw (mulberry32), so a failing run can be replayed with the seed it prints. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const SEED = Number(process.env.SCRAPE_LOSS_SEED ?? 20261203);
const random = seeded(SEED);

describe('blocks next to a scrape', () => {
  it(`${BLOCKS} blocks of ${BLOCK_MS} ms around scrapes at random moments: all ${BLOCKS} in loopwatch's counter`, async () => {
    // One line per block (no flood control): the test checks the counter against the lines.
    const child = spawnFixture('prom-app.cjs', { env: { LOOPWATCH_LOG_LIMIT: '0' } });
    const port = await child.port();
    // Scrapes over one kept-alive connection, as Prometheus makes them: a scrape that arrives
    // during a block is then read in the same loop turn as the block ends.
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const scrapeOnce = (): ReturnType<typeof scrape> => scrape(port, { agent });
    // Start of the first interval; blocks counted so far (the fixture's warm-up) are not ours.
    const countOf = (f: Map<string, Family>): number => total(f, `${BLOCK_DURATION.prometheus}_count`);
    const before = countOf(parseExposition((await scrapeOnce()).body));

    const intervals: { blocks: number; promLagMax: number }[] = [];
    const record = (r: { body: string; headers: Record<string, unknown> }): void => {
      const f = parseExposition(r.body);
      intervals.push({ blocks: Number(r.headers['x-blocks-in-interval']), promLagMax: total(f, 'nodejs_eventloop_lag_max_seconds') });
    };
    for (let i = 0; i < BLOCKS; i++) {
      // The block runs in a timer `after` ms from now (as jobs and work after an await do);
      // the scrape is sent `offset` ms from now: before, during or after the block.
      const after = Math.round(random() * 40);
      const offset = Math.round(random() * (after + BLOCK_MS + 40));
      const blockDone = startRequest(port, `/block?ms=${BLOCK_MS}&route=${ROUTE}&after=${after}`).response;
      await sleep(offset);
      const scraped = scrapeOnce();
      const [r] = await Promise.all([scraped, blockDone]);
      record(r);
      await sleep(random() * 60);
    }

    // The last blocks reach the main thread's store a few ms after they end.
    let families: Map<string, Family> = new Map();
    const deadline = performance.now() + 5000;
    while (performance.now() < deadline) {
      const r = await scrapeOnce();
      record(r);
      families = parseExposition(r.body);
      if (countOf(families) - before >= Math.max(BLOCKS, child.blocks().length)) break;
      await sleep(20);
    }
    agent.destroy();
    const lines = child.blocks();
    const summary = JSON.stringify(lines.filter((b) => b.block.context.route !== ROUTE).map((b) => [b.block.context.route ?? b.block.context.path, b.block.durationMs]));
    // Every block the watchdog reported is in the counter, and it reported every block.
    expect(countOf(families) - before, summary).toBe(lines.length);
    expect(lines.length, summary).toBeGreaterThanOrEqual(BLOCKS);
    expect(total(families, BLOCKED_TIME.prometheus), summary).toBeGreaterThanOrEqual((BLOCKS * BLOCK_MS * 0.9) / 1e3);
    // Nearly all under their route: a stack sample served just after a block ended can see
    // the scrape that ran next instead (the block then counts under that request's route).
    const onRoute = total(families, `${BLOCK_DURATION.prometheus}_count`, { route: ROUTE });
    expect(onRoute, summary).toBeGreaterThanOrEqual(BLOCKS - 5);

    const withBlock = intervals.filter((x) => x.blocks > 0);
    const seenByProm = withBlock.filter((x) => x.promLagMax >= (BLOCK_MS * 0.75) / 1e3);
    expect(intervals.reduce((s, x) => s + x.blocks, 0)).toBe(BLOCKS);
    // prom-client's reset blind spot: some intervals that held a block show no lag at all
    // (41-54 % in bench/scrape-loss.mjs); loopwatch's counter had every block (above).
    const figures = `seed ${SEED}: scrape intervals with a block: ${withBlock.length}; prom-client nodejs_eventloop_lag_max_seconds showed ${seenByProm.length} of them; loopwatch counted ${countOf(families) - before} blocks, ${onRoute} under ${ROUTE}`;
    expect(withBlock.length, figures).toBeGreaterThan(0);
    expect(seenByProm.length, figures).toBeLessThan(withBlock.length);
  });
});
