/**
 * Fault matrix, a broken install: the watchdog's file is missing (a partial copy, a bundler
 * that left it out). The app must run and end as without loopwatch, with one warning that
 * names the missing file.
 */
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, cleanup, DIST, spawnFixture, warnings } from '../helpers/child.js';

beforeAll(assertBuilt);
let dir: string | undefined;
afterEach(async () => {
  await cleanup();
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

describe('the watchdog worker file is missing', () => {
  it('one LOOPWATCH_WARN_WORKER_FAILED warning naming it; the app prints and exits as without loopwatch', async () => {
    dir = mkdtempSync(join(tmpdir(), 'loopwatch-broken-'));
    cpSync(DIST, dir, { recursive: true, filter: (src) => !src.endsWith(join('watchdog', 'worker.cjs')) });
    const bare = spawnFixture('hello.cjs', { loader: 'none' });
    const child = spawnFixture('hello.cjs', { loader: 'none', nodeArgs: ['--require', join(dir, 'register.cjs')] });
    const [bareExit, exit] = await Promise.all([bare.waitForExit(10_000), child.waitForExit(10_000)]);
    expect(exit, child.describe()).toEqual(bareExit);
    expect(exit).toEqual({ code: 0, signal: null });
    expect(child.stdout).toBe(bare.stdout);
    const warned = warnings(child.stderr, 'LOOPWATCH_WARN_WORKER_FAILED');
    expect(warned, child.stderr).toHaveLength(1);
    expect(warned[0]).toContain(join(dir, 'watchdog', 'worker.cjs'));
    // The app's own stderr line is there, unchanged.
    expect(child.stderrLines.map((l) => l.text)).toContain('to stderr');
  });
});
