// What a PerformanceObserver for 'gc' entries costs an allocation-heavy app: operations per
// CPU-ms of a loop of small allocations in setImmediate ticks (~1000 scavenges/s), without
// and with an observer, in fresh processes pinned to one core, alternating. This is why
// loopwatch observes GC only while a block is tracked (src/main-thread/gc-meter.ts).
//
//   node bench/gc-cost.mjs [--rounds 5] [--node PATH] [--app-cpu 1]
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { benchCli, emitJson, machineFacts, median, printMachine, printTable, round } from './lib.mjs';

const HELP = 'node bench/gc-cost.mjs [--rounds N] [--node PATH] [--app-cpu CORE]';
const { opts, nodeBin } = benchCli(HELP, { rounds: { type: 'string', default: '5' } });
const facts = machineFacts(nodeBin, null);
printMachine("gc cost: PerformanceObserver('gc') on an allocation-heavy loop", facts, opts);

const APP = `
const { PerformanceObserver } = require('node:perf_hooks');
let gcs = 0;
if (process.argv[2] === 'on') new PerformanceObserver((l) => { gcs += l.getEntries().length; }).observe({ entryTypes: ['gc'] });
let ops = 0; const end = performance.now() + 3000; const c0 = process.cpuUsage();
// 'kept': each object stays in a ring a while (fewer, larger scavenges); 'short': dropped at once.
const keep = process.argv[3] === 'kept';
const ring = new Array(1024);
function tick() {
  for (let i = 0; i < 2000; i++) { const o = { a: [i, i + 1], b: 'x' + i }; if (keep) ring[i & 1023] = o; ops += o.a.length; }
  if (performance.now() < end) setImmediate(tick);
  else { const c = process.cpuUsage(c0); console.log(JSON.stringify({ perCpuMs: ops / ((c.user + c.system) / 1e3), gcs })); }
}
tick();`;

// A file, not -e: the optimizer treats -e code differently (measured: it dropped most allocations).
const file = join(mkdtempSync(join(tmpdir(), 'loopwatch-gc-cost-')), 'app.cjs');
writeFileSync(file, APP);
function run(mode, kind) {
  const cpu = opts['app-cpu'] === '0' ? '1' : opts['app-cpu'];
  const r = spawnSync('taskset', ['-c', cpu, nodeBin, file, mode, kind], { encoding: 'utf8' });
  return JSON.parse(r.stdout.trim());
}
const rows = [];
for (const kind of ['short', 'kept']) {
  for (let i = 0; i < Number(opts.rounds); i++) {
    const order = i % 2 ? ['on', 'off'] : ['off', 'on'];
    const r = Object.fromEntries(order.map((m) => [m, run(m, kind)]));
    rows.push({ kind, off: r.off.perCpuMs, on: r.on.perCpuMs, gcsPerS: r.on.gcs / 3, slowdown: r.off.perCpuMs / r.on.perCpuMs });
  }
}
rmSync(dirname(file), { recursive: true, force: true });
const slowdown = Object.fromEntries(['short', 'kept'].map((k) => [k, median(rows.filter((r) => r.kind === k).map((r) => r.slowdown))]));
printTable(['objects', 'ops/CPU-ms off', 'ops/CPU-ms on', 'gc entries/s', 'slowdown'], rows.map((r) => [r.kind, round(r.off, 0), round(r.on, 0), round(r.gcsPerS, 0), round(r.slowdown, 2)]));
console.log(`median slowdown with the observer: short-lived ${round(slowdown.short, 2)}x, kept ${round(slowdown.kept, 2)}x\n`);
emitJson('gc-cost', { machine: facts, params: opts, rows, slowdown });
