/**
 * The source layout follows the two threads: src/main-thread/ runs in the app's thread,
 * src/watchdog/ in loopwatch's worker, src/shared/ holds what both sides agree on (buffer
 * layouts, the probe's expression and answer, the event's shape). The worker must never
 * import the app thread's code, not even its types: that is what keeps the worker bundle
 * free of it and the data path one-way.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../', import.meta.url));
const SRC = join(root, 'src');

const SPECIFIER = /(?:^|[\s;])(?:import|export)\s+(?:type\s+)?(?:[^'";]*?\sfrom\s+)?['"]([^'"]+)['"]/g;

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? filesUnder(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []);
}

/** The project files a source file imports (relative specifiers, `.js` written for `.ts`). */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const out: string[] = [];
  for (const m of text.matchAll(SPECIFIER)) {
    const spec = m[1];
    if (!spec.startsWith('.')) continue;
    const target = resolve(dirname(file), spec.replace(/\.js$/, '.ts'));
    if (!existsSync(target)) throw new Error(`${relative(root, file)} imports ${spec}, which does not exist`);
    out.push(target);
  }
  return out;
}

/** Every project file reachable from `entry` through imports, type-only ones included. */
function closure(entry: string): Set<string> {
  const seen = new Set<string>();
  const todo = [entry];
  while (todo.length > 0) {
    const f = todo.pop()!;
    if (seen.has(f)) continue;
    seen.add(f);
    todo.push(...importsOf(f));
  }
  return seen;
}

const inFolder = (folder: string) => (f: string): boolean => relative(join(SRC, folder), f).split(/[\\/]/)[0] !== '..';
const mainThread = inFolder('main-thread');
/** Entry points and the agent's core sit at src/ root and run in the app's thread too. */
const srcRoot = (f: string): boolean => dirname(f) === SRC;
const rel = (f: string): string => relative(root, f);

describe('source layout', () => {
  it('finds the imports it checks', () => {
    // The checks below are only as good as the parser: it must see the worker's imports.
    const imports = importsOf(join(SRC, 'watchdog', 'worker.ts')).map(rel);
    expect(imports).toContain('src/watchdog/watchdog.ts');
    expect(imports).toContain('src/shared/shared-state.ts');
  });

  it('no file of the worker side imports the main-thread side or the agent', () => {
    const bad = filesUnder(join(SRC, 'watchdog')).flatMap((f) =>
      importsOf(f).filter((t) => mainThread(t) || srcRoot(t)).map((t) => `${rel(f)} → ${rel(t)}`));
    expect(bad).toEqual([]);
  });

  it('shared modules import neither side', () => {
    const bad = filesUnder(join(SRC, 'shared')).flatMap((f) =>
      importsOf(f).filter((t) => mainThread(t) || srcRoot(t) || inFolder('watchdog')(t)).map((t) => `${rel(f)} → ${rel(t)}`));
    expect(bad).toEqual([]);
  });

  it('nothing the watchdog worker loads, directly or not, is main-thread code', () => {
    const reached = [...closure(join(SRC, 'watchdog', 'worker.ts'))];
    expect(reached.filter((f) => mainThread(f) || srcRoot(f)).map(rel)).toEqual([]);
  });

  it('src/ root holds only the entry points and the agent core', () => {
    const rootFiles = readdirSync(SRC).filter((n) => n.endsWith('.ts')).sort();
    expect(rootFiles).toEqual(['agent.ts', 'assert.ts', 'config.ts', 'errors.ts', 'index.ts', 'node-options.ts', 'options.ts', 'otel.ts', 'prometheus.ts', 'register.ts']);
  });
});
