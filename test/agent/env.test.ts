/**
 * LOOPWATCH_* environment variables read by the register entry: bad values warn once each
 * and fall back to the defaults; LOOPWATCH_LOG and LOOPWATCH_ENABLED route or silence lines.
 */
import { appendFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, cleanup, parseBlockLines, quit, spawnFixture, warnings } from '../helpers/child.js';
import { request } from '../helpers/http.js';

beforeAll(assertBuilt);
afterEach(cleanup);

const CODE = 'LOOPWATCH_WARN_INVALID_ENV';
const NODE_WARNING = new RegExp(`^\\(node:\\d+\\) \\[${CODE}\\] LoopwatchWarning: `);

const INVALID: { title: string; env: Record<string, string> }[] = [
  {
    title: 'LOOPWATCH_THRESHOLD_MS=abc, LOOPWATCH_CONTEXT=maybe, LOOPWATCH_LOG="   "',
    env: { LOOPWATCH_THRESHOLD_MS: 'abc', LOOPWATCH_CONTEXT: 'maybe', LOOPWATCH_LOG: '   ' },
  },
  { title: 'LOOPWATCH_THRESHOLD_MS=0', env: { LOOPWATCH_THRESHOLD_MS: '0' } },
];

describe('invalid values', () => {
  for (const { title, env } of INVALID) {
    it(`${title} → one warning per variable, the defaults, blocks still detected`, async () => {
      const child = spawnFixture('http-app.cjs', { env });
      const port = await child.port();
      expect((await request(port, '/block/sync?ms=200')).status).toBe(200);
      const [line] = await child.waitForBlocks(1);
      // Defaults: threshold 50, lines on stderr, context on.
      expect(line.block.thresholdMs).toBe(50);
      expect(line.block.context).toMatchObject({ kind: 'http', method: 'GET', path: '/block/sync' });
      expect(line.block.culprit?.function).toBe('burnCpu');
      expect(await quit(child, port)).toEqual({ code: 0, signal: null });

      const all = warnings(child.stderr, CODE);
      expect(all, child.stderr).toHaveLength(Object.keys(env).length);
      for (const [name, value] of Object.entries(env)) {
        const mine = all.filter((w) => w.includes(name));
        expect(mine, `warnings naming ${name}:\n${child.stderr}`).toHaveLength(1);
        expect(mine[0]).toMatch(NODE_WARNING);
        expect(mine[0]).toContain(JSON.stringify(value));
      }
    });
  }
});

describe('LOOPWATCH_LOG', () => {
  let dir: string | undefined;
  afterEach(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
    dir = undefined;
  });

  it('a file path: lines are appended there as JSONL, not written to stderr', async () => {
    dir = mkdtempSync(join(tmpdir(), 'loopwatch-log-'));
    const file = join(dir, 'blocks.jsonl');
    appendFileSync(file, '{"previous":true}\n');
    const child = spawnFixture('http-app.cjs', { env: { LOOPWATCH_LOG: file } });
    const port = await child.port();
    expect((await request(port, '/block/sync?ms=200')).status).toBe(200);
    const read = (): string[] => readFileSync(file, 'utf8').split('\n').filter(Boolean);
    await child.waitFor(() => read().length >= 2, { timeoutMs: 5000, what: `a block line in ${file}` });
    expect(await quit(child, port)).toEqual({ code: 0, signal: null });

    const lines = read();
    expect(lines[0]).toBe('{"previous":true}');
    const all = parseBlockLines(lines.slice(1).map((text) => ({ text, at: 0 })));
    expect(all, lines.join('\n')).toHaveLength(lines.length - 1);
    // As on stderr, lines written before the fixture was ready (its warm-up) are not counted.
    const blocks = all.filter((b) => child.afterReady(b));
    expect(blocks, lines.join('\n')).toHaveLength(1);
    expect(blocks[0].block.context.path).toBe('/block/sync');
    expect(child.allBlocks('stderr'), child.describe()).toHaveLength(0);
    expect(child.allBlocks('stdout'), child.describe()).toHaveLength(0);
  });

  it('stdout: lines go to stdout, not stderr', async () => {
    const child = spawnFixture('http-app.cjs', { env: { LOOPWATCH_LOG: 'stdout' } });
    const port = await child.port();
    expect((await request(port, '/block/sync?ms=200')).status).toBe(200);
    await child.waitForBlocks(1, { stream: 'stdout' });
    expect(await quit(child, port)).toEqual({ code: 0, signal: null });
    expect(child.blocks('stdout'), child.describe()).toHaveLength(1);
    expect(child.allBlocks('stderr'), child.describe()).toHaveLength(0);
  });

  it('off: no line anywhere, while the watchdog runs', async () => {
    const child = spawnFixture('http-app.cjs', { env: { LOOPWATCH_LOG: 'off' } });
    const port = await child.port();
    expect(JSON.parse((await request(port, '/status')).body)).toEqual({ agent: true, workers: 1 });
    expect((await request(port, '/block/sync?ms=200')).status).toBe(200);
    expect(await quit(child, port)).toEqual({ code: 0, signal: null });
    expect(child.allBlocks('stderr'), child.describe()).toHaveLength(0);
    expect(child.allBlocks('stdout'), child.describe()).toHaveLength(0);
    expect(child.stderr).toBe('');
  });
});

describe('LOOPWATCH_ENABLED=false', () => {
  it('no agent, no worker, no line', async () => {
    const child = spawnFixture('http-app.cjs', { env: { LOOPWATCH_ENABLED: 'false' } });
    const port = await child.port({ watchdog: false });
    expect(JSON.parse((await request(port, '/status')).body)).toEqual({ agent: false, workers: 0 });
    expect((await request(port, '/block/sync?ms=200')).status).toBe(200);
    expect(await quit(child, port)).toEqual({ code: 0, signal: null });
    expect(child.allBlocks('stderr'), child.describe()).toHaveLength(0);
    expect(child.stderr).toBe('');
  });
});
