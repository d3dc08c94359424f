/**
 * Real blocking library calls in a child process under `--require dist/register.cjs`: the
 * culprit is the app function that made the call, and the hint names the call and what to
 * use instead. Fixture: test/attribution/fixtures/library-calls.cjs.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, cleanup, spawnFixture } from '../helpers/child.js';

beforeAll(assertBuilt);
afterEach(cleanup);

const CASES: { kind: string; what: string; culprit: string; hint: RegExp }[] = [
  { kind: 'json', what: 'a loop of JSON.parse of 1.5 MB', culprit: 'parseBigPayload', hint: /^JSON\.parse .*worker thread.*streaming parser/ },
  { kind: 'json-once', what: 'one JSON.parse of 15 MB, sampled only after it returned', culprit: 'handleUpload', hint: /^JSON\.parse / },
  { kind: 'pbkdf2', what: 'crypto.pbkdf2Sync', culprit: 'deriveKeys', hint: /crypto\.pbkdf2 \(async/ },
  { kind: 'readfile', what: 'fs.readFileSync', culprit: 'loadTemplate', hint: /fs\/promises/ },
  { kind: 'gzip', what: 'zlib.gzipSync', culprit: 'compressBody', hint: /async zlib/ },
  { kind: 'gunzip', what: 'zlib.gunzipSync', culprit: 'inflateBody', hint: /async zlib/ },
  { kind: 'exec', what: 'child_process.execSync', culprit: 'runGitStatus', hint: /exec\/execFile\/spawn/ },
  { kind: 'regex', what: 'a backtracking RegExp.test', culprit: 'validateInput', hint: /regular expression.*bound the input/ },
  { kind: 'sort', what: 'Array.prototype.sort with a comparator', culprit: 'rankScores', hint: /sorting a large array/ },
  { kind: 'bcrypt', what: 'bcryptjs hashSync', culprit: 'hashPassword', hint: /bcrypt hashSync.*async/ },
];

describe('blocking library calls', () => {
  for (const c of CASES) {
    it(`${c.what} → culprit ${c.culprit} and its hint`, async () => {
      const child = spawnFixture('../attribution/fixtures/library-calls.cjs', { args: [c.kind, '300'] });
      await child.ready();
      const line = await child.waitFor(() => child.blocks().find((b) => !b.block.ongoing), { timeoutMs: 10_000, what: 'the final block line' });
      const done = await child.waitForStdout(/"done":true/);
      const { tookMs } = JSON.parse(done.text) as { tookMs: number };
      const seen = `${JSON.stringify(line.block)}, app timed ${tookMs} ms`;
      // The loops last the 300 ms asked for; one parse of 15 MB as long as this machine takes.
      expect(tookMs, seen).toBeGreaterThanOrEqual(c.kind === 'json-once' ? 60 : 290);
      // The block is the call's, from a beat before it began to the one after it ended.
      expect(line.block.durationMs, seen).toBeGreaterThanOrEqual(tookMs - 5);
      expect(line.block.durationMs, seen).toBeLessThan(tookMs + 100);
      expect(line.block.culprit?.function, seen).toBe(c.culprit);
      expect(line.block.culprit?.file, seen).toBe('test/attribution/fixtures/library-calls.cjs');
      expect(line.block.hint, seen).toMatch(c.hint);
      expect(await child.waitForExit(10_000)).toEqual({ code: 0, signal: null });
    });
  }
});
