// Blocks at start-up under CPU contention (issue 13): --copies processes started at once,
// each blocking --block-ms with a busy loop --after-ms after start and then exiting, as
// services do in a rolling deploy or tests on a CI runner. Counts the copies whose block
// has a line (matched by time against the copy's own account of it), how many of those
// lines carry a stack, and duplicates.
//
//   node bench/startup-contention.mjs [--rounds 5] [--copies 18] [--block-ms 150] [--after-ms 20]
//
// The copies are not pinned: they compete for every core, which is the point.
import { join } from 'node:path';
import { BENCH_DIR, benchCli, emitJson, machineFacts, onLines, printMachine, printTable, spawnNode } from './lib.mjs';

const HELP = `usage: node bench/startup-contention.mjs [options]
  --agent DIR      agent build to load (a dist/ folder; default dist/, copied first)
  --node PATH      node binary for the copies (default: this node)
  --rounds N       rounds of copies started at once, default 5
  --copies N       copies per round, default 18
  --block-ms MS    length of each copy's block, default 150
  --after-ms MS    when it starts after the copy's start, default 20`;

const { opts, build, nodeBin } = benchCli(HELP, {
  rounds: { type: 'string', default: '5' },
  copies: { type: 'string', default: '18' },
  'block-ms': { type: 'string', default: '150' },
  'after-ms': { type: 'string', default: '20' },
});
const rounds = Number(opts.rounds);
const copies = Number(opts.copies);
const params = { rounds, copies, blockMs: Number(opts['block-ms']), afterMs: Number(opts['after-ms']) };
const machine = machineFacts(nodeBin, build);
printMachine('blocks at start-up under CPU contention', machine, params);

const script = join(BENCH_DIR, '..', 'test', 'fixtures', 'startup-contention.cjs');

/** One copy: its own account of the block ({from, to} on stdout) and its block lines (stderr). */
function runCopy() {
  return new Promise((resolve) => {
    const child = spawnNode({ nodeBin, script, args: [String(params.blockMs), String(params.afterMs)], agent: build.register, cpu: '' });
    let truth = null;
    const lines = [];
    onLines(child.stdout, (line) => {
      if (line.startsWith('{"from":')) truth = JSON.parse(line);
    });
    onLines(child.stderr, (line) => {
      if (!line.includes('"event loop blocked"')) return;
      try {
        lines.push(JSON.parse(line).block);
      } catch {
        // not a block line
      }
    });
    child.on('close', (code) => resolve({ code, truth, lines }));
  });
}

const results = [];
for (let r = 0; r < rounds; r++) {
  const runs = await Promise.all(Array.from({ length: copies }, runCopy));
  let reported = 0;
  let withStack = 0;
  let duplicates = 0;
  let failed = 0;
  const durations = [];
  for (const run of runs) {
    if (run.code !== 0 || !run.truth) {
      failed++;
      continue;
    }
    // This copy's block: a line covering most of it (the two clocks differ by a few ms).
    const mine = run.lines.filter((b) => {
      const from = Date.parse(b.startedAt);
      return Math.min(run.truth.to, from + b.durationMs) - Math.max(run.truth.from, from) >= (run.truth.to - run.truth.from) / 2;
    });
    if (mine.length > 0) reported++;
    if (mine.length > 1) duplicates++;
    if (mine.some((b) => b.culprit)) withStack++;
    durations.push(...mine.map((b) => b.durationMs));
  }
  results.push({ round: r + 1, reported, withStack, duplicates, failed, minDurationMs: Math.min(...durations), maxDurationMs: Math.max(...durations) });
  process.stderr.write(`round ${r + 1}/${rounds}: ${reported} of ${copies} blocks reported, ${withStack} with a stack\n`);
}

printTable(['round', `reported (of ${copies})`, 'with a stack', 'duplicates', 'copies failed', 'duration min / max ms'],
  results.map((x) => [String(x.round), String(x.reported), String(x.withStack), String(x.duplicates), String(x.failed), `${x.minDurationMs} / ${x.maxDurationMs}`]));
const sum = (key) => results.reduce((s, x) => s + x[key], 0);
const summary = { blocks: rounds * copies, reported: sum('reported'), withStack: sum('withStack'), duplicates: sum('duplicates'), failed: sum('failed') };
console.log(`${summary.reported} of ${summary.blocks} start-up blocks reported (${summary.withStack} with a stack), ${summary.duplicates} duplicated, ${summary.failed} copies failed`);
emitJson('startup-contention', { machine, params, summary, rounds: results });
