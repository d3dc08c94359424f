// CPU time per request and throughput of bench/app.mjs with the agent vs without it.
//
//   node bench/overhead.mjs [--pairs 9] [--context on|off] [--node /path/to/node] ...
//
// Method (bench/README.md, "overhead.mjs"): every measurement is a
// fresh app process pinned to one core (taskset), loaded by autocannon pinned to the other
// core for a fixed time at fixed connections. CPU per request = process CPU time (all
// threads, process.cpuUsage() read by the app at the start and end of the window) divided
// by the requests answered in that window. Each round runs three fresh processes: no agent,
// agent, and a second no-agent process (the control), in an order that cycles through all
// six permutations, so that agent/none and control/none are measured the same way; the
// control's spread is the noise floor. Results: median over rounds of the per-round ratios.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import {
  BENCH_DIR, emitJson, epochNow, getJson, machineFacts, max, median, min, onLines, pinSelf, printMachine,
  printTable, procCpuMs, procThreads, quantile, systemBusyMs, threadDeltas, benchCli, round, ROOT, sleep, spawnNode, stopChild,
  verdict, waitForJsonLine,
} from './lib.mjs';

const HELP = `usage: node bench/overhead.mjs [options]
  --pairs N          rounds (each: none, agent, control), default 9 (>= 5 recommended)
  --context on|off   LOOPWATCH_CONTEXT for the agent side, default on
  --agent DIR        agent build to load (a dist/ folder; default dist/, copied first)
  --node PATH        node binary for the app (default: this node)
  --routes LIST      comma-separated: hello,await20 (default both)
  --warmup S         seconds of load before the window, default 1
  --duration S       seconds in the measured window, default 3
  --connections N    autocannon connections, default 10
  --rate N           fixed total request rate (autocannon -R); default 0 = as fast as possible
  --threshold MS     LOOPWATCH_THRESHOLD_MS for the agent (default: the agent's default)
  --max-other PCT    a round during which other processes used more than this % of a core
                     (other sessions' work on a shared VM) is run again, default 30
  --retries N        how often a disturbed round is run again before it is kept (flagged), default 2
  --app-cpu N        core for the app, default 0
  --load-cpu N       core for autocannon and this script, default 1`;

const { opts, build, nodeBin } = benchCli(HELP, {
  pairs: { type: 'string', default: '9' },
  routes: { type: 'string', default: 'hello,await20' },
  warmup: { type: 'string', default: '1' },
  duration: { type: 'string', default: '3' },
  connections: { type: 'string', default: '10' },
  rate: { type: 'string', default: '0' },
  threshold: { type: 'string' },
  'max-other': { type: 'string', default: '30' },
  retries: { type: 'string', default: '2' },
  'load-cpu': { type: 'string', default: '1' },
});
const pairs = Number(opts.pairs);
const warmupMs = Number(opts.warmup) * 1000;
const durationMs = Number(opts.duration) * 1000;
const connections = Number(opts.connections);
const rate = Number(opts.rate);
const maxOther = Number(opts['max-other']);
const retries = Number(opts.retries);
const routes = opts.routes.split(',').map((r) => r.trim()).filter(Boolean);
for (const r of routes) {
  if (!['hello', 'await20'].includes(r)) {
    console.error(`bench: unknown route ${r} (hello, await20)`);
    process.exit(2);
  }
}
const APP = join(BENCH_DIR, 'app.mjs');
const AUTOCANNON = join(ROOT, 'node_modules', 'autocannon', 'autocannon.js');

const SIDES = ['none', 'agent', 'control'];
const PERMUTATIONS = [
  [0, 1, 2], [1, 2, 0], [2, 0, 1], [0, 2, 1], [2, 1, 0], [1, 0, 2],
].map((p) => p.map((i) => SIDES[i]));

