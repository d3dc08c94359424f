import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, cleanup, type Loader, spawnFixture } from '../helpers/child.js';

interface Outcome {
  name: string;
  ok: boolean;
  value?: unknown;
  error?: string;
  code?: string;
  message?: string;
  blocks?: number;
}

beforeAll(assertBuilt);
afterEach(cleanup);

async function outcomes(loader: Loader, env: Record<string, string>): Promise<Map<string, Outcome>> {
  const child = spawnFixture('assert/no-block.cjs', { loader, env });
  const exit = await child.waitForExit(30_000);
  expect(exit.code, child.describe()).toBe(0);
  return new Map(child.stdoutLines.map((l) => JSON.parse(l.text) as Outcome).map((o) => [o.name, o]));
}

describe.each([
  { how: 'started by assertNoBlock itself', loader: 'none' as Loader, env: {} as Record<string, string>, budget: 50 },
  { how: 'with the register entry running', loader: 'require' as Loader, env: { LOOPWATCH_LOG: 'off', BUDGET_MS: '100' }, budget: 100 },
])('assertNoBlock, $how', ({ loader, env, budget }) => {
  it('rejects a 150 ms pbkdf2Sync loop with the culprit, hint and stack; passes short steps; passes errors on', async () => {
    const o = await outcomes(loader, env);
    const sync = o.get('sync block')!;
    expect(sync).toMatchObject({ ok: false, error: 'LoopwatchBlockedError', code: 'LOOPWATCH_ERR_BLOCKED', blocks: 1 });
    const [first, hint, ...stack] = sync.message!.split('\n');
    expect(first).toMatch(new RegExp(`^blocked the event loop for \\d+\\.\\d ms \\(budget ${budget} ms\\) in hashForAWhile \\(test/fixtures/assert/no-block\\.cjs:\\d+\\)$`));
    expect(hint).toBe('hint: crypto.pbkdf2Sync blocks the loop; use crypto.pbkdf2 (async, runs on the libuv pool)');
    expect(stack.some((l) => /^ {4}at hashForAWhile \(test\/fixtures\/assert\/no-block\.cjs:\d+:\d+\)$/.test(l)), sync.message).toBe(true);

    expect(o.get('async, short steps')).toEqual({ name: 'async, short steps', ok: true, value: 'fine' });
    expect(o.get('async, long step after an await')).toMatchObject({ ok: false, code: 'LOOPWATCH_ERR_BLOCKED', blocks: 1 });
    expect(o.get('fn throws')).toEqual({ name: 'fn throws', ok: false, error: 'TypeError', message: 'from the test' });
  });

  it('says why a budget cannot be checked', async () => {
    const o = await outcomes(loader, env);
    expect(o.get('budget below the threshold')).toMatchObject({
      ok: false, code: 'LOOPWATCH_ERR_INVALID_OPTION_VALUE',
      message: expect.stringMatching(/^options\.budgetMs must be >= the running agent's threshold \(\d+ ms\), got 1: /),
    });
    expect(o.get('bad budget')).toMatchObject({ ok: false, error: 'LoopwatchRangeError', message: 'options.budgetMs must be a number >= 1 and <= 3600000, got -5' });
  });
});
