/**
 * Fault matrix, the inspector: loopwatch captures stacks over the inspector, which the app,
 * its debugger or its profiler may be using too. Each case runs the real app with and
 * without the agent and compares what the app sees.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CdpClient, inspectorUrl } from '../helpers/cdp.js';
import { assertBuilt, type Child, cleanup, quit, spawnFixture } from '../helpers/child.js';
import { request } from '../helpers/http.js';

beforeAll(assertBuilt);
afterEach(cleanup);

/** The app's own stdout lines: the {"result": …} lines and "done", not the ready line. */
function appStdout(child: Child): string[] {
  return child.stdoutLines.map((l) => l.text).filter((t) => !t.startsWith('{"watchdog"'));
}

function finalBlocks(child: Child): ReturnType<Child['blocks']> {
  return child.blocks().filter((b) => !b.block.ongoing);
}

describe('a debugger attached (--inspect, a DevTools-protocol client connected)', () => {
  it('blocks are reported with their culprit; the debugger is never paused and its own commands still work', async () => {
    const child = spawnFixture('http-app.cjs', { nodeArgs: ['--inspect=127.0.0.1:0'] });
    const port = await child.port();
    const url = await child.waitFor(() => inspectorUrl(child.stderr), { timeoutMs: 5000, what: 'the "Debugger listening" line' });
    const debug = await CdpClient.connect(url);
    await debug.send('Runtime.enable');
    await debug.send('Debugger.enable');

    const res = await request(port, '/block/sync?ms=300');
    expect(res.status).toBe(200);
    expect(res.body).toBe('ok');
    const [line] = await child.waitFor(() => (finalBlocks(child).length > 0 ? finalBlocks(child) : undefined), {
      timeoutMs: 5000,
      what: 'the block line',
    });
    expect(line.block, JSON.stringify(line)).toMatchObject({
      context: { kind: 'http', path: '/block/sync' },
      culprit: { function: 'burnCpu', file: 'test/fixtures/http-app.cjs' },
    });
    expect(line.block.durationMs).toBeGreaterThanOrEqual(290);
    // The debugger's session is the app's, not loopwatch's: it still evaluates, and nothing
    // loopwatch did paused the program under it.
    const value = await debug.send('Runtime.evaluate', { expression: '6 * 7', returnByValue: true });
    expect(value).toEqual({ result: { type: 'number', value: 42, description: '42' } });
    expect(debug.events.filter((e) => e.method === 'Debugger.paused')).toEqual([]);
    await debug.close();
    expect(await quit(child, port)).toEqual({ code: 0, signal: null });
    expect(child.stderr).not.toContain('Waiting for the debugger to disconnect');
  });
});

describe('the app uses the inspector itself', () => {
  for (const mode of ['inspector-open', 'app-session'] as const) {
    it(`${mode}: the app gets the same results as without loopwatch, and the block names burnCpu`, async () => {
      const bare = spawnFixture('faults.cjs', { loader: 'none', args: [mode] });
      await bare.ready({ watchdog: false });
      const bareExit = await bare.waitForExit(10_000);
      const child = spawnFixture('faults.cjs', { args: [mode] });
      await child.ready();
      const exit = await child.waitForExit(10_000);

      expect(exit, child.describe()).toEqual(bareExit);
      expect(exit).toEqual({ code: 0, signal: null });
      expect(appStdout(child), child.describe()).toEqual(appStdout(bare));
      expect(appStdout(child).some((l) => l.includes('true') && !l.includes('false')), child.describe()).toBe(true);
      const blocks = finalBlocks(child);
      expect(blocks, child.describe()).toHaveLength(1);
      expect(blocks[0].block.culprit?.function, child.describe()).toBe('burnCpu');
      expect(blocks[0].block.durationMs).toBeGreaterThanOrEqual(190);
      expect(child.stderr).not.toContain('Waiting for the debugger to disconnect');
    });
  }
});
