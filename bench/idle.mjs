// The agent's cost in an idle process: CPU (% of one core) and wake-ups per second, and the
// resident memory it adds.
//
//   node bench/idle.mjs [--node /path/to/node] [--rounds 3] [--duration 20]
//
// Each round starts two fresh idle servers (bench/idle-app.mjs), one with the agent and one
// without, side by side, lets them settle, then reads /proc over the same window: CPU from
// /proc/<pid>/task/*/schedstat (ns; /proc/<pid>/stat's 10 ms ticks are too coarse for
// 0.1 % of a core), wake-ups from each thread's voluntary_ctxt_switches (a thread that goes
// to sleep switches voluntarily, so the count is its wake-up count), and VmRSS from
// /proc/<pid>/status after settling and at the end of the window. A third server without
// the agent runs a no-op setInterval (--timer-ms): the price of one timer wake-up of a Node
// loop on this machine, to compare with what the agent pays per wake-up; its period is the
// agent's beat at the threshold (config.ts, heartbeatFor). A fourth runs a bare Worker that
// loads nothing: the memory floor of any watchdog thread.
import { join } from 'node:path';
import {
  agentBuild, BENCH_DIR, emitJson, machineFacts, max, median, min, pinSelf, printMachine, printTable, procCpuMs,
  procMemory, procThreads, benchCli, round, sleep, spawnNode, stopChild, threadDeltas,
  verdict, waitForJsonLine,
} from './lib.mjs';

const HELP = `usage: node bench/idle.mjs [options]
  --agent DIR        agent build to load (a dist/ folder; default dist/, copied first)
  --agent-b DIR      a second build, run beside the first in the same rounds: CPU, wake-ups
                     and memory of both (A/B)
  --node PATH        node binary for the idle servers (default: this node)
  --rounds N         rounds (each: one server with the agent, one without, in parallel), default 3
  --duration S       measured window per round, default 20
  --settle S         wait after start before measuring, default 3
  --timer-ms MS      period of the no-op timer baseline server, default: the agent's beat
                     at the threshold (38 ms at 50 ms; 0 = none)
  --bare-worker on|off  the bare-Worker baseline server, default on
  --threshold MS     LOOPWATCH_THRESHOLD_MS (default: the agent's default)
  --prometheus-port P  LOOPWATCH_PROMETHEUS_PORT for the agent (standalone /metrics on
                     127.0.0.1:P, nobody scraping; default: no endpoint). A second agent
                     process without the endpoint then runs alongside, for the difference.
  --context on|off   LOOPWATCH_CONTEXT, default on
  --app-cpu N        core for the idle servers, default 0 ('' = not pinned)
  --self-cpu N       core for this script, default 1`;

const { opts, build, nodeBin } = benchCli(HELP, {
  rounds: { type: 'string', default: '3' },
  duration: { type: 'string', default: '20' },
  settle: { type: 'string', default: '3' },
  'timer-ms': { type: 'string' },
  'bare-worker': { type: 'string', default: 'on' },
  threshold: { type: 'string' },
  'prometheus-port': { type: 'string' },
  'self-cpu': { type: 'string', default: '1' },
  'agent-b': { type: 'string' },
});
const buildB = opts['agent-b'] === undefined ? null : agentBuild(opts['agent-b']);
const rounds = Number(opts.rounds);
const durationMs = Number(opts.duration) * 1000;
const settleMs = Number(opts.settle) * 1000;
const APP = join(BENCH_DIR, 'idle-app.mjs');

/** The agent's main-thread beat for a threshold (src/config.ts, heartbeatFor). */
const beatFor = (t) => Math.max(1, Math.min(Math.round(t * 0.75), Math.floor(t) - 1));
const timerMs = opts['timer-ms'] !== undefined ? Number(opts['timer-ms']) : beatFor(Number(opts.threshold ?? 50));
const bareWorker = opts['bare-worker'] !== 'off';