/**
 * The watchdog worker's OS thread: named "loopwatch-watch…" on Node >= 24. On older Node
 * every thread is "node"; there it is the one thread besides main that wakes while the
 * app is idle (the V8 platform and libuv pool threads sleep), seen over `ms` of idle.
 */
async function findWorkerTid(pid, ms) {
  const before = procThreads(pid);
  await sleep(ms);
  const deltas = threadDeltas(before, procThreads(pid));
  const named = deltas.find((d) => d.comm.startsWith('loopwatch'));
  if (named) return named.tid;
  const busiest = deltas.filter((d) => d.tid !== String(pid)).sort((a, b) => b.voluntary - a.voluntary)[0];
  return busiest && busiest.voluntary > 0 ? busiest.tid : null;
}

/** One fresh app process under load; returns the window's numbers. */
async function measure(side, route) {
  const agent = side === 'agent';
  const env = { LOOPWATCH_CONTEXT: opts.context, LOOPWATCH_LOG: 'stderr' };
  if (opts.threshold) env.LOOPWATCH_THRESHOLD_MS = opts.threshold;
  const spawnedAt = epochNow();
  const app = spawnNode({ nodeBin, script: APP, agent: agent ? build.register : null, env, cpu: opts['app-cpu'] });
  let blockLines = 0;
  const blocks = [];
  const otherStderr = [];
  onLines(app.stderr, (line) => {
    if (line.includes('"event loop blocked"')) {
      blockLines++;
      try {
        const { block } = JSON.parse(line);
        blocks.push({ durationMs: block.durationMs, afterSpawnMs: Math.round(Date.parse(block.startedAt) - spawnedAt), culprit: block.culprit?.function ?? null, kind: block.context?.kind ?? null });
      } catch {
        blocks.push({ raw: line.slice(0, 200) });
      }
    } else if (line.trim()) otherStderr.push(line);
  });
  let load;
  try {
    const { port, pid } = await waitForJsonLine(app, (v) => typeof v.port === 'number', 10_000, 'the app to listen');
    // Same idle wait on every side, so that all sides are measured alike.
    const workerTid = await findWorkerTid(pid, 300);
    const seconds = Math.ceil((warmupMs + durationMs) / 1000) + 5;
    const rateArgs = rate > 0 ? ['-R', String(rate)] : [];
    load = spawn('taskset', ['-c', opts['load-cpu'], process.execPath, AUTOCANNON, '-c', String(connections), ...rateArgs, '-d', String(seconds), `http://127.0.0.1:${port}/${route}`], { stdio: 'ignore' });
    const deadline = Date.now() + 10_000;
    for (;;) {
      const s = await getJson(port, '/__stats');
      if (s.requests > 0) break;
      if (Date.now() > deadline) throw new Error('autocannon sent no request in 10 s');
      await sleep(25);
    }
    await sleep(warmupMs);
    const t1 = epochNow();
    const s1 = await getJson(port, '/__stats');
    const p1 = procCpuMs(pid);
    const l1 = procCpuMs(load.pid);
    const self1 = process.cpuUsage();
    const sys1 = systemBusyMs();
    const th1 = procThreads(pid);
    await sleep(durationMs);
    const t2 = epochNow();
    const s2 = await getJson(port, '/__stats');
    const p2 = procCpuMs(pid);
    const l2 = procCpuMs(load.pid);
    const self2 = process.cpuUsage(self1);
    const sys2 = systemBusyMs();
    const th2 = procThreads(pid);
    if (s2.agent !== agent) throw new Error(`side ${side}: the app reports agent=${s2.agent}`);
    const wallMs = t2 - t1;
    const requests = s2.requests - s1.requests;
    const cpuMs = (s2.cpuUs - s1.cpuUs) / 1000;
    const active = s2.activeMs - s1.activeMs;
    const idle = s2.idleMs - s1.idleMs;
    // Everything else that ran on the machine during the window, in % of one core.
    const otherMs = sys2 - sys1 - (p2 - p1) - (l2 - l1) - (self2.user + self2.system) / 1000;
    // Per thread: main, the watchdog worker (agent side), and the rest (V8 platform threads).
    const deltas = threadDeltas(th1, th2);
    const main = deltas.find((d) => d.tid === String(pid));
    const worker = agent ? deltas.find((d) => d.tid === workerTid) : undefined;
    const helpers = deltas.filter((d) => d !== main && d !== worker);
    return {
      side, route, requests, wallMs,
      mainThreadUsPerReq: (main.runMs * 1000) / requests,
      workerUsPerReq: worker ? (worker.runMs * 1000) / requests : 0,
      helperThreadsUsPerReq: (helpers.reduce((sum, d) => sum + d.runMs, 0) * 1000) / requests,
      mainWakeupsPerS: main.voluntary / (wallMs / 1000),
      worker: worker ? { wakeupsPerS: worker.voluntary / (wallMs / 1000), cpuPct: (worker.runMs / wallMs) * 100 } : null,
      otherPct: Math.max(0, (otherMs / wallMs) * 100),
      loadCoreUtil: (l2 - l1) / wallMs,
      blocks,
      cpuUsPerReq: (cpuMs * 1000) / requests,
      procStatUsPerReq: ((p2 - p1) * 1000) / requests,
      rps: requests / (wallMs / 1000),
      coreUtil: cpuMs / wallMs,
      elu: active / (active + idle),
      blockLines,
      otherStderr: otherStderr.slice(0, 5),
    };
  } finally {
    if (load) await stopChild(load, 'SIGINT');
    await stopChild(app);
  }
}

