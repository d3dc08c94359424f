// What the request-context subscribers cost per request, measured in-process without HTTP
// (whose noise hides differences of 1 %): bench/ledger-cost-app.cjs runs the request
// lifecycle the context modes touch (request and response objects, the start and finish
// diagnostics-channel messages), in fresh processes, per side, alternating order.
//
//   node bench/ledger-cost.mjs [--node /path/to/node] [--rounds 9] [--iterations 300000]
//
// Sides: none (no agent), off (LOOPWATCH_CONTEXT=off: no subscriber), inflight (the
// ledger), als (an AsyncLocalStorage entered per request; its cost per `await` is not in
// this loop, see bench/overhead.mjs). The per-request figure of a side minus none's is
// what it adds to every request; docs/performance.md sets it beside the CPU per request of
// a hello-world route.
import { join } from 'node:path';
import {
  BENCH_DIR, benchCli, emitJson, machineFacts, median, printMachine, printTable, round, spawnNode, waitForJsonLine,
} from './lib.mjs';

const HELP = `usage: node bench/ledger-cost.mjs [options]
  --agent DIR        agent build to load (a dist/ folder; default dist/, copied first)
  --node PATH        node binary for the children (default: this node)
  --rounds N         rounds (each runs every side once, order rotating), default 9
  --iterations N     requests per child, default 300000
  --concurrency N    requests in flight at once, default 10
  --app-cpu N        core for the children, default 0 ('' = not pinned)`;

const { opts, build, nodeBin } = benchCli(HELP, {
  rounds: { type: 'string', default: '9' },
  iterations: { type: 'string', default: '300000' },
  concurrency: { type: 'string', default: '10' },
});
const rounds = Number(opts.rounds);
const APP = join(BENCH_DIR, 'ledger-cost-app.cjs');
const SIDES = ['none', 'off', 'inflight', 'als'];

async function runSide(side) {
  const env = { BENCH_ITERATIONS: opts.iterations, BENCH_CONCURRENCY: opts.concurrency };
  if (side !== 'none') env.LOOPWATCH_CONTEXT = side;
  const child = spawnNode({ nodeBin, script: APP, agent: side === 'none' ? null : build.register, env, cpu: opts['app-cpu'] });
  const out = await waitForJsonLine(child, (v) => typeof v.nsPerRequest === 'number', 120_000, `${side} child result`);
  await new Promise((resolve) => (child.exitCode !== null ? resolve() : child.once('exit', resolve)));
  if (out.subscribed !== (side === 'inflight' || side === 'als')) throw new Error(`${side}: the start channel ${out.subscribed ? 'had' : 'had no'} subscribers`);
  return out.nsPerRequest;
}

const machine = machineFacts(nodeBin, build);
const params = { rounds, iterations: Number(opts.iterations), concurrency: Number(opts.concurrency), appCpu: opts['app-cpu'] };
printMachine('loopwatch request-context cost per request, in-process (no HTTP)', machine, params);

const perSide = Object.fromEntries(SIDES.map((s) => [s, []]));
const rows = [];
for (let r = 0; r < rounds; r++) {
  const order = SIDES.map((_, k) => SIDES[(k + r) % SIDES.length]);
  const got = {};
  for (const side of order) got[side] = await runSide(side);
  for (const side of SIDES) perSide[side].push(got[side]);
  rows.push([String(r + 1), order.map((s) => s[0].toUpperCase()).join(''), ...SIDES.map((s) => got[s]), ...SIDES.slice(1).map((s) => got[s] - got.none)]);
  process.stderr.write(`round ${r + 1}/${rounds}\n`);
}

console.log('## per round (ns of CPU per request; order: N none, O off, I inflight, A als)');
printTable(['round', 'order', ...SIDES.map((s) => `${s} ns`), ...SIDES.slice(1).map((s) => `${s} - none`)], rows);
console.log('');
const summary = {};
for (const side of SIDES) {
  const added = perSide[side].map((v, i) => v - perSide.none[i]);
  summary[side] = { nsPerRequest: round(median(perSide[side]), 1), addedNs: side === 'none' ? 0 : round(median(added), 1) };
}
console.log(`## summary (medians over ${rounds} rounds)`);
printTable(['side', 'ns/request', 'added ns/request (paired)'], SIDES.map((s) => [s, summary[s].nsPerRequest, s === 'none' ? '-' : summary[s].addedNs]));
console.log('');

emitJson('ledger-cost', { machine, params, summary });