async function start(agent, timer = 0, endpoint = true, bare = false, b = false) {
  const env = { LOOPWATCH_CONTEXT: opts.context, LOOPWATCH_LOG: 'stderr', BENCH_TIMER_MS: String(timer), BENCH_BARE_WORKER: bare ? '1' : '0' };
  if (opts.threshold) env.LOOPWATCH_THRESHOLD_MS = opts.threshold;
  if (agent && endpoint && opts['prometheus-port']) Object.assign(env, { LOOPWATCH_PROMETHEUS_PORT: opts['prometheus-port'], LOOPWATCH_PROMETHEUS_HOST: '127.0.0.1' });
  const spawnedAt = Date.now();
  const child = spawnNode({ nodeBin, script: APP, agent: agent ? (b ? buildB.register : build.register) : null, env, cpu: opts['app-cpu'] });
  const stderr = [];
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (c) => stderr.push(c));
  const ready = await waitForJsonLine(child, (v) => v.ready === true, 10_000, 'the idle server');
  if (ready.agent !== agent) throw new Error(`idle server reports agent=${ready.agent}, expected ${agent}`);
  return { child, pid: ready.pid, agent, stderr, spawnedAt, kind: agent ? (b ? 'agentB' : endpoint ? 'agent' : 'agentNoEndpoint') : timer ? 'timer' : bare ? 'bareWorker' : 'none' };
}

function snapshot(p) {
  return { threads: procThreads(p.pid), ticksMs: procCpuMs(p.pid), mem: procMemory(p.pid) };
}

/** The main thread's V8 heap of an idle server (idle-app.mjs answers SIGUSR2), kB per space. */
async function mainHeap(p) {
  const line = waitForJsonLine(p.child, (v) => v.heap !== undefined, 5000, 'the heap line');
  p.child.kill('SIGUSR2');
  return (await line).heap;
}

const heapTotal = (h) => Object.values(h).reduce((t, v) => t + v, 0);

function summarize(p, a, b, wallMs, heap) {
  const deltas = threadDeltas(a.threads, b.threads);
  const cpuMs = deltas.reduce((s, d) => s + d.runMs, 0);
  const wakeups = deltas.reduce((s, d) => s + d.voluntary, 0);
  const threads = deltas
    .filter((d) => d.voluntary > 0 || d.runMs > 0.05)
    .map((d) => ({
      thread: d.tid === String(p.pid) ? 'main' : `${d.comm}#${d.tid}`,
      cpuPct: (d.runMs / wallMs) * 100,
      wakeupsPerS: d.voluntary / (wallMs / 1000),
      involuntaryPerS: d.involuntary / (wallMs / 1000),
      usPerWakeup: d.voluntary ? (d.runMs * 1000) / d.voluntary : NaN,
    }));
  return {
    cpuPct: (cpuMs / wallMs) * 100,
    ticksCpuPct: ((b.ticksMs - a.ticksMs) / wallMs) * 100,
    wakeupsPerS: wakeups / (wallMs / 1000),
    rssSettledKB: a.mem.rss,
    rssEndKB: b.mem.rss,
    anonEndKB: b.mem.anon,
    fileEndKB: b.mem.file,
    heapKB: heap,
    threadCount: b.mem.threads,
    threads,
  };
}

const machine = machineFacts(nodeBin, build);
pinSelf(opts['self-cpu']);
const params = { rounds, durationS: durationMs / 1000, settleS: settleMs / 1000, timerMs, bareWorker, threshold: opts.threshold ?? 'default', context: opts.context, appCpu: opts['app-cpu'], prometheusPort: opts['prometheus-port'] ?? null };
printMachine('loopwatch idle cost: CPU, wake-ups and RSS of an idle server, agent vs none', machine, params);

