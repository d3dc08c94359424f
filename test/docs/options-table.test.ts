/**
 * docs/configuration.md shows the options table that src/options.ts generates, so the page
 * cannot drift from what start() and the register entry accept. To update the page after a
 * change of the table: LOOPWATCH_WRITE_DOCS=1 npx vitest run test/docs/options-table.test.ts
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { DEFAULTS, optionsMarkdown, OPTIONS } from '../../src/options.js';

const page = fileURLToPath(new URL('../../docs/configuration.md', import.meta.url));
const START = '<!-- options table: generated from src/options.ts -->\n';
const END = '<!-- end of options table -->\n';

function tableOf(text: string): string {
  const from = text.indexOf(START);
  const to = text.indexOf(END);
  if (from < 0 || to < from) throw new Error(`docs/configuration.md has no ${JSON.stringify(START.trim())} … ${JSON.stringify(END.trim())} block`);
  return text.slice(from + START.length, to);
}

describe('options table', () => {
  it('has a row for every option, in the order of DEFAULTS, and one per variable', () => {
    expect(OPTIONS.flatMap((r) => (r.key === null ? [] : [r.key]))).toEqual(Object.keys(DEFAULTS));
    const envs = OPTIONS.flatMap((r) => (r.env === null ? [] : [r.env]));
    expect(new Set(envs).size).toBe(envs.length);
  });

  it('docs/configuration.md shows the generated table', () => {
    const text = readFileSync(page, 'utf8');
    const generated = optionsMarkdown();
    if (process.env.LOOPWATCH_WRITE_DOCS === '1') {
      writeFileSync(page, text.replace(START + tableOf(text), START + generated));
      return;
    }
    expect(tableOf(text), 'docs/configuration.md is stale: LOOPWATCH_WRITE_DOCS=1 npx vitest run test/docs/options-table.test.ts').toBe(generated);
  });
});
