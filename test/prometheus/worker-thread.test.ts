/**
 * An agent in one of the app's worker threads (LOOPWATCH_WORKER_THREADS=on) labels its
 * series with that thread, as its block events name it, not as the main thread.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, cleanup, spawnFixture, waitFor } from '../helpers/child.js';
import { parseExposition, type Sample } from './parse.js';

beforeAll(assertBuilt);
afterEach(cleanup);

describe('prom-client collectors in a worker thread', () => {
  it('label the ongoing-block gauge and the block series with the worker thread', async () => {
    const child = spawnFixture('../attribution/fixtures/worker-threads.cjs', { args: ['200', 'scrape'], env: { LOOPWATCH_WORKER_THREADS: 'on' } });
    await child.ready();
    const line = await waitFor(() => child.stdoutLines.find((l) => l.text.startsWith('{"scrape"')), { timeoutMs: 10_000, what: 'the worker\'s scrape on stdout' }, () => child.describe());
    const { scrape, thread } = JSON.parse(line.text) as { scrape: string; thread: { id: number; name: string } };
    expect(thread.id, scrape).toBeGreaterThan(0);
    expect(thread.name, scrape).toBe('report-pool');
    const families = parseExposition(scrape);
    const threads = (name: string): string[] => (families.get(name)?.samples ?? []).map((s: Sample) => s.labels.thread);
    expect(threads('loopwatch_block_ongoing_seconds'), scrape).toEqual([thread.name]);
    // The block series carry the thread of each block's event (on Node 20 the warm-up blocks
    // reported before the watchdog learnt the worker's name say `worker <id>`); none is main's.
    expect(threads('loopwatch_blocked_seconds_total'), scrape).toContain(thread.name);
    expect(threads('loopwatch_blocked_seconds_total'), scrape).not.toContain('main');
    expect(await child.waitForExit(10_000)).toEqual({ code: 0, signal: null });
  });
});