const results = [];
const started = Date.now();
for (let r = 0; r < rounds; r++) {
  // Alternate which one starts first.
  const order = r % 2 === 0 ? [true, false] : [false, true];
  const procs = [];
  try {
    for (const agent of order) procs.push(await start(agent));
    if (buildB) procs.push(await start(true, 0, true, false, true));
    if (timerMs > 0) procs.push(await start(false, timerMs));
    if (bareWorker) procs.push(await start(false, 0, true, true));
    if (opts['prometheus-port']) procs.push(await start(true, 0, false));
    await sleep(settleMs);
    const a = procs.map(snapshot);
    const t0 = performance.now();
    await sleep(durationMs);
    const b = procs.map(snapshot);
    const wallMs = performance.now() - t0;
    const heaps = [];
    for (const p of procs) heaps.push(await mainHeap(p));
    const byAgent = {};
    procs.forEach((p, k) => {
      byAgent[p.kind] = summarize(p, a[k], b[k], wallMs, heaps[k]);
    });
    const blockLines = procs.flatMap((p) => p.stderr.join('').split('\n').filter((l) => l.includes('"event loop blocked"')));
    const spawnedAt = procs.find((p) => p.kind === 'agent').spawnedAt;
    const blocks = blockLines.map((l) => {
      try {
        const { block } = JSON.parse(l);
        return { afterSpawnMs: Date.parse(block.startedAt) - spawnedAt, durationMs: block.durationMs, kind: block.context?.kind ?? null, culprit: block.culprit?.function ?? null };
      } catch {
        return { raw: l.slice(0, 200) };
      }
    });
    results.push({ round: r + 1, ...byAgent, blockLines: blockLines.length, blocks });
    process.stderr.write(`round ${r + 1}/${rounds}: agent ${byAgent.agent.cpuPct.toFixed(3)} % none ${byAgent.none.cpuPct.toFixed(3)} % (${Math.round((Date.now() - started) / 1000)} s)\n`);
  } finally {
    for (const p of procs) await stopChild(p.child);
  }
}

if (opts['prometheus-port']) {
  console.log('## the standalone endpoint: agent with it vs an agent without it, side by side (CPU % of one core)');
  const watchdogPct = (x) => x.threads.filter((t) => t.thread !== 'main').sort((p, q) => q.wakeupsPerS - p.wakeupsPerS)[0]?.cpuPct ?? NaN;
  printTable(
    ['round', 'with endpoint', 'without', 'added', 'watchdog thread with / without', 'wakeups/s with / without'],
    results.map((x) => [String(x.round), x.agent.cpuPct, x.agentNoEndpoint.cpuPct, x.agent.cpuPct - x.agentNoEndpoint.cpuPct,
      `${watchdogPct(x.agent).toFixed(3)} / ${watchdogPct(x.agentNoEndpoint).toFixed(3)}`,
      `${x.agent.wakeupsPerS.toFixed(1)} / ${x.agentNoEndpoint.wakeupsPerS.toFixed(1)}`]),
  );
  console.log(`endpoint added CPU, median over rounds: ${median(results.map((x) => x.agent.cpuPct - x.agentNoEndpoint.cpuPct)).toFixed(3)} % of one core\n`);
}

console.log('## per round (CPU in % of one core over the window; RSS in MB)');
printTable(
  ['round', 'agent CPU %', 'none CPU %', 'added %', 'agent wakeups/s', 'none wakeups/s', 'agent RSS', 'none RSS', 'added RSS', 'block lines'],
  results.map((x) => [String(x.round), x.agent.cpuPct, x.none.cpuPct, x.agent.cpuPct - x.none.cpuPct, x.agent.wakeupsPerS, x.none.wakeupsPerS, x.agent.rssEndKB / 1024, x.none.rssEndKB / 1024, (x.agent.rssEndKB - x.none.rssEndKB) / 1024, String(x.blockLines)]),
);

console.log('## agent process by thread (last round; wake-ups = voluntary context switches)');
const last = results[results.length - 1];
printTable(
  ['thread', 'CPU %', 'wakeups/s', 'preempted/s', 'µs per wakeup'],
  last.agent.threads.map((t) => [t.thread, t.cpuPct, t.wakeupsPerS, t.involuntaryPerS, t.usPerWakeup]),
);

if (timerMs > 0) {
  console.log(`## baseline: an idle server with a no-op setInterval(${timerMs} ms), no agent (what one timer wake-up costs here)`);
  printTable(
    ['round', 'CPU %', 'wakeups/s', 'main µs per wakeup'],
    results.map((x) => {
      const main = x.timer.threads.find((t) => t.thread === 'main');
      return [String(x.round), x.timer.cpuPct, x.timer.wakeupsPerS, main ? main.usPerWakeup : NaN];
    }),
  );
}

