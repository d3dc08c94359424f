/**
 * Issue 13: back-to-back blocks (60 ms every 70 ms) must each be counted: in the log, in
 * `monitor.on('block')` and in the standalone endpoint's `loopwatch_block_duration_seconds`
 * histogram, against the app's own count. With the CPU contended the watchdog reads the
 * beats late; it took the latest beat for the end of the stall it tracked, merging the next
 * block into it, and the main thread kept a single record of a block the watchdog did not
 * track, which the next one overwrote (before the fix, two busy processes on the 2 cores:
 * 97-99 of 100 and 125-126 of 128, measured before the cause/flood-control merge; after it
 * the merge no longer showed here, and test/unit/watchdog.test.ts pins the mechanism).
 */
import { cpus } from 'node:os';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, cleanup, spawnFixture } from '../helpers/child.js';
import { freePort } from '../helpers/poll.js';
import { parseExposition, total } from '../prometheus/parse.js';
import { scrape } from '../prometheus/scrape.js';

beforeAll(assertBuilt);
afterEach(cleanup);

interface Result {
  truth: number;
  separate: number;
  from: number;
  to: number;
  events: number;
  totalMs: number;
}

/** One busy process per core, as on a loaded node: the watchdog then often reads late. */
async function contend(): Promise<void> {
  const hogs = cpus().map(() => spawnFixture('cpu-hog.cjs', { loader: 'none' }));
  await Promise.all(hogs.map((h) => h.waitForStdout('hogging')));
}

describe(`back-to-back blocks, with ${cpus().length} busy processes beside them: every block counted`, () => {
  for (const [mode, count] of [['interval', 100], ['timeout', 60]] as const) {
    it(`${count} blocks of 60 ms, ${mode === 'interval' ? 'one setInterval of 70 ms' : 'each 10 ms after the previous (setTimeout)'}: log, events and /metrics all count ${count}`, async () => {
      const metricsPort = await freePort();
      const child = spawnFixture('back-to-back.cjs', {
        // The blocks begin 500 ms after the ready line, by when the busy processes run. They
        // start only then: the fixture's warm-up must be named (a starved one names nothing).
        args: [String(count), '60', '10', mode, '500'],
        // Flood control off: every block gets its own line, to be counted.
        env: { LOOPWATCH_PROMETHEUS_PORT: String(metricsPort), LOOPWATCH_PROMETHEUS_HOST: '127.0.0.1', LOOPWATCH_LOG_LIMIT: '0' },
      });
      await child.ready();
      await contend();
      const printed = await child.waitForStdout(/^\{"truth":/, 30_000);
      const result = JSON.parse(printed.text) as Result;
      expect(result.truth).toBe(count);
      // Each block had a turn of the loop before it (so a beat could come between them).
      expect(result.separate).toBe(count);

      const lines = child.allBlocks().filter((b) => !b.block.ongoing);
      // The lines of these blocks: ended in the fixture's window (see back-to-back.cjs).
      const flood = lines.filter((b) => {
        const end = Date.parse(b.block.startedAt) + b.block.durationMs;
        return end >= result.from && end <= result.to;
      });
      const summary = `durations: ${flood.map((b) => b.block.durationMs).join(' ')}`;
      expect(flood.length, summary).toBe(count);
      expect(result.events, summary).toBe(count);
      // Merged blocks would show as fewer lines. (No upper bound per block: time the process
      // spends descheduled on a shared machine counts as busy, no idle time passes then.)
      for (const b of flood) expect(b.block.durationMs, summary).toBeGreaterThanOrEqual(55);
      expect(result.totalMs).toBeGreaterThanOrEqual(count * 58);

      // The endpoint's histogram counts every line the watchdog wrote (the warm-up's too).
      const families = parseExposition((await scrape(metricsPort)).body);
      expect(total(families, 'loopwatch_block_duration_seconds_count'), summary).toBe(lines.length);
      expect(total(families, 'loopwatch_blocked_seconds_total')).toBeGreaterThanOrEqual((count * 58) / 1000);
    }, 40_000);
  }
});
