/**
 * Fault matrix, bad options through the public entry in a real process: each start() with a
 * bad option throws a LoopwatchError naming the option, the value and what is allowed, and
 * leaves nothing running (no watchdog thread, nothing holding the process open). Bad
 * environment variables (warned, then the default) are in test/agent/env.test.ts.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ERROR_CODES } from '../../src/errors.js';
import { cleanup, spawnFixture } from '../helpers/child.js';

afterEach(cleanup);

interface Rejected {
  key: string;
  value: unknown;
  loopwatch: boolean;
  name: string;
  code: string;
  message: string;
}

describe('start() with a bad option, in an app', () => {
  it('every option: a LoopwatchError with a code, naming option, value and what is allowed; nothing left running', async () => {
    const child = spawnFixture('bad-options.cjs', { loader: 'none' });
    // Nothing may keep the process alive after the failed starts: it ends by itself.
    expect(await child.waitForExit(10_000), child.describe()).toEqual({ code: 0, signal: null });
    const lines = child.stdoutLines.map((l) => JSON.parse(l.text) as { rejected?: Rejected; accepted?: string; workers?: number });
    expect(lines.filter((l) => l.accepted), child.stdout).toEqual([]);
    expect(lines.at(-1), child.stdout).toEqual({ workers: 0 });
    const rejected = lines.flatMap((l) => (l.rejected ? [l.rejected] : []));
    for (const r of rejected) {
      const seen = JSON.stringify(r);
      expect(r.loopwatch, seen).toBe(true);
      expect([ERROR_CODES.INVALID_OPTION_TYPE, ERROR_CODES.INVALID_OPTION_VALUE], seen).toContain(r.code);
      expect(r.message, seen).toContain(`options.${r.key} `);
      const shown = typeof r.value === 'object' ? 'an instance of Object' : JSON.stringify(r.value);
      expect(r.message, seen).toContain(r.key === 'threshold' ? 'allowed:' : shown);
    }
    // The cases cover every option there is: the misspelt one's message lists them all.
    const unknown = rejected.find((r) => r.key === 'threshold');
    const allowed = /allowed: (.*)$/.exec(unknown?.message ?? '')?.[1].split(', ') ?? [];
    expect(allowed.length).toBeGreaterThan(10);
    expect(allowed.filter((k) => !rejected.some((r) => r.key === k))).toEqual([]);
    expect(child.stderr).toBe('');
  });
});