if (bareWorker) {
  console.log('## baseline: an idle server with a bare Worker that loads nothing, no agent (the memory floor of a watchdog thread)');
  printTable(
    ['round', 'bare Worker RSS', 'none RSS', 'Worker adds', 'agent adds', 'agent - bare Worker'],
    results.map((x) => [String(x.round), x.bareWorker.rssEndKB / 1024, x.none.rssEndKB / 1024, (x.bareWorker.rssEndKB - x.none.rssEndKB) / 1024,
      (x.agent.rssEndKB - x.none.rssEndKB) / 1024, (x.agent.rssEndKB - x.bareWorker.rssEndKB) / 1024]),
  );
  console.log('## agent - bare Worker, split (MB): file-backed pages (mostly the node binary\'s own code, shared by every');
  console.log('## node process on the machine) and anonymous memory, with the main thread\'s V8 heap (committed, by space)');
  printTable(
    ['round', 'file-backed', 'anonymous', 'main heap', 'main new space', 'main old space', 'main other spaces'],
    results.map((x) => {
      const d = (k) => ((x.agent.heapKB[k] ?? 0) - (x.bareWorker.heapKB[k] ?? 0)) / 1024;
      const all = (heapTotal(x.agent.heapKB) - heapTotal(x.bareWorker.heapKB)) / 1024;
      return [String(x.round), (x.agent.fileEndKB - x.bareWorker.fileEndKB) / 1024, (x.agent.anonEndKB - x.bareWorker.anonEndKB) / 1024,
        all, d('new'), d('old'), all - d('new') - d('old')];
    }),
  );
}

const idleBlocks = results.flatMap((x) => x.blocks.map((b) => ({ round: x.round, ...b })));
if (idleBlocks.length) console.log(`block lines from idle servers (startup included): ${JSON.stringify(idleBlocks)}\n`);

