/**
 * A TypeScript app compiled by tsc (external .map files, inline maps, no maps) runs in a
 * child process under `--require dist/register.cjs`, with and without --enable-source-maps:
 * block lines must name the .ts file, line and column, and the fingerprint must not depend
 * on whether maps were found. The same app gives the profile of a block that passes through
 * two functions.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, type BlockLine, cleanup, FIXTURES, ROOT, spawnFixture } from '../helpers/child.js';

let app = '';
const SRC = join(FIXTURES, 'ts', 'src');
const blockingTs = readFileSync(join(SRC, 'blocking.ts'), 'utf8').split('\n');
const mainTs = readFileSync(join(SRC, 'main.ts'), 'utf8').split('\n');

/** 1-based line of the first line containing `text`, and the 1-based column of `at` in it. */
function position(lines: string[], text: string, at: string): { line: number; column: number } {
  const i = lines.findIndex((l) => l.includes(text));
  if (i === -1) throw new Error(`no line with ${text}`);
  return { line: i + 1, column: lines[i].indexOf(at) + 1 };
}

/** Builds the app with tsc: dist/ with .map files, build/ with inline maps, lib/ without maps. */
beforeAll(() => {
  assertBuilt();
  app = mkdtempSync(join(tmpdir(), 'loopwatch-ts-'));
  mkdirSync(join(app, 'src'));
  for (const f of readdirSync(SRC)) copyFileSync(join(SRC, f), join(app, 'src', f));
  writeFileSync(join(app, 'package.json'), JSON.stringify({ type: 'commonjs', private: true }));
  const base = {
    target: 'ES2022', module: 'commonjs', strict: true, skipLibCheck: true, rootDir: 'src',
    types: ['node'], typeRoots: [join(ROOT, 'node_modules', '@types')],
  };
  const variants: Record<string, object> = {
    dist: { sourceMap: true },
    build: { inlineSourceMap: true },
    lib: {},
  };
  for (const [outDir, maps] of Object.entries(variants)) {
    const config = join(app, `tsconfig.${outDir}.json`);
    writeFileSync(config, JSON.stringify({ compilerOptions: { ...base, ...maps, outDir }, include: ['src'] }));
    execFileSync(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', config], { cwd: app, stdio: 'pipe' });
  }
}, 60_000);

afterEach(cleanup);
afterAll(() => {
  if (app) rmSync(app, { recursive: true, force: true });
});

async function runApp(outDir: string, nodeArgs: string[], args: string[]): Promise<BlockLine> {
  const child = spawnFixture(join(app, outDir, 'main.js'), {
    cwd: app,
    nodeArgs,
    args,
    env: { LOOPWATCH_TEST_READY: join(FIXTURES, 'watchdog-ready.cjs') },
  });
  await child.ready();
  const line = await child.waitFor(() => child.blocks().find((b) => !b.block.ongoing), { timeoutMs: 10_000, what: 'the final block line' });
  await child.waitForExit(10_000);
  return line;
}

const fingerprints = new Set<string>();

describe('TypeScript compiled by tsc, mapped in the watchdog', () => {
  const busy = position(blockingTs, '@busy-crunch', 'checksum');
  const loop = { line: busy.line - 1, column: blockingTs[busy.line - 2].indexOf('while') + 1 };
  const call = position(mainTs, 'else crunchNumbers(ms)', 'crunchNumbers');

  for (const [outDir, maps] of [['dist', 'external .map files'], ['build', 'inline maps']]) {
    for (const nodeArgs of [[], ['--enable-source-maps']]) {
      it(`${maps}${nodeArgs.length ? ', with --enable-source-maps' : ''}: culprit at the .ts line and column`, async () => {
        const line = await runApp(outDir, nodeArgs, ['crunch', '200']);
        const seen = JSON.stringify(line.block);
        const c = line.block.culprit;
        expect(c?.function, seen).toBe('crunchNumbers');
        expect(c?.file, seen).toBe('src/blocking.ts');
        // The sample lands at the loop's back-edge (the while) or inside its body.
        const at = c?.line === loop.line ? loop : busy;
        expect([loop.line, busy.line], seen).toContain(c?.line);
        expect(c?.column, seen).toBe(at.column);
        // Once mapped: the caller is the .ts line that calls crunchNumbers.
        const caller = line.block.stack.find((f) => f.file === 'src/main.ts');
        expect(caller?.line, seen).toBe(call.line);
        expect(caller?.inApp, seen).toBe(true);
        expect(line.block.stack.filter((f) => f.inApp).map((f) => f.file), seen).toEqual(['src/blocking.ts', 'src/main.ts']);
        fingerprints.add(line.block.fingerprint);
      });
    }
  }

  it('without maps: the .js position, and the same fingerprint as from the .ts', async () => {
    const line = await runApp('lib', [], ['crunch', '200']);
    const seen = JSON.stringify(line.block);
    expect(line.block.culprit?.function, seen).toBe('crunchNumbers');
    expect(line.block.culprit?.file, seen).toBe('lib/blocking.js');
    fingerprints.add(line.block.fingerprint);
    expect([...fingerprints], seen).toHaveLength(1);
  });
});

describe('profile', () => {
  it('a 1 s block spent half in each of two functions shows both with shares near 0.5', async () => {
    const line = await runApp('dist', [], ['two', '1000']);
    const { profile } = line.block;
    const seen = JSON.stringify(line.block);
    expect(line.block.durationMs, seen).toBeGreaterThanOrEqual(950);
    const one = profile.find((p) => p.function === 'phaseOne');
    const two = profile.find((p) => p.function === 'phaseTwo');
    expect(one?.file, seen).toBe('src/blocking.ts');
    expect(one?.line, seen).toBe(position(blockingTs, '@busy-one', 'while').line);
    expect(two?.line, seen).toBe(position(blockingTs, '@busy-two', 'while').line);
    expect(one?.share, seen).toBeGreaterThanOrEqual(0.25);
    expect(one?.share, seen).toBeLessThanOrEqual(0.75);
    expect(two?.share, seen).toBeGreaterThanOrEqual(0.25);
    expect(two?.share, seen).toBeLessThanOrEqual(0.75);
    expect(profile.reduce((sum, p) => sum + p.share, 0), seen).toBeLessThanOrEqual(1);
  });
});
