// Copies bench results into the docs that quote them. A quote in a Markdown file is
//
//   <!-- bench-result: routes-node20 -->
//   ...anything (replaced)...
//   <!-- /bench-result -->
//
// and gets the text block of bench/results/routes-node20.md. `--check` changes nothing and
// exits 1 when a quote differs from its file (test/docs/bench-results.test.ts runs it), so
// the figures in the docs are the ones a bench printed, never retyped.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const RESULTS = join(ROOT, 'bench', 'results');
const QUOTE = /(<!-- bench-result: ([\w.-]+) -->\n)([\s\S]*?)(<!-- \/bench-result -->)/g;

/** The part of a results file a doc quotes: its command line and its fenced output. */
export function quoteOf(name) {
  const text = readFileSync(join(RESULTS, `${name}.md`), 'utf8');
  const body = text.split('\n').slice(2).join('\n').trim();
  return `${body}\n`;
}

export function docFiles() {
  return ['README.md', ...readdirSync(join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => join('docs', f))];
}

/** Each doc with its quotes brought up to date: { file, before, after, names }. */
export function refresh() {
  return docFiles().map((file) => {
    const before = readFileSync(join(ROOT, file), 'utf8');
    const names = [];
    const after = before.replace(QUOTE, (_all, open, name, _old, close) => {
      names.push(name);
      return `${open}${quoteOf(name)}${close}`;
    });
    return { file, before, after, names };
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const check = process.argv.includes('--check');
  let stale = 0;
  for (const doc of refresh()) {
    if (doc.after === doc.before) continue;
    stale++;
    if (check) console.error(`${doc.file}: a bench quote differs from bench/results (run node scripts/bench-docs.mjs)`);
    else {
      writeFileSync(join(ROOT, doc.file), doc.after);
      console.log(`${doc.file}: ${doc.names.join(', ')}`);
    }
  }
  if (check && stale > 0) process.exit(1);
}