const added = results.map((x) => x.agent.cpuPct - x.none.cpuPct);
const addedRssMB = results.map((x) => (x.agent.rssEndKB - x.none.rssEndKB) / 1024);
const summary = {
  addedCpuPctMedian: round(median(added), 4),
  addedCpuPctMin: round(min(added), 4),
  addedCpuPctMax: round(max(added), 4),
  agentCpuPct: round(median(results.map((x) => x.agent.cpuPct)), 4),
  noneCpuPct: round(median(results.map((x) => x.none.cpuPct)), 4),
  agentWakeupsPerS: round(median(results.map((x) => x.agent.wakeupsPerS)), 1),
  noneWakeupsPerS: round(median(results.map((x) => x.none.wakeupsPerS)), 1),
  addedRssMBMedian: round(median(addedRssMB), 2),
  addedRssMBMax: round(max(addedRssMB), 2),
  addedAnonMBMedian: round(median(results.map((x) => (x.agent.anonEndKB - x.none.anonEndKB) / 1024)), 2),
  agentRssMB: round(median(results.map((x) => x.agent.rssEndKB / 1024)), 1),
  noneRssMB: round(median(results.map((x) => x.none.rssEndKB / 1024)), 1),
  rssGrowthInWindowMB: round(median(results.map((x) => (x.agent.rssEndKB - x.agent.rssSettledKB) / 1024)), 2),
  addedThreads: results[0].agent.threadCount - results[0].none.threadCount,
  blockLines: results.reduce((s, x) => s + x.blockLines, 0),
  agentMainUsPerWakeup: round(median(results.map((x) => x.agent.threads.find((t) => t.thread === 'main')?.usPerWakeup ?? NaN)), 1),
  agentMainWakeupsPerS: round(median(results.map((x) => x.agent.threads.find((t) => t.thread === 'main')?.wakeupsPerS ?? NaN)), 1),
  timerBaseline: timerMs > 0 ? {
    periodMs: timerMs,
    cpuPct: round(median(results.map((x) => x.timer.cpuPct)), 4),
    wakeupsPerS: round(median(results.map((x) => x.timer.wakeupsPerS)), 1),
    mainUsPerWakeup: round(median(results.map((x) => x.timer.threads.find((t) => t.thread === 'main')?.usPerWakeup ?? NaN)), 1),
  } : null,
  bareWorker: bareWorker ? {
    addedRssMB: round(median(results.map((x) => (x.bareWorker.rssEndKB - x.none.rssEndKB) / 1024)), 2),
    agentOverBareMB: round(median(results.map((x) => (x.agent.rssEndKB - x.bareWorker.rssEndKB) / 1024)), 2),
    agentOverBareFileMB: round(median(results.map((x) => (x.agent.fileEndKB - x.bareWorker.fileEndKB) / 1024)), 2),
    agentOverBareAnonMB: round(median(results.map((x) => (x.agent.anonEndKB - x.bareWorker.anonEndKB) / 1024)), 2),
    mainHeapOverBareMB: round(median(results.map((x) => (heapTotal(x.agent.heapKB) - heapTotal(x.bareWorker.heapKB)) / 1024)), 2),
    mainNewSpaceOverBareMB: round(median(results.map((x) => ((x.agent.heapKB.new ?? 0) - (x.bareWorker.heapKB.new ?? 0)) / 1024)), 2),
  } : null,
};
summary.targets = {
  idleCpu: { limitPct: 0.2, value: summary.addedCpuPctMedian, met: summary.addedCpuPctMedian <= 0.2 },
  addedRss: { limitMB: 12, value: summary.addedRssMBMedian, met: summary.addedRssMBMedian <= 12 },
  // Issue 11: when 0.2 % is out of reach of this VM's wake-up cost, at most 1.2x one bare timer at the beat.
  idleVsTimer: summary.timerBaseline ? { limit: 1.2, value: round(summary.addedCpuPctMedian / summary.timerBaseline.cpuPct, 3), met: summary.addedCpuPctMedian <= 1.2 * summary.timerBaseline.cpuPct } : null,
  rssOverBareWorker: summary.bareWorker ? { limitMB: 1, value: summary.bareWorker.agentOverBareMB, met: summary.bareWorker.agentOverBareMB <= 1 } : null,
};

console.log('## summary (medians over rounds)');
printTable(['measure', 'value', 'target'], [
  ['added idle CPU, % of one core', summary.addedCpuPctMedian, `<= 0.2: ${verdict(summary.targets.idleCpu.met)}`],
  ['  range over rounds', `${summary.addedCpuPctMin.toFixed(3)} .. ${summary.addedCpuPctMax.toFixed(3)}`, ''],
  ['agent process CPU %', summary.agentCpuPct, ''],
  ['no-agent process CPU %', summary.noneCpuPct, ''],
  ['wake-ups/s, agent process (all threads)', summary.agentWakeupsPerS, ''],
  ['wake-ups/s, no-agent process', summary.noneWakeupsPerS, ''],
  ['added RSS, MB', summary.addedRssMBMedian, `<= 12: ${verdict(summary.targets.addedRss.met)}`],
  ['  of which anonymous memory, MB', summary.addedAnonMBMedian, ''],
  ['RSS agent / none, MB', `${summary.agentRssMB} / ${summary.noneRssMB}`, ''],
  ['agent RSS growth during the window, MB', summary.rssGrowthInWindowMB, ''],
  ['added threads', String(summary.addedThreads), ''],
  ['agent main thread: wake-ups/s, µs CPU per wake-up', `${summary.agentMainWakeupsPerS} / ${summary.agentMainUsPerWakeup}`, ''],
  ...(summary.timerBaseline ? [
    [`no-op ${timerMs} ms timer: CPU %, µs per wake-up`, `${summary.timerBaseline.cpuPct} / ${summary.timerBaseline.mainUsPerWakeup}`, ''],
    ['added idle CPU / that timer\'s CPU', summary.targets.idleVsTimer.value, `<= 1.2: ${verdict(summary.targets.idleVsTimer.met)}`],
  ] : []),
  ...(summary.bareWorker ? [
    ['bare Worker adds, RSS MB', summary.bareWorker.addedRssMB, ''],
    ['agent RSS over a bare Worker, MB', summary.bareWorker.agentOverBareMB, `<= 1: ${verdict(summary.targets.rssOverBareWorker.met)}`],
    ['  file-backed / anonymous, MB', `${summary.bareWorker.agentOverBareFileMB} / ${summary.bareWorker.agentOverBareAnonMB}`, ''],
    ['  main thread V8 heap / its new space, MB', `${summary.bareWorker.mainHeapOverBareMB} / ${summary.bareWorker.mainNewSpaceOverBareMB}`, ''],
  ] : []),
  ['block lines while idle', String(summary.blockLines), ''],
]);

