/**
 * start({ logger }) with a real pino instance writing to a file: block events go to a child
 * of it, in the worker line's shape, in addition to the worker's line or (log: 'off')
 * instead of it.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, cleanup, parseBlockLines, spawnFixture } from '../helpers/child.js';
import { resolveOptions } from '../../src/config.js';

beforeAll(assertBuilt);

let dir: string | undefined;
afterEach(async () => {
  await cleanup();
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

function logFile(): string {
  dir = mkdtempSync(join(tmpdir(), 'loopwatch-pino-'));
  return join(dir, 'app.log');
}

function appLines(file: string): Record<string, unknown>[] {
  return readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
}

describe('options.logger (pino)', () => {
  it("log: 'off': the block goes only to the app's logger, as a child with the event's shape", async () => {
    const file = logFile();
    const child = spawnFixture('../otel/fixtures/pino-app.cjs', { loader: 'none', env: { LOG_FILE: file, LW_LOG: 'off' } });
    await child.ready();
    const id = (await child.waitForStdout(/^reported /, 10_000)).text.slice('reported '.length);
    const exit = await child.waitForExit(10_000);
    expect(exit).toEqual({ code: 0, signal: null });
    const lines = appLines(file);
    const line = lines.find((l) => (l.block as { id?: string })?.id === id);
    expect(line, JSON.stringify(lines)).toBeDefined();
    expect(line).toMatchObject({ level: 40, name: 'shop', service: 'shop', component: 'loopwatch', msg: 'event loop blocked' });
    const block = line!.block as Record<string, unknown>;
    expect(Object.keys(block)).toEqual(expect.arrayContaining(['context', 'culprit', 'durationMs', 'fingerprint', 'hint', 'id', 'ongoing', 'stack', 'startedAt', 'thread', 'thresholdMs']));
    expect(block.durationMs as number).toBeGreaterThan(100);
    expect((block.stack as { function: string }[]).some((f) => f.function === 'checkout')).toBe(true);
    expect(parseBlockLines(child.stderrLines)).toEqual([]);
  });

  it("default log: the worker's stderr line and the app's logger both get the block", async () => {
    const file = logFile();
    const child = spawnFixture('../otel/fixtures/pino-app.cjs', { loader: 'none', env: { LOG_FILE: file } });
    await child.ready();
    const id = (await child.waitForStdout(/^reported /, 10_000)).text.slice('reported '.length);
    await child.waitForExit(10_000);
    const worker = child.blocks().find((b) => b.block.id === id);
    expect(worker, child.describe()).toBeDefined();
    const app = appLines(file).find((l) => (l.block as { id?: string })?.id === worker!.block.id);
    expect(app, 'the same block in the app log').toBeDefined();
    expect(app!.block).toEqual(worker!.block);
  });

  it('rejects what is not a logger, naming the option', () => {
    expect(() => resolveOptions({ logger: {} })).toThrow(/options\.logger must be a pino logger \(an object with child\(\) and warn\(\)\), got an instance of Object/);
    expect(() => resolveOptions({ logger: 'pino' })).toThrow(TypeError);
    expect(() => resolveOptions({ logger: { child: () => ({}), warn: () => undefined } })).not.toThrow();
  });
});
