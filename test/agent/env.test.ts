/**
 * LOOPWATCH_* environment variables read by the register entry: bad values warn once each
 * and fall back to the defaults; LOOPWATCH_LOG and LOOPWATCH_ENABLED route or silence lines.
 */
import { appendFileSync, chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, cleanup, parseBlockLines, quit, spawnFixture, warnings } from '../helpers/child.js';
import { request } from '../helpers/http.js';

beforeAll(assertBuilt);
afterEach(cleanup);

const CODE = 'LOOPWATCH_WARN_INVALID_ENV';
const NODE_WARNING = new RegExp(`^\\(node:\\d+\\) \\[${CODE}\\] LoopwatchWarning: `);

/** Every variable the register entry reads. */
const ALL_VARS = [
  'LOOPWATCH_THRESHOLD_MS', 'LOOPWATCH_LOG', 'LOOPWATCH_CONTEXT', 'LOOPWATCH_ENABLED', 'LOOPWATCH_OTEL',
  'LOOPWATCH_OTEL_RUNTIME_METRICS', 'LOOPWATCH_PROMETHEUS_PORT', 'LOOPWATCH_PROMETHEUS_HOST', 'LOOPWATCH_METRICS_TOP_N',
  'LOOPWATCH_WORKER_THREADS', 'LOOPWATCH_LOG_LIMIT', 'LOOPWATCH_LOG_INTERVAL_MS',
];
const every = (value: string): Record<string, string> => Object.fromEntries(ALL_VARS.map((name) => [name, value]));

const INVALID: { title: string; env: Record<string, string>; message?: RegExp }[] = [
  {
    title: 'LOOPWATCH_THRESHOLD_MS=abc, LOOPWATCH_CONTEXT=maybe, LOOPWATCH_LOG="   "',
    env: { LOOPWATCH_THRESHOLD_MS: 'abc', LOOPWATCH_CONTEXT: 'maybe', LOOPWATCH_LOG: '   ' },
  },
  { title: 'LOOPWATCH_THRESHOLD_MS=0', env: { LOOPWATCH_THRESHOLD_MS: '0' } },
  {
    title: 'every other variable set to a value out of its kind or bounds',
    env: {
      LOOPWATCH_ENABLED: 'perhaps', LOOPWATCH_OTEL: 'maybe', LOOPWATCH_OTEL_RUNTIME_METRICS: 'sometimes', LOOPWATCH_PROMETHEUS_PORT: '70000',
      LOOPWATCH_METRICS_TOP_N: '0', LOOPWATCH_WORKER_THREADS: '2', LOOPWATCH_LOG_LIMIT: 'lots', LOOPWATCH_LOG_INTERVAL_MS: '10',
    },
    message: /" is not valid \(.*allowed: .+\); using the default$/,
  },
  // Issue 13: an empty value (a template that lost it) was silently the default.
  { title: 'every LOOPWATCH_* variable empty', env: every(''), message: /="" is not valid \(it is empty; allowed: .+\); using the default$/ },
  { title: 'every LOOPWATCH_* variable blank', env: every(' \t'), message: /=" \\t" is not valid \(it is empty; allowed: .+\); using the default$/ },
  {
    title: 'LOOPWATCH_PROMETHEUS_HOST=999.1.1.1 (not an IP address, not a host name)',
    env: { LOOPWATCH_PROMETHEUS_HOST: '999.1.1.1' },
    message: /^.*LOOPWATCH_PROMETHEUS_HOST="999\.1\.1\.1" is not valid \(not an IP address: 999 is more than 255; allowed: an IP address or host name\); using the default$/,
  },
];

describe('invalid values', () => {
  for (const { title, env, message } of INVALID) {
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
        const mine = all.filter((w) => w.includes(`${name}=`));
        expect(mine, `warnings naming ${name}:\n${child.stderr}`).toHaveLength(1);
        expect(mine[0]).toMatch(NODE_WARNING);
        expect(mine[0]).toContain(`${name}=${JSON.stringify(value)}`);
        if (message) expect(mine[0]).toMatch(message);
      }
      expect(warnings(child.stderr, 'LOOPWATCH_WARN_PROMETHEUS_ENDPOINT'), child.stderr).toHaveLength(0);
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

  /**
   * An unusable file falls back to stderr with one warning saying so, for the final lines
   * and the ongoing ones of a block still going on (issue 13). 800 ms: past stuckMs (500).
   */
  async function fallsBackToStderr(env: Record<string, string>, extra: { uid?: number; gid?: number } = {}): Promise<string> {
    const child = spawnFixture('http-app.cjs', { env, ...extra });
    const port = await child.port();
    expect((await request(port, '/block/sync?ms=800')).status).toBe(200);
    const lines = await child.waitFor(() => {
      const b = child.blocks();
      return b.some((l) => !l.block.ongoing) ? b : undefined;
    }, { timeoutMs: 5000, what: 'the final block line on stderr' });
    expect(await quit(child, port)).toEqual({ code: 0, signal: null });
    const ongoing = lines.filter((l) => l.block.ongoing);
    const final = lines.filter((l) => !l.block.ongoing);
    expect(ongoing.length, child.describe()).toBeGreaterThanOrEqual(1);
    expect(ongoing[0].block.culprit?.function).toBe('burnCpu');
    expect(final, child.describe()).toHaveLength(1);
    expect(final[0].block.durationMs).toBeGreaterThanOrEqual(790);
    expect(final[0].block.context.path).toBe('/block/sync');
    const warned = warnings(child.stderr, 'LOOPWATCH_WARN_LOG_DESTINATION');
    expect(warned, child.stderr).toHaveLength(1);
    expect(warned[0]).toContain(JSON.stringify(env.LOOPWATCH_LOG));
    expect(warned[0]).toContain('block lines go to stderr instead');
    // The warm-up's lines, before the ready line, went to stderr too: none was lost.
    expect(child.allBlocks().length).toBeGreaterThan(lines.length);
    return warned[0];
  }

  it('a folder that does not exist: lines, ongoing ones too, go to stderr, and the warning says so', async () => {
    dir = mkdtempSync(join(tmpdir(), 'loopwatch-log-'));
    const warning = await fallsBackToStderr({ LOOPWATCH_LOG: join(dir, 'missing', 'blocks.jsonl') });
    expect(warning).toMatch(/cannot open .*ENOENT/);
  });

  it('a read-only file: lines, ongoing ones too, go to stderr, and the warning says so', async () => {
    dir = mkdtempSync(join(tmpdir(), 'loopwatch-log-'));
    const file = join(dir, 'blocks.jsonl');
    writeFileSync(file, '');
    chmodSync(file, 0o444);
    // Root writes read-only files anyway: the fixture then runs as nobody, as an app would.
    const asUser = process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : {};
    const warning = await fallsBackToStderr({ LOOPWATCH_LOG: file }, asUser);
    expect(warning).toMatch(/cannot open .*EACCES/);
    expect(readFileSync(file, 'utf8')).toBe('');
  });

  it('a file that opens but takes no writes (/dev/full: a full disk): lines go to stderr from the first failed write', async () => {
    const warning = await fallsBackToStderr({ LOOPWATCH_LOG: '/dev/full' });
    expect(warning).toMatch(/cannot write to .*ENOSPC/);
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
