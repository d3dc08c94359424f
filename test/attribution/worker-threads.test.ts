/**
 * Blocks in the app's own worker threads: the worker inherits `--require dist/register.cjs`,
 * gets its own heartbeat and watchdog, and its block lines carry thread {id, name} and the
 * worker's stack (captured through the main thread's inspector, NodeWorker domain).
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, cleanup, spawnFixture } from '../helpers/child.js';

beforeAll(assertBuilt);
afterEach(cleanup);

describe('worker threads', () => {
  it('a block in a worker thread names the thread and the blocking function', async () => {
    const child = spawnFixture('../attribution/fixtures/worker-threads.cjs', { args: ['300'], env: { LOOPWATCH_WORKER_THREADS: 'on' } });
    await child.ready();
    const [line] = await child.waitForBlocks(1, { timeoutMs: 10_000 });
    const seen = JSON.stringify(line.block);
    expect(line.block.thread.id, seen).toBeGreaterThan(0);
    expect(line.block.thread.name, seen).toBe('report-pool');
    expect(line.block.durationMs, seen).toBeGreaterThanOrEqual(280);
    expect(line.block.culprit, seen).toMatchObject({ function: 'buildReport', file: 'test/attribution/fixtures/worker-threads.cjs' });
    expect(await child.waitForExit(10_000)).toEqual({ code: 0, signal: null });
    // One line: the main thread was not blocked, and the worker's block was reported once.
    expect(child.blocks().filter((b) => !b.block.ongoing), child.describe()).toHaveLength(1);
    expect(child.stderr).not.toContain('Waiting for the debugger');
  });

  it('by default the app\'s workers are not watched: their block gives no line, and the process exits as usual', async () => {
    const child = spawnFixture('../attribution/fixtures/worker-threads.cjs', { args: ['300'] });
    // The worker reports whether it has an agent of its own: it must not.
    await child.ready({ watchdog: false });
    expect(await child.waitForExit(10_000)).toEqual({ code: 0, signal: null });
    expect(child.allBlocks().filter((b) => b.block.thread.id !== 0), child.describe()).toEqual([]);
  });

  it('a preload in NODE_OPTIONS that loopwatch cannot recognise does not start agents in its own watchdogs', async () => {
    // './dist/register.cjs' does not name loopwatch, so it stays in the watchdogs' NODE_OPTIONS;
    // the watchdogs' environment marks them, and the register entry does nothing there.
    const child = spawnFixture('../attribution/fixtures/worker-threads.cjs', { loader: 'none', args: ['300'], env: { NODE_OPTIONS: '--require ./dist/register.cjs', LOOPWATCH_WORKER_THREADS: 'on' } });
    await child.ready();
    const [line] = await child.waitForBlocks(1, { timeoutMs: 10_000 });
    expect(line.block.culprit?.function, JSON.stringify(line.block)).toBe('buildReport');
    expect(await child.waitForExit(10_000)).toEqual({ code: 0, signal: null });
    // Only the app's threads report: main and report-pool, never a watchdog.
    const names = new Set(child.allBlocks().map((b) => b.block.thread.name));
    expect([...names].filter((n) => n.includes('loopwatch')), child.describe()).toEqual([]);
  });
});