const machine = machineFacts(nodeBin, build);
pinSelf(opts['load-cpu']);
const params = {
  pairs, context: opts.context, routes: routes.join(','), warmupS: warmupMs / 1000, durationS: durationMs / 1000,
  connections, rate: rate || 'max', maxOther, retries, threshold: opts.threshold ?? 'default', appCpu: opts['app-cpu'], loadCpu: opts['load-cpu'],
};
printMachine(`loopwatch overhead: CPU per request, agent (context ${opts.context}) vs none`, machine, params);

const rounds = [];
const started = Date.now();
for (let i = 0; i < pairs; i++) {
  const order = PERMUTATIONS[i % PERMUTATIONS.length];
  for (const route of routes) {
    let res = {};
    let tries = 0;
    for (;;) {
      res = {};
      for (const side of order) res[side] = await measure(side, route);
      const other = Math.max(res.none.otherPct, res.agent.otherPct, res.control.otherPct);
      if (other <= maxOther || tries >= retries) break;
      tries++;
      process.stderr.write(`round ${i + 1} ${route}: other processes used ${other.toFixed(0)} % of a core; running it again (${tries}/${retries})\n`);
    }
    const round_ = {
      round: i + 1, route, order: order.join('>'),
      none: res.none, agent: res.agent, control: res.control,
      cpuRatio: res.agent.cpuUsPerReq / res.none.cpuUsPerReq,
      controlRatio: res.control.cpuUsPerReq / res.none.cpuUsPerReq,
      rpsRatio: res.agent.rps / res.none.rps,
      controlRpsRatio: res.control.rps / res.none.rps,
      otherPct: Math.max(res.none.otherPct, res.agent.otherPct, res.control.otherPct),
      tries: tries + 1,
    };
    round_.disturbed = round_.otherPct > maxOther;
    rounds.push(round_);
    process.stderr.write(`round ${i + 1}/${pairs} ${route}: agent/none ${round_.cpuRatio.toFixed(3)} control/none ${round_.controlRatio.toFixed(3)} (${Math.round((Date.now() - started) / 1000)} s)\n`);
  }
}

