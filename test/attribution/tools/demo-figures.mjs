// Attribution figures on the demo routes: runs examples/demo.mjs --raw RUNS times (from the
// checkout given as the first argument, default this one) and counts, per route, the blocks
// whose culprit is the expected function and whose hint names the expected call.
//
//   node test/attribution/tools/demo-figures.mjs [checkout] [runs]
import { spawnSync } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(process.argv[2] ?? join(dirname(fileURLToPath(import.meta.url)), '../../..'));
const runs = Number(process.argv[3] ?? 3);

const EXPECTED = {
  'GET /cpu': { culprit: 'computeDiscounts', hint: null },
  'GET /json': { culprit: 'parseReport', hint: /JSON\.parse/ },
  'GET /hash': { culprit: 'hashPassword', hint: /pbkdf2/ },
  'GET /file': { culprit: 'loadTemplates', hint: /fs\/promises|file/ },
  'GET /after-await': { culprit: 'renderInvoice', hint: null },
  'GET /timer': { culprit: 'flushMetricsBuffer', hint: null },
  'job nightly-rollup': { culprit: 'rollupDailyTotals', hint: null },
};

function sourceOf(ctx) {
  if (!ctx?.kind) return '(none)';
  if (ctx.kind === 'job') return `job ${ctx.job}`;
  return `${ctx.method} ${ctx.route ?? ctx.path}`;
}

const tally = new Map();
for (let r = 0; r < runs; r++) {
  const out = spawnSync(process.execPath, [join(root, 'examples/demo.mjs'), '--raw'], { cwd: root, encoding: 'utf8', timeout: 30_000 });
  for (const line of out.stdout.split('\n')) {
    if (!line.startsWith('{')) continue;
    let block;
    try {
      block = JSON.parse(line).block;
    } catch {
      continue;
    }
    if (!block || block.ongoing) continue;
    const src = sourceOf(block.context);
    const exp = EXPECTED[src];
    if (!exp) continue;
    const t = tally.get(src) ?? { blocks: 0, culprit: 0, hint: 0, seen: new Map() };
    t.blocks++;
    if (block.culprit?.function === exp.culprit) t.culprit++;
    if (exp.hint ? exp.hint.test(block.hint ?? '') : block.hint === null) t.hint++;
    const key = `${block.culprit?.function} | ${block.hint ?? '-'}`;
    t.seen.set(key, (t.seen.get(key) ?? 0) + 1);
    tally.set(src, t);
  }
}
let blocks = 0, culprits = 0, hints = 0;
console.log(`node ${process.version}, ${root}, ${runs} runs`);
for (const [src, t] of tally) {
  blocks += t.blocks; culprits += t.culprit; hints += t.hint;
  console.log(`${src.padEnd(20)} culprit ${t.culprit}/${t.blocks}  hint ${t.hint}/${t.blocks}  ${[...t.seen].map(([k, n]) => `${n}× ${k}`).join('; ').slice(0, 200)}`);
}
console.log(`total: culprit ${culprits}/${blocks}, hint ${hints}/${blocks}`);
