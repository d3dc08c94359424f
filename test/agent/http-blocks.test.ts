/**
 * Blocks inside HTTP handlers of a real node:http server in a child process, requested from
 * this process. Every kind runs under `--require dist/register.cjs` (CommonJS app) and under
 * `--import dist/register.js` (ES module app).
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, type BlockLine, cleanup, type Loader, quit, spawnFixture } from '../helpers/child.js';
import { request } from '../helpers/http.js';

beforeAll(assertBuilt);
afterEach(cleanup);

interface Case {
  name: string;
  route: string;
  culprit: string;
  /** A function the culprit must not be (the small helper the interrupt lands in). */
  notCulprit?: string;
  hint?: RegExp;
}

const CASES: Case[] = [
  { name: 'a CPU loop in a synchronous handler', route: '/block/sync', culprit: 'burnCpu' },
  { name: 'a CPU loop after an await in an async handler', route: '/block/after-await', culprit: 'burnCpu' },
  { name: 'a CPU loop in a setTimeout callback the handler scheduled', route: '/block/timeout', culprit: 'burnCpu' },
  { name: 'a loop of crypto.pbkdf2Sync calls', route: '/block/pbkdf2', culprit: 'hashPasswords', hint: /pbkdf2/ },
  { name: 'a loop of fs.readFileSync calls', route: '/block/readfile', culprit: 'readConfigFiles' },
  { name: 'pbkdf2Sync calls with the clock read by a helper (performance.now)', route: '/block/hash-until', culprit: 'hashUntil', notCulprit: 'now', hint: /pbkdf2/ },
  { name: 'pbkdf2Sync calls with the clock read by a helper (Date.now)', route: '/block/hash-until-wall', culprit: 'hashUntilWall', notCulprit: 'wallNow', hint: /pbkdf2/ },
];

const LOADERS: { loader: Loader; fixture: string }[] = [
  { loader: 'require', fixture: 'http-app.cjs' },
  { loader: 'import', fixture: 'http-app.mjs' },
];

function expectHttpBlock(line: BlockLine, c: Case, fixture: string): void {
  const b = line.block;
  // Every assertion carries the whole line, so a failure shows what the agent saw.
  const seen = JSON.stringify(line);
  expect(line, seen).toMatchObject({ level: 40, name: 'loopwatch', msg: 'event loop blocked' });
  expect(b.ongoing, seen).toBe(false);
  expect(b.thresholdMs, seen).toBe(50);
  expect(b.durationMs, seen).toBeGreaterThanOrEqual(190);
  expect(b.durationMs, seen).toBeLessThanOrEqual(260);
  expect(b.context, seen).toMatchObject({ kind: 'http', method: 'GET', path: c.route });
  expect(b.culprit?.function, seen).toBe(c.culprit);
  if (c.notCulprit) expect(b.culprit?.function, seen).not.toBe(c.notCulprit);
  // Files are relative to the app's cwd (the repo root here), also for file:// URLs.
  expect(b.culprit?.file, seen).toBe(`test/fixtures/${fixture}`);
  expect(b.stack.some((f) => f.function === c.culprit && f.inApp), seen).toBe(true);
  if (c.hint) expect(b.hint, seen).toMatch(c.hint);
  expect(b.fingerprint, seen).toMatch(/^[0-9a-f]{16}$/);
  expect(Date.parse(b.startedAt), seen).toBeLessThanOrEqual(line.time);
}

for (const { loader, fixture } of LOADERS) {
  describe(`block in an HTTP handler, --${loader} ${fixture}`, () => {
    for (const c of CASES) {
      it(`${c.name} → one line naming ${c.culprit} and the request`, async () => {
        const child = spawnFixture(fixture, { loader });
        const port = await child.port();
        const res = await request(port, `${c.route}?ms=200&user=42#frag`);
        expect(res.status).toBe(200);
        const [line] = await child.waitForBlocks(1);
        expectHttpBlock(line, c, fixture);
        // Nothing more: no second line for the same block, no ongoing line for a 200 ms block.
        const exit = await quit(child, port);
        expect(exit).toEqual({ code: 0, signal: null });
        expect(child.blocks(), child.describe()).toHaveLength(1);
        expect(child.stdoutLines.at(-1)?.text).toBe('done');
      });
    }
  });
}