const summary = {};
for (const route of routes) {
  const rs = rounds.filter((r) => r.route === route);
  console.log(`## /${route}: per round (CPU µs per request, requests per second; order = run order)`);
  printTable(
    ['round', 'order', 'none µs', 'agent µs', 'ctrl µs', 'agent/none', 'ctrl/none', 'none rps', 'agent rps', 'ctrl rps', 'other %', 'blocks'],
    rs.map((r) => [`${r.round}${r.disturbed ? '*' : ''}`, r.order, r.none.cpuUsPerReq, r.agent.cpuUsPerReq, r.control.cpuUsPerReq, r.cpuRatio, r.controlRatio, Math.round(r.none.rps), Math.round(r.agent.rps), Math.round(r.control.rps), r.otherPct, String(r.agent.blockLines)]),
  );
  console.log(`other % = CPU used by other processes on the machine during the window (max of the round's three runs); * = above --max-other ${maxOther} after ${retries} re-runs\n`);
  const blocks = rs.flatMap((r) => r.agent.blocks.map((b) => ({ round: r.round, ...b })));
  if (blocks.length) console.log(`block lines from the agent under load: ${JSON.stringify(blocks)}\n`);
  const cpuRatios = rs.map((r) => r.cpuRatio);
  const ctrlRatios = rs.map((r) => r.controlRatio);
  summary[route] = {
    rounds: rs.length,
    noneUsPerReq: round(median(rs.map((r) => r.none.cpuUsPerReq)), 2),
    agentUsPerReq: round(median(rs.map((r) => r.agent.cpuUsPerReq)), 2),
    cpuRatioMedian: round(median(cpuRatios), 4),
    cpuRatioMin: round(min(cpuRatios), 4),
    cpuRatioMax: round(max(cpuRatios), 4),
    cpuRatioP25: round(quantile(cpuRatios, 0.25), 4),
    cpuRatioP75: round(quantile(cpuRatios, 0.75), 4),
    controlRatioMedian: round(median(ctrlRatios), 4),
    controlRatioMin: round(min(ctrlRatios), 4),
    controlRatioMax: round(max(ctrlRatios), 4),
    rpsRatioMedian: round(median(rs.map((r) => r.rpsRatio)), 4),
    controlRpsRatioMedian: round(median(rs.map((r) => r.controlRpsRatio)), 4),
    procStatRatioMedian: round(median(rs.map((r) => r.agent.procStatUsPerReq / r.none.procStatUsPerReq)), 4),
    noneRps: round(median(rs.map((r) => r.none.rps)), 0),
    agentRps: round(median(rs.map((r) => r.agent.rps)), 0),
    appCoreUtil: round(median(rs.flatMap((r) => [r.none.coreUtil, r.agent.coreUtil, r.control.coreUtil])), 3),
    loadCoreUtil: round(median(rs.flatMap((r) => [r.none.loadCoreUtil, r.agent.loadCoreUtil, r.control.loadCoreUtil])), 3),
    otherPctMedian: round(median(rs.map((r) => r.otherPct)), 1),
    otherPctMax: round(max(rs.map((r) => r.otherPct)), 1),
    disturbedRounds: rs.filter((r) => r.disturbed).length,
    reruns: rs.reduce((sum, r) => sum + r.tries - 1, 0),
    cleanRounds: rs.filter((r) => !r.disturbed).length,
    cpuRatioMedianClean: round(median(rs.filter((r) => !r.disturbed).map((r) => r.cpuRatio)), 4),
    controlRatioMedianClean: round(median(rs.filter((r) => !r.disturbed).map((r) => r.controlRatio)), 4),
    appElu: round(median(rs.flatMap((r) => [r.none.elu, r.agent.elu, r.control.elu])), 3),
    mainThreadUsPerReq: { none: round(median(rs.map((r) => r.none.mainThreadUsPerReq)), 3), agent: round(median(rs.map((r) => r.agent.mainThreadUsPerReq)), 3) },
    helperThreadsUsPerReq: { none: round(median(rs.map((r) => r.none.helperThreadsUsPerReq)), 3), agent: round(median(rs.map((r) => r.agent.helperThreadsUsPerReq)), 3) },
    mainWakeupsPerS: { none: round(median(rs.map((r) => r.none.mainWakeupsPerS)), 1), agent: round(median(rs.map((r) => r.agent.mainWakeupsPerS)), 1) },
    agentWorker: {
      usPerReq: round(median(rs.map((r) => r.agent.workerUsPerReq)), 3),
      wakeupsPerS: round(median(rs.map((r) => r.agent.worker?.wakeupsPerS ?? NaN)), 1),
      cpuPct: round(median(rs.map((r) => r.agent.worker?.cpuPct ?? NaN)), 2),
    },
    falseBlockLines: rs.reduce((s, r) => s + r.agent.blockLines, 0),
    targetMet: median(cpuRatios) <= 1.01,
  };
}

