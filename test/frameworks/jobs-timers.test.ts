/**
 * Blocks outside requests: a job under run() that blocks after several awaits, and bare
 * setInterval / setTimeout callbacks created outside any context (kind "timer", the
 * callback as culprit). The fixture runs them one after another in a child process.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, cleanup, type Loader, spawnFixture } from '../helpers/child.js';

beforeAll(assertBuilt);
afterEach(cleanup);

describe.each<Loader>(['require', 'import'])('jobs and timers (--%s)', (loader) => {
  it('the job keeps its name across awaits; timer callbacks get kind "timer" and are the culprit', async () => {
    const child = spawnFixture('frameworks/jobs.cjs', { loader });
    await child.ready();
    await child.waitForStdout('done', 20_000);
    expect(await child.waitForExit(5000), child.describe()).toEqual({ code: 0, signal: null });
    // Ours last ~200 ms; a loaded machine adds short stalls of its own (the process
    // descheduled for 50+ ms), which are no part of this test.
    const blocks = child.blocks().map((l) => l.block).filter((b) => b.durationMs >= 120);
    expect(blocks, child.describe()).toHaveLength(3);
    const [job, interval, timeout] = blocks;
    const empty = { method: null, route: null, path: null };

    expect(job.context, JSON.stringify(job)).toMatchObject({ kind: 'job', job: 'nightly-report', ...empty });
    expect(job.culprit?.function, JSON.stringify(job)).toBe('buildNightlyReport');

    expect(interval.context, JSON.stringify(interval)).toMatchObject({ kind: 'timer', job: null, ...empty });
    expect(interval.culprit?.function, JSON.stringify(interval)).toBe('pollInventory');

    expect(timeout.context, JSON.stringify(timeout)).toMatchObject({ kind: 'timer', job: null, ...empty });
    expect(timeout.culprit?.function, JSON.stringify(timeout)).toBe('flushCache');

    for (const b of blocks) expect(b.durationMs, JSON.stringify(b)).toBeGreaterThanOrEqual(150);
  });
});
