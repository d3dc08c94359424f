/**
 * Issue 13: an app that patches Error after the preload (APM agents, error libraries,
 * source-map-support) must not blind the probe: culprit and stack still name the blocking
 * code, and the app's own patch is still in place afterwards. A patch the probe cannot work
 * around (a frozen Error.prepareStackTrace) costs the stack, not the block, and says so once.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, cleanup, spawnFixture, warnings } from '../helpers/child.js';

beforeAll(assertBuilt);
afterEach(cleanup);

const FIXTURE = 'test/fixtures/error-patched.cjs';

/** The first line of `new Error('after').stack` as the app's own patch formats it. */
const APP_STACK: Record<string, RegExp> = {
  'capture-stack-trace': /^Error: after$/,
  'prepare-stack-trace': /^Error: after \[formatted by the app, \d+ sites\]$/,
  'prepare-accessor': /^Error: after \[formatted by the app, \d+ sites\]$/,
  'global-error': /^Error: after \[formatted by the app, \d+ sites\]$/,
};

describe('Error patched after loopwatch loaded', () => {
  for (const [mode, appStack] of Object.entries(APP_STACK)) {
    it(`${mode}: culprit and stack still name the blocking function; the app's patch stays`, async () => {
      const child = spawnFixture('error-patched.cjs', { args: [mode] });
      await child.ready();
      const [line] = await child.waitForBlocks(1);
      const { block } = line;
      const seen = JSON.stringify(block);
      expect(block.durationMs, seen).toBeGreaterThanOrEqual(190);
      expect(block.culprit, seen).toMatchObject({ function: 'blockHere', file: FIXTURE });
      expect(block.stack[0], seen).toMatchObject({ function: 'blockHere', file: FIXTURE, inApp: true });
      // The timer callback that called it, then Node's timer internals.
      expect(block.stack[1], seen).toMatchObject({ file: FIXTURE, inApp: true });
      expect(block.stack.at(-1), seen).toMatchObject({ file: 'node:internal/timers', inApp: false });
      expect(block.context.kind, seen).toBe('timer');

      const printed = await child.waitForStdout(/^\{"appStack":/);
      expect((JSON.parse(printed.text) as { appStack: string }).appStack).toMatch(appStack);
      expect(await child.waitForExit(5000)).toEqual({ code: 0, signal: null });
      expect(warnings(child.stderr, 'LOOPWATCH_WARN_CAPTURE_FAILED'), child.stderr).toHaveLength(0);
    });
  }

  it('frozen Error.prepareStackTrace: the block is still reported, without a stack, and one warning says why', async () => {
    const child = spawnFixture('error-patched.cjs', { args: ['frozen'] });
    await child.ready();
    const [line] = await child.waitForBlocks(1);
    const seen = JSON.stringify(line.block);
    expect(line.block.durationMs, seen).toBeGreaterThanOrEqual(190);
    expect(line.block.culprit, seen).toBeNull();
    expect(line.block.stack, seen).toEqual([]);
    // The context does not come from the stack: still there.
    expect(line.block.context.kind, seen).toBe('timer');
    const printed = await child.waitForStdout(/^\{"appStack":/);
    expect((JSON.parse(printed.text) as { appStack: string }).appStack).toMatch(/formatted by the app/);
    expect(await child.waitForExit(5000)).toEqual({ code: 0, signal: null });
    const warned = warnings(child.stderr, 'LOOPWATCH_WARN_CAPTURE_FAILED');
    expect(warned, child.stderr).toHaveLength(1);
    expect(warned[0]).toMatch(/^\(node:\d+\) \[LOOPWATCH_WARN_CAPTURE_FAILED\] LoopwatchWarning: .*prepareStackTrace/);
  });
});