console.log('## summary (medians over rounds; target: agent/none CPU per request <= 1.01)');
printTable(
  ['route', 'none µs/req', 'agent µs/req', 'agent/none', 'IQR', 'control/none', 'ctrl range', 'rps agent/none', 'app core', 'load core', 'other % max', 'blocks', 'target'],
  routes.map((route) => {
    const s = summary[route];
    return [`/${route}`, s.noneUsPerReq, s.agentUsPerReq, s.cpuRatioMedian, `${s.cpuRatioP25.toFixed(3)}-${s.cpuRatioP75.toFixed(3)}`, s.controlRatioMedian, `${s.controlRatioMin.toFixed(3)}-${s.controlRatioMax.toFixed(3)}`, s.rpsRatioMedian, s.appCoreUtil, s.loadCoreUtil, s.otherPctMax, String(s.falseBlockLines), verdict(s.targetMet)];
  }),
);
console.log('## rounds not disturbed by other processes only');
printTable(
  ['route', 'clean rounds', 'agent/none', 'control/none', 're-runs'],
  routes.map((route) => {
    const s = summary[route];
    return [`/${route}`, `${s.cleanRounds}/${s.rounds}`, s.cpuRatioMedianClean, s.controlRatioMedianClean, String(s.reruns)];
  }),
);
console.log('## where the CPU goes (medians; µs per request by thread, from /proc/<pid>/task/*/schedstat; wake-ups = voluntary context switches)');
printTable(
  ['route', 'main none', 'main agent', 'V8 thr none', 'V8 thr agent', 'worker', 'worker % core', 'worker wakeups/s', 'main wakeups/s none', 'agent'],
  routes.map((route) => {
    const s = summary[route];
    return [`/${route}`, s.mainThreadUsPerReq.none, s.mainThreadUsPerReq.agent, s.helperThreadsUsPerReq.none, s.helperThreadsUsPerReq.agent, s.agentWorker.usPerReq, s.agentWorker.cpuPct, s.agentWorker.wakeupsPerS, s.mainWakeupsPerS.none, s.mainWakeupsPerS.agent];
  }),
);
const notes = rounds.flatMap((r) => r.agent.otherStderr).slice(0, 5);
if (notes.length) console.log(`agent stderr (first lines): ${notes.join(' | ')}\n`);

emitJson('overhead', {
  machine, params, summary,
  rounds: rounds.map((r) => ({
    round: r.round, route: r.route, order: r.order,
    noneUs: round(r.none.cpuUsPerReq, 3), agentUs: round(r.agent.cpuUsPerReq, 3), controlUs: round(r.control.cpuUsPerReq, 3),
    cpuRatio: round(r.cpuRatio, 4), controlRatio: round(r.controlRatio, 4),
    noneRps: round(r.none.rps, 0), agentRps: round(r.agent.rps, 0), controlRps: round(r.control.rps, 0),
    otherPct: round(r.otherPct, 1), disturbed: r.disturbed, tries: r.tries, blocks: r.agent.blocks,
  })),
  elapsedS: Math.round((Date.now() - started) / 1000),
});
