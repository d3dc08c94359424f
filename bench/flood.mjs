// Flood control under a flood: a route that blocks 60 ms every 70 ms for 20 s (one
// fingerprint), the agent writing to a log file. Measured: lines written vs blocks (the
// app's own count), 'block' events and the /metrics counter vs blocks, and the watchdog
// thread's CPU (schedstat of its thread) and the process's RSS before, during and after.
//
//   node bench/flood.mjs [--flood-ms 20000] [--limit 5] [--interval-ms 60000] [--node PATH]
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  BENCH_DIR, benchCli, emitJson, httpGet, machineFacts, printMachine, printTable, procMemory, procThreads, round, sleep, spawnNode, stopChild, waitForJsonLine,
} from './lib.mjs';

const HELP = `node bench/flood.mjs [--flood-ms MS] [--block-ms MS] [--every-ms MS] [--limit N] [--interval-ms MS] [--node PATH] [--agent DIR]`;
const { opts, build, nodeBin } = benchCli(HELP, {
  'flood-ms': { type: 'string', default: '20000' },
  'block-ms': { type: 'string', default: '60' },
  'every-ms': { type: 'string', default: '70' },
  limit: { type: 'string', default: '5' },
  'interval-ms': { type: 'string', default: '60000' },
});
const facts = machineFacts(nodeBin, build);
printMachine('flood control: 60 ms blocks every 70 ms', facts, opts);

const dir = mkdtempSync(join(tmpdir(), 'loopwatch-flood-'));
const logFile = join(dir, 'blocks.jsonl');
const port = 20000 + Math.floor(Math.random() * 20000);
const child = spawnNode({
  nodeBin, script: join(BENCH_DIR, 'flood-app.cjs'), agent: build.register,
  env: {
    BENCH_AGENT_INDEX: join(build.register, '..', 'index.cjs'), LOOPWATCH_LOG: logFile, LOOPWATCH_LOG_LIMIT: opts.limit,
    LOOPWATCH_LOG_INTERVAL_MS: opts['interval-ms'], LOOPWATCH_PROMETHEUS_PORT: String(port), LOOPWATCH_PROMETHEUS_HOST: '127.0.0.1',
    BENCH_FLOOD_MS: opts['flood-ms'], BENCH_BLOCK_MS: opts['block-ms'], BENCH_EVERY_MS: opts['every-ms'],
  },
});
const { pid } = await waitForJsonLine(child, (v) => v.ready, 30_000, 'the app ready line');
await sleep(2000);

/** The watchdog's thread: the one of the app's threads that is named after it, else the one with the most wake-ups at idle. */
function watchdogTid(before, after) {
  let best = null;
  for (const [tid, a] of after) {
    if (tid === String(pid)) continue;
    const b = before.get(tid);
    if (!b) continue;
    const wakes = a.voluntary - b.voluntary;
    if (!best || wakes > best.wakes) best = { tid, wakes };
  }
  return best?.tid;
}
const idle0 = procThreads(pid);
await sleep(2000);
const idle1 = procThreads(pid);
const tid = watchdogTid(idle0, idle1);
const rssBefore = procMemory(pid).rss;
const metricsCount = async () => {
  const text = (await httpGet(port, '/metrics')).body;
  return text.split('\n').filter((l) => l.startsWith('loopwatch_block_duration_seconds_count')).reduce((n, l) => n + Number(l.split(' ').pop()), 0);
};
const countBefore = await metricsCount();
const linesBefore = readLines().length;
const t0 = performance.now();
const s0 = procThreads(pid);
let rssMax = rssBefore;
child.kill('SIGUSR2');
const done = waitForJsonLine(child, (v) => v.done, Number(opts['flood-ms']) + 30_000, 'the end of the flood');
let finished = false;
done.then(() => { finished = true; });
while (!finished) {
  rssMax = Math.max(rssMax, procMemory(pid).rss);
  await sleep(250);
}
const result = await done;
const s1 = procThreads(pid);
const wallMs = performance.now() - t0;
// Let the interval's summaries out: they are written when the interval ends, or at exit.
await sleep(Math.min(Number(opts['interval-ms']), 5000) + 500);
const countAfter = await metricsCount();
const rssAfter = procMemory(pid).rss;
await stopChild(child);

function readLines() {
  try {
    return readFileSync(logFile, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
  } catch {
    return [];
  }
}
const all = readLines().slice(linesBefore);
const blockLines = all.filter((l) => l.block && !l.block.ongoing);
const summaries = all.filter((l) => l.suppressed);
const suppressed = summaries.reduce((n, l) => n + l.suppressed.count, 0);
rmSync(dir, { recursive: true, force: true });

// procMemory reports kB.
const MB = 1024;
const cpu = (set0, set1, id) => (set1.get(id)?.runNs - set0.get(id)?.runNs) / 1e6;
const watchdogCpuMs = tid ? cpu(s0, s1, tid) : null;
const mainCpuMs = cpu(s0, s1, String(pid));
const doc = {
  machine: facts, params: opts,
  blocks: result.blocks, events: result.events, metricsCounted: countAfter - countBefore,
  lines: blockLines.length, summaryLines: summaries.length, suppressedInSummaries: suppressed,
  watchdogCpuPct: watchdogCpuMs === null ? null : round((watchdogCpuMs / wallMs) * 100, 2),
  watchdogCpuMsPerBlock: watchdogCpuMs === null ? null : round(watchdogCpuMs / result.blocks, 2),
  mainCpuPct: round((mainCpuMs / wallMs) * 100, 1),
  rssMB: { before: round(rssBefore / MB, 1), max: round(rssMax / MB, 1), after: round(rssAfter / MB, 1) },
  fingerprints: new Set(blockLines.map((l) => l.block.fingerprint)).size,
  causes: Object.fromEntries([...new Set(blockLines.map((l) => l.block.cause))].map((c) => [c, blockLines.filter((l) => l.block.cause === c).length])),
};
printTable(['measure', 'value'], [
  ['blocks (app)', result.blocks], ["'block' events", result.events], ['metrics counter delta', doc.metricsCounted],
  ['block lines written', doc.lines], ['fingerprints among them', doc.fingerprints], ['their causes', JSON.stringify(doc.causes)], ['summary lines', doc.summaryLines], ['blocks in summaries', suppressed],
  ['watchdog CPU, % of a core', doc.watchdogCpuPct], ['watchdog CPU per block, ms', doc.watchdogCpuMsPerBlock],
  ['main thread CPU, % of a core', doc.mainCpuPct], ['RSS before / max / after, MB', `${doc.rssMB.before} / ${doc.rssMB.max} / ${doc.rssMB.after}`],
]);
emitJson('flood', doc);
