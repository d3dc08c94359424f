import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, FIXTURES } from '../helpers/child.js';
import { copyProject, killCliRuns, runCli } from '../helpers/cli.js';

// Test runners under `loopwatch run --fail-on-block`: their workers are separate processes
// (vitest's forks, one process per file for node --test) or threads (vitest's threads pool),
// all reached through NODE_OPTIONS. Each project has a test that runs pbkdf2Sync in a loop
// for ~150 ms and one that only awaits.
const projects: { dir: string; remove(): void }[] = [];
function project(name: string): string {
  const p = copyProject(`${FIXTURES}cli/${name}`);
  projects.push(p);
  return p.dir;
}

beforeAll(assertBuilt);
afterEach(() => {
  killCliRuns();
  for (const p of projects.splice(0)) p.remove();
});

const RUNNERS: { name: string; project: string; command: string[]; env: Record<string, string> }[] = [
  { name: 'vitest (forks)', project: 'vitest-project', command: ['npx', 'vitest', 'run'], env: {} },
  { name: 'vitest (threads)', project: 'vitest-project', command: ['npx', 'vitest', 'run'], env: { FIXTURE_POOL: 'threads' } },
  { name: 'node --test', project: 'node-test-project', command: [process.execPath, '--test'], env: {} },
];

describe.each(RUNNERS)('loopwatch run --fail-on-block -- $name', ({ project: name, command, env }) => {
  it('fails on the test that blocks, naming the test and the blocking function', async () => {
    const cwd = project(name);
    const r = await runCli(['run', '--fail-on-block=100', '--', ...command], { cwd, env, timeoutMs: 90_000 });
    expect(r.code, r.stderr).toBe(3);
    const failure = r.stderr.slice(r.stderr.indexOf('loopwatch: FAILED'));
    expect(failure).toMatch(/FAILED: \d+ blocks? of 100 ms or more/);
    const worst = /test hash\.test\.mjs > passwords > hashes them on the loop: 1 block, worst (\d+\.\d) ms/.exec(failure)?.[1];
    expect(Number(worst), failure).toBeGreaterThanOrEqual(100);
    expect(failure).toMatch(/culprit: hashPasswords \(hash\.test\.mjs:\d+\)/);
    expect(failure).toContain('hint: crypto.pbkdf2Sync blocks the loop');
    // The test that only awaits is not named.
    expect(r.stderr).not.toContain('waits without blocking');
  });

  it('passes once that test is removed', async () => {
    const cwd = project(name);
    rmSync(join(cwd, 'hash.test.mjs'));
    const r = await runCli(['run', '--fail-on-block=100', '--', ...command], { cwd, env, timeoutMs: 90_000 });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/loopwatch: no block of 100 ms or more in tests or app code/);
  });
});

describe('a failing test run under loopwatch run', () => {
  it("keeps the runner's failing exit code", async () => {
    const cwd = project('node-test-project');
    const r = await runCli(['run', '--fail-on-block', '--', process.execPath, '--test', '--test-name-pattern=no such test', join(cwd, 'missing.test.mjs')], { cwd });
    expect(r.code, r.stderr).toBe(1);
  });
});
