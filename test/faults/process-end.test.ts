/**
 * Fault matrix, the end of the process: a crash, an unhandled rejection or a signal right
 * after (or during) a block. The app must end exactly as it would without loopwatch (same
 * exit code or signal, same output of its own), and the block must still be reported.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, type Child, cleanup, spawnFixture } from '../helpers/child.js';

beforeAll(assertBuilt);
afterEach(cleanup);

/** What the app itself wrote: stdout without the ready line, stderr without loopwatch's lines. */
function appOutput(child: Child): { stdout: string[]; stderr: string[] } {
  const ours = (t: string): boolean => t.includes('"name":"loopwatch"');
  return {
    stdout: child.stdoutLines.map((l) => l.text).filter((t) => !t.startsWith('{"watchdog"')),
    stderr: child.stderrLines.map((l) => l.text).filter((t) => !ours(t)),
  };
}

describe('the app dies right after a block', () => {
  for (const [mode, message] of [['uncaught', 'boom after a block'], ['rejection', 'rejected after a block']] as const) {
    it(`${mode}: exit code 1 and Node's own report as without loopwatch; the 200 ms block is reported`, async () => {
      const bare = spawnFixture('faults.cjs', { loader: 'none', args: [mode] });
      const bareExit = await bare.waitForExit(10_000);
      const child = spawnFixture('faults.cjs', { args: [mode] });
      await child.ready();
      const exit = await child.waitForExit(10_000);

      expect(bareExit, bare.describe()).toEqual({ code: 1, signal: null });
      expect(exit, child.describe()).toEqual(bareExit);
      expect(appOutput(child), child.describe()).toEqual(appOutput(bare));
      expect(appOutput(child).stderr.join('\n')).toContain(`Error: ${message}`);
      const blocks = child.blocks().filter((b) => !b.block.ongoing);
      expect(blocks, child.describe()).toHaveLength(1);
      expect(blocks[0].block.culprit?.function, child.describe()).toBe('burnCpu');
      expect(blocks[0].block.durationMs).toBeGreaterThanOrEqual(190);
    });
  }
});

describe('a loop stuck forever, then SIGTERM (as from kubectl delete or a deploy)', () => {
  it('the ongoing line is out before the signal, and the process dies of SIGTERM at once, as without loopwatch', async () => {
    const bare = spawnFixture('faults.cjs', { loader: 'none', args: ['stuck'] });
    await bare.ready({ watchdog: false });
    const child = spawnFixture('faults.cjs', { args: ['stuck'] });
    await child.ready();
    const ongoing = await child.waitFor(() => child.blocks().find((b) => b.block.ongoing), {
      timeoutMs: 5000,
      what: 'an "ongoing" line for the stuck loop',
    });
    expect(ongoing.block.culprit?.function, child.describe()).toBe('spinForever');

    const sentAt = performance.now();
    bare.proc.kill('SIGTERM');
    child.proc.kill('SIGTERM');
    const [bareExit, exit] = await Promise.all([bare.waitForExit(5000), child.waitForExit(5000)]);
    expect(bareExit).toEqual({ code: null, signal: 'SIGTERM' });
    expect(exit, child.describe()).toEqual(bareExit);
    // Nothing in the agent holds the signal up: the process is gone well inside the grace
    // period a supervisor gives (Kubernetes: 30 s) — within 2 s on a loaded CI machine.
    expect(performance.now() - sentAt).toBeLessThan(2000);
    expect(appOutput(child), child.describe()).toEqual(appOutput(bare));
  });
});
