/**
 * Every relative link in the README, docs/ and the other READMEs points at a file that
 * exists and, for a `#anchor`, at a heading of that file (GitHub's anchors: the heading in
 * lower case, punctuation dropped, spaces as dashes, repeats numbered).
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

function markdownFiles(): string[] {
  const files = ['README.md', 'examples/README.md', 'bench/README.md'].map((f) => join(ROOT, f)).filter((f) => existsSync(f));
  const docs = join(ROOT, 'docs');
  if (existsSync(docs)) for (const f of readdirSync(docs)) if (f.endsWith('.md')) files.push(join(docs, f));
  return files;
}

/** The text outside fenced code blocks and inline code, where links are links. */
function prose(text: string): string {
  return text.replace(/^```[\s\S]*?^```/gm, '').replace(/`[^`\n]*`/g, '');
}

export function slug(heading: string): string {
  return heading.trim().toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, '').replace(/\s/g, '-');
}

function anchors(file: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  for (const m of prose(readFileSync(file, 'utf8')).matchAll(/^#{1,6}\s+(.+?)\s*#*\s*$/gm)) {
    const base = slug(m[1].replace(/`/g, ''));
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.add(n === 0 ? base : `${base}-${n}`);
  }
  return out;
}

describe('links in the docs', () => {
  const files = markdownFiles();
  it('finds the docs to check', () => {
    expect(files.map((f) => relative(ROOT, f))).toContain('README.md');
  });

  for (const file of files) {
    it(`${relative(ROOT, file)}: every relative link and anchor resolves`, () => {
      const broken: string[] = [];
      const text = prose(readFileSync(file, 'utf8'));
      for (const m of text.matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) {
        const target = m[1];
        if (/^[a-z]+:/i.test(target)) continue; // https:, mailto:
        const [path, anchor] = target.split('#') as [string, string | undefined];
        const dest = path === '' ? file : resolve(dirname(file), decodeURI(path));
        if (!existsSync(dest)) {
          broken.push(`${target}: no such file`);
          continue;
        }
        if (anchor !== undefined && statSync(dest).isFile() && dest.endsWith('.md') && !anchors(dest).has(anchor)) {
          broken.push(`${target}: no heading #${anchor} in ${relative(ROOT, dest)}`);
        }
      }
      expect(broken).toEqual([]);
    });
  }

  it('slugs headings as GitHub does', () => {
    expect(slug('Runbook: LoopwatchLoopStuck')).toBe('runbook-loopwatchloopstuck');
    expect(slug('Express 4 and 5')).toBe('express-4-and-5');
    expect(slug('LOOPWATCH_CONTEXT=off')).toBe('loopwatch_contextoff');
    expect(slug('node:http')).toBe('nodehttp');
  });
});