if (buildB) {
  // The same measures for both builds, from the same rounds (each round's servers side by side).
  const side = (k) => ({
    cpuPct: round(median(results.map((x) => x[k].cpuPct)), 4),
    wakeupsPerS: round(median(results.map((x) => x[k].wakeupsPerS)), 1),
    rssMB: round(median(results.map((x) => x[k].rssEndKB / 1024)), 2),
    anonMB: round(median(results.map((x) => x[k].anonEndKB / 1024)), 2),
    fileMB: round(median(results.map((x) => x[k].fileEndKB / 1024)), 2),
    mainHeapMB: round(median(results.map((x) => heapTotal(x[k].heapKB) / 1024)), 2),
  });
  summary.compare = { agentB: { distSha: buildB.distSha, distBuiltAt: buildB.distBuiltAt }, a: side('agent'), b: side('agentB') };
  console.log(`\n## A/B: --agent (dist ${build.distSha}) vs --agent-b (dist ${buildB.distSha}), same rounds`);
  printTable(
    ['round', 'CPU % A / B', 'RSS A / B', 'anonymous A / B', 'file-backed A / B'],
    results.map((x) => [String(x.round), `${x.agent.cpuPct.toFixed(3)} / ${x.agentB.cpuPct.toFixed(3)}`,
      `${(x.agent.rssEndKB / 1024).toFixed(2)} / ${(x.agentB.rssEndKB / 1024).toFixed(2)}`,
      `${(x.agent.anonEndKB / 1024).toFixed(2)} / ${(x.agentB.anonEndKB / 1024).toFixed(2)}`,
      `${(x.agent.fileEndKB / 1024).toFixed(2)} / ${(x.agentB.fileEndKB / 1024).toFixed(2)}`]),
  );
  const { a, b } = summary.compare;
  printTable(['median', 'A', 'B', 'A - B'], [
    ['CPU, % of one core', a.cpuPct, b.cpuPct, a.cpuPct - b.cpuPct],
    ['wake-ups/s', a.wakeupsPerS, b.wakeupsPerS, a.wakeupsPerS - b.wakeupsPerS],
    ['RSS, MB', a.rssMB, b.rssMB, a.rssMB - b.rssMB],
    ['anonymous, MB', a.anonMB, b.anonMB, a.anonMB - b.anonMB],
    ['file-backed, MB', a.fileMB, b.fileMB, a.fileMB - b.fileMB],
    ['main thread V8 heap, MB', a.mainHeapMB, b.mainHeapMB, a.mainHeapMB - b.mainHeapMB],
  ]);
}

emitJson('idle', {
  machine, params, summary,
  rounds: results.map((x) => ({
    round: x.round,
    agent: { ...x.agent, threads: x.agent.threads.map((t) => ({ ...t, cpuPct: round(t.cpuPct, 4), wakeupsPerS: round(t.wakeupsPerS, 1), involuntaryPerS: round(t.involuntaryPerS, 1), usPerWakeup: round(t.usPerWakeup, 1) })) },
    none: x.none,
    timer: x.timer ?? null,
    bareWorker: x.bareWorker ?? null,
    agentNoEndpoint: x.agentNoEndpoint ?? null,
    blocks: x.blocks,
    blockLines: x.blockLines,
  })),
  elapsedS: Math.round((Date.now() - started) / 1000),
});
