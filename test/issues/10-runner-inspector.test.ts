/**
 * Found with `loopwatch run -- node --test`: Node creates no inspector in a `node --test`
 * runner (nor a `--watch` supervisor), and a block there made the watchdog's
 * connectToMainThread() abort the runner (exit 134, "Assertion failed: (parent_handle_) !=
 * nullptr"), failing the test run. Such a process now times its blocks without stacks.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { inspectorUsable } from '../../src/agent.js';
import { assertBuilt, cleanup, FIXTURES, spawnFixture } from '../helpers/child.js';

beforeAll(assertBuilt);
afterEach(cleanup);

describe('a block in a process without an inspector', () => {
  it('the node --test runner blocks 150 ms: it is reported without a stack, and the run passes', async () => {
    const child = spawnFixture('cli/node-test-project/ok.test.mjs', {
      nodeArgs: ['--require', `${FIXTURES}runner-block.cjs`, '--test'],
      env: { LOOPWATCH_LOG: 'stderr' },
    });
    const exit = await child.waitForExit(30_000);
    expect(child.stderr).not.toContain('Assertion failed');
    expect(exit, child.describe()).toEqual({ code: 0, signal: null });
    const runner = child.allBlocks().filter((b) => b.pid === child.proc.pid);
    expect(runner.some((b) => b.block.durationMs >= 140 && b.block.culprit === null), child.describe()).toBe(true);
  });

  it('knows which processes have none', () => {
    expect(inspectorUsable([], undefined)).toBe(true);
    expect(inspectorUsable(['--test'], undefined)).toBe(false);
    expect(inspectorUsable(['--test', '--test-isolation=none'], undefined)).toBe(true);
    expect(inspectorUsable(['--test', '--experimental-test-isolation=none'], undefined)).toBe(true);
    expect(inspectorUsable(['--watch'], undefined)).toBe(false);
    expect(inspectorUsable(['--watch-path=src'], undefined)).toBe(false);
    expect(inspectorUsable([], '--max-old-space-size=100 --watch')).toBe(false);
    expect(inspectorUsable(['--test-reporter=tap'], undefined)).toBe(true);
  });
});
