/**
 * Blocks in the first moments after the agent started, before its watchdog worker has
 * booted (~100–200 ms on an idle machine, 400 ms and more on a busy one). The other agent
 * tests wait for the watchdog (test/fixtures/watchdog-ready.cjs); these do not.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, cleanup, spawnFixture } from '../helpers/child.js';

beforeAll(assertBuilt);
afterEach(cleanup);

describe('blocks before the watchdog is up', () => {
  it('a 70 ms block while the app module loads is reported as a startup block', async () => {
    const child = spawnFixture('startup-block.cjs', { args: ['module', '70'] });
    expect(await child.waitForExit(5000)).toEqual({ code: 0, signal: null });
    const lines = child.blocks();
    expect(lines, child.describe()).toHaveLength(1);
    expect(lines[0].block.context.kind).toBe('startup');
    expect(lines[0].block.durationMs).toBeGreaterThanOrEqual(65);
    expect(lines[0].block.durationMs).toBeLessThanOrEqual(200);
  });

  it('a 70 ms block in the first timer callback is reported', async () => {
    const child = spawnFixture('startup-block.cjs', { args: ['first-tick', '70'] });
    expect(await child.waitForExit(5000)).toEqual({ code: 0, signal: null });
    const lines = child.blocks();
    expect(lines, child.describe()).toHaveLength(1);
    expect(lines[0].block.durationMs).toBeGreaterThanOrEqual(65);
    expect(lines[0].block.durationMs).toBeLessThanOrEqual(200);
  });
});
