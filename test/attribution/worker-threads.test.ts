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
    const child = spawnFixture('../attribution/fixtures/worker-threads.cjs', { args: ['300'] });
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
});
