/**
 * The agent's footprint on the host process: it must not keep it alive or change its
 * output, and the programmatic API (start → on('block') → stop) behaves as documented.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { BlockEvent } from '../../src/shared/event.js';
import { assertBuilt, cleanup, type Loader, spawnFixture, warnings } from '../helpers/child.js';

beforeAll(assertBuilt);
afterEach(cleanup);

describe('a script that only loads the agent', () => {
  it.each<Loader>(['require', 'import'])('--%s: exits 0 by itself, output byte-identical to a run without the agent', async (loader) => {
    const bare = spawnFixture('hello.cjs', { loader: 'none' });
    expect(await bare.waitForExit(5000)).toEqual({ code: 0, signal: null });
    expect(bare.stdout).toBe('hello\nbye\n');

    const withAgent = spawnFixture('hello.cjs', { loader });
    expect(await withAgent.waitForExit(5000)).toEqual({ code: 0, signal: null });
    expect(withAgent.stdout).toBe(bare.stdout);
    expect(withAgent.stderr).toBe(bare.stderr);
  });
});

describe('monitor API: start({ thresholdMs: 50 }) without the register entry', () => {
  it("emits 'block' after the loop recovered, with the same event as the log line", async () => {
    const child = spawnFixture('monitor-api.cjs', { loader: 'none' });
    await child.ready();
    const eventLine = await child.waitForStdout(/^\{"event":/);
    const [line] = await child.waitForBlocks(1);

    const texts = child.stdoutLines.map((l) => l.text);
    // The event reaches the app only once its loop runs again: after the blocking callback.
    expect(texts.indexOf('recovered'), child.describe()).toBeGreaterThan(-1);
    expect(texts.indexOf('recovered')).toBeLessThan(texts.indexOf(eventLine.text));

    const event = (JSON.parse(eventLine.text) as { event: BlockEvent }).event;
    const seen = JSON.stringify(event);
    expect(event.ongoing, seen).toBe(false);
    expect(event.thresholdMs, seen).toBe(50);
    expect(event.durationMs, seen).toBeGreaterThanOrEqual(190);
    expect(event.durationMs, seen).toBeLessThanOrEqual(260);
    expect(event.culprit, seen).toMatchObject({ function: 'burnCpu', file: 'test/fixtures/monitor-api.cjs' });
    // Same block, same shape as the line the watchdog logged (stderr by default).
    expect(event).toEqual(line.block);
    expect(Object.keys(event).sort()).toEqual(['cause', 'context', 'cpuMs', 'culprit', 'durationMs', 'fingerprint', 'gcMs', 'hint', 'id', 'ongoing', 'profile', 'stack', 'startedAt', 'thread', 'thresholdMs']);

    await child.waitForExit(5000);
    expect(texts.filter((t) => t.startsWith('{"event":'))).toHaveLength(1);
    expect(child.blocks(), child.describe()).toHaveLength(1);
  });

  it('a second start() returns the running monitor, ignores its options and warns once', async () => {
    const child = spawnFixture('monitor-api.cjs', { loader: 'none' });
    const ready = (await child.ready()) as unknown as { same: boolean; thresholdMs: number };
    expect(ready).toMatchObject({ same: true, thresholdMs: 50 });
    await child.waitForExit(5000);
    const warned = warnings(child.stderr, 'LOOPWATCH_WARN_ALREADY_STARTED');
    expect(warned, child.stderr).toHaveLength(1);
    expect(warned[0]).toMatch(/^\(node:\d+\) \[LOOPWATCH_WARN_ALREADY_STARTED\] LoopwatchWarning: /);
  });

  it('await monitor.stop() resolves, then the process exits by itself', async () => {
    // The fixture's only ref'd handle is cleared when the event arrives; from then on only
    // stop() is pending, and the code after `await monitor.stop()` must still run.
    const child = spawnFixture('monitor-api.cjs', { loader: 'none' });
    await child.ready();
    await child.waitForStdout(/^\{"event":/);
    expect(await child.waitForExit(5000)).toEqual({ code: 0, signal: null });
    expect(child.stdoutLines.at(-1)?.text, child.describe()).toBe('stopped');
  });
});
