/**
 * The figures the docs quote from bench/results are the ones the benches printed: every
 * `<!-- bench-result: NAME -->` quote matches bench/results/NAME.md, and every results file
 * is quoted somewhere (a bench run nobody reads is a figure nobody checks).
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
// @ts-expect-error: a plain ESM script without types
import { refresh } from '../../scripts/bench-docs.mjs';
import { ROOT } from '../helpers/child.js';

interface Doc {
  file: string;
  before: string;
  after: string;
  names: string[];
}

describe('bench results quoted in the docs', () => {
  const docs = (refresh as () => Doc[])();

  it('each quote names a results file that exists and matches it (node scripts/bench-docs.mjs refreshes them)', () => {
    const quoted = docs.flatMap((d) => d.names.map((n) => ({ file: d.file, n })));
    expect(quoted.length).toBeGreaterThan(0);
    for (const { file, n } of quoted) expect(existsSync(join(ROOT, 'bench', 'results', `${n}.md`)), `${file} quotes ${n}`).toBe(true);
    for (const d of docs) expect(d.before, `${d.file} is stale`).toBe(d.after);
  });

  it('every file in bench/results is quoted', () => {
    const quoted = new Set(docs.flatMap((d) => d.names));
    const files = readdirSync(join(ROOT, 'bench', 'results')).filter((f) => f.endsWith('.md')).map((f) => f.slice(0, -3));
    expect(files.filter((f) => !quoted.has(f))).toEqual([]);
  });
});
