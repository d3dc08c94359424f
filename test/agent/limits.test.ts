/**
 * Where blocks end and how: below the threshold, never ending, ending in process.exit().
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, cleanup, quit, spawnFixture } from '../helpers/child.js';
import { request, startRequest } from '../helpers/http.js';

beforeAll(assertBuilt);
afterEach(cleanup);

describe('threshold', () => {
  it('a 20 ms block with threshold 50 gives no line (a 100 ms one in the same process does)', async () => {
    const child = spawnFixture('http-app.cjs', { env: { LOOPWATCH_THRESHOLD_MS: '50' } });
    const port = await child.port();
    expect((await request(port, '/block/sync?ms=20')).status).toBe(200);
    // The control block shows the watchdog was watching; its line is the only one.
    expect((await request(port, '/block/sync?ms=100&control=1')).status).toBe(200);
    const [line] = await child.waitForBlocks(1);
    const seen = child.describe();
    expect(line.block.thresholdMs, seen).toBe(50);
    expect(line.block.durationMs, seen).toBeGreaterThanOrEqual(95);
    expect(line.block.durationMs, seen).toBeLessThanOrEqual(300);
    expect(await quit(child, port)).toEqual({ code: 0, signal: null });
    expect(child.blocks(), child.describe()).toHaveLength(1);
  });
});

describe('a block that never ends', () => {
  it('while (true) {} → an "ongoing" line within 1 s while the process still runs, then at doubling intervals', async () => {
    const child = spawnFixture('http-app.cjs');
    const port = await child.port();
    const triggeredAt = performance.now();
    startRequest(port, '/block/forever?user=42');
    const first = await child.waitFor(() => child.blocks().find((b) => b.block.ongoing), {
      timeoutMs: 5000,
      what: 'a block line with "ongoing": true',
    });
    expect(first.at - triggeredAt, 'ms from the request to the ongoing line').toBeLessThan(1000);
    expect(child.running).toBe(true);
    const seen = JSON.stringify(first);
    expect(first.block, seen).toMatchObject({
      ongoing: true,
      context: { kind: 'http', method: 'GET', path: '/block/forever' },
      culprit: { function: 'spinForever', file: 'test/fixtures/http-app.cjs' },
    });
    // The first ongoing line comes after options.stuckMs (500) of blocking.
    expect(first.block.durationMs, seen).toBeGreaterThanOrEqual(450);
    expect(first.block.durationMs, seen).toBeLessThan(1000);

    const second = await child.waitFor(() => child.blocks().filter((b) => b.block.ongoing)[1], {
      timeoutMs: 5000,
      what: 'a second "ongoing" line',
    });
    expect(second.block.id).not.toBe(first.block.id);
    expect(second.block.startedAt).toBe(first.block.startedAt);
    expect(second.block.durationMs).toBeGreaterThanOrEqual(first.block.durationMs * 2 - 50);
    expect(child.running).toBe(true);
    expect(child.blocks().filter((b) => !b.block.ongoing), child.describe()).toEqual([]);
    expect(await child.kill()).toEqual({ code: null, signal: 'SIGKILL' });
  });
});

describe('a block right before process.exit(0)', () => {
  it('is reported, and no inspector session is left waiting', async () => {
    const child = spawnFixture('exit-after-block.cjs');
    await child.ready();
    expect(await child.waitForExit(5000)).toEqual({ code: 0, signal: null });
    const lines = child.blocks();
    expect(lines, child.describe()).toHaveLength(1);
    const seen = JSON.stringify(lines[0]);
    expect(lines[0].block.ongoing, seen).toBe(false);
    expect(lines[0].block.durationMs, seen).toBeGreaterThanOrEqual(285);
    expect(lines[0].block.durationMs, seen).toBeLessThanOrEqual(400);
    expect(lines[0].block.culprit?.function, seen).toBe('burnCpu');
    expect(child.stderr).not.toContain('Waiting for the debugger');
  });
});
