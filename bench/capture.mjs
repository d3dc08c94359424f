// How long one capture stops the main thread, and how fast a block is seen and reported.
//
//   node bench/capture.mjs [--node /path/to/node] [--blocks 20] [--block-ms 200] [--rounds 2]
//
// Runs bench/capture-app.mjs (a child pinned to one core, like a one-CPU container) with and
// without the agent. The child busy-loops N times and records every gap between loop
// iterations; with the agent it also wraps the probe global to time each capture. This
// process (pinned to the other core) timestamps each stderr line on arrival with the same
// epoch clock (performance.timeOrigin + performance.now()).
//   capture stop       the loop gap that contains a probe run: the whole interrupt
//   probe fn           the probe function alone (inside the wrapper)
//   first sample       first probe run in a block - block start      (target <= threshold + 15 ms)
//   log latency        log line arrival - block end                   (target <= 10 ms)
//   startedAt, duration errors of the log line against the child's own record
//   direct call        the probe called directly, 30 frames deep inside a context store
import { join } from 'node:path';
import {
  agentBuild, BENCH_DIR, emitJson, machineFacts, max, median, onLines, pinSelf, printMachine, printTable, quantile,
  benchCli, round, spawnNode, stopChild, verdict,
} from './lib.mjs';

const HELP = `usage: node bench/capture.mjs [options]
  --agent DIR        agent build to load (a dist/ folder; default dist/, copied first)
  --agent-b DIR      a second build, run in the same rounds (order rotating): its capture
                     figures are printed beside the first one's (an A/B of a change)
  --node PATH        node binary for the child (default: this node)
  --rounds N         child runs per side (agent, none), default 2
  --blocks N         blocks per child run, default 20
  --block-ms MS      length of each block, default 200
  --gap-ms MS        idle time between blocks (plus 0-50 ms random), default 300
  --threshold MS     LOOPWATCH_THRESHOLD_MS, default 50
  --context on|off   LOOPWATCH_CONTEXT, default on
  --app-cpu N        core for the child, default 0 ('' = not pinned)
  --self-cpu N       core for this script, default 1
  --quiet-ms MS      a block is "quiet" when other processes took its core for less than
                     this long (runqueue wait not explained by the child's own threads), default 1`;

const { opts, build, nodeBin } = benchCli(HELP, {
  rounds: { type: 'string', default: '2' },
  blocks: { type: 'string', default: '20' },
  'block-ms': { type: 'string', default: '200' },
  'gap-ms': { type: 'string', default: '300' },
  threshold: { type: 'string', default: '50' },
  'self-cpu': { type: 'string', default: '1' },
  'quiet-ms': { type: 'string', default: '1' },
  'agent-b': { type: 'string' },
});
const buildB = opts['agent-b'] === undefined ? null : agentBuild(opts['agent-b']);
const rounds = Number(opts.rounds);
const threshold = Number(opts.threshold);
const APP = join(BENCH_DIR, 'capture-app.mjs');

/**
 * One child run; resolves with its block records, probe timings and the agent's log lines.
 * `side` is 'a' (--agent), 'b' (--agent-b) or null (no agent).
 */
function runChild(side) {
  const agent = side !== null;
  return new Promise((resolvePromise, reject) => {
    const env = {
      // Every block's line is matched to the block: no flood control (its default keeps 5 per fingerprint a minute).
      LOOPWATCH_THRESHOLD_MS: opts.threshold, LOOPWATCH_CONTEXT: opts.context, LOOPWATCH_LOG: 'stderr', LOOPWATCH_LOG_LIMIT: '0',
      BENCH_BLOCKS: opts.blocks, BENCH_BLOCK_MS: opts['block-ms'], BENCH_GAP_MS: opts['gap-ms'],
    };
    const register = side === 'a' ? build.register : side === 'b' ? buildB.register : null;
    const child = spawnNode({ nodeBin, script: APP, agent: register, env, cpu: opts['app-cpu'] });
    const blocks = [];
    const logs = [];
    const syncs = [];
    const stderrOther = [];
    let direct = null;
    let ready = null;
    onLines(child.stdout, (line) => {
      const v = JSON.parse(line);
      if (v.block) blocks.push(v.block);
      else if ('direct' in v) direct = v.direct;
      else if (v.ready) ready = v;
    });
    onLines(child.stderr, (line, arrival) => {
      let v;
      try {
        v = JSON.parse(line);
      } catch {
        if (line.trim()) stderrOther.push(line);
        return;
      }
      if (v.benchSync) syncs.push(arrival - v.benchSync);
      else if (v.block) logs.push({ arrival, block: v.block });
      else stderrOther.push(line);
    });
    const timeout = setTimeout(() => {
      void stopChild(child, 'SIGKILL');
      reject(new Error('capture child timed out'));
    }, 120_000);
    child.on('exit', (code) => {
      clearTimeout(timeout);
      if (code !== 0) return reject(new Error(`capture child exited with ${code}: ${stderrOther.join('\n')}`));
      if (ready?.agent !== agent) return reject(new Error(`child reports agent=${ready?.agent}, expected ${agent}`));
      resolvePromise({ agent, blocks, logs, syncs, direct, stderrOther });
    });
  });
}

/** Pairs every block with the final (not "ongoing") log line whose startedAt is nearest. */
function analyse(run) {
  const finals = run.logs.filter((l) => !l.block.ongoing);
  const used = new Set();
  const rows = [];
  for (const b of run.blocks) {
    let best = null;
    let bestD = Infinity;
    for (const l of finals) {
      const d = Math.abs(Date.parse(l.block.startedAt) - b.start);
      if (d < bestD && !used.has(l)) {
        bestD = d;
        best = l;
      }
    }
    const log = best && bestD < b.ms ? best : null;
    if (log) used.add(log);
    const inBlock = b.probes.filter((p) => p.inBlock);
    rows.push({
      i: b.i,
      detected: !!log,
      firstSampleMs: inBlock.length ? inBlock[0].at - b.start : NaN,
      samples: inBlock.length,
      stopsMs: inBlock.map((p) => p.stopMs),
      fnMs: inBlock.map((p) => p.fnMs),
      stoppedTotalMs: inBlock.reduce((s, p) => s + (Number.isFinite(p.stopMs) ? p.stopMs : 0), 0),
      logLatencyMs: log ? log.arrival - b.end : NaN,
      startedAtErrMs: log ? Date.parse(log.block.startedAt) - b.start : NaN,
      durationErrMs: log ? log.block.durationMs - b.ms : NaN,
      culprit: log?.block.culprit?.function ?? null,
      maxGapMs: b.maxGapMs,
      runqueueWaitMs: b.runqueueWaitMs,
      siblingThreadsMs: b.siblingThreadsMs,
      watchdogMs: b.watchdogMs ?? NaN,
      // Runqueue wait not explained by our own threads running on the core: other processes.
      externalMs: Math.max(0, b.runqueueWaitMs - (opts['app-cpu'] === '' ? 0 : b.siblingThreadsMs)),
    });
  }
  return { rows, unmatchedLogs: finals.filter((l) => !used.has(l)).map((l) => l.block) };
}

const machine = machineFacts(nodeBin, build);
pinSelf(opts['self-cpu']);
const params = {
  rounds, blocks: Number(opts.blocks), blockMs: Number(opts['block-ms']), gapMs: Number(opts['gap-ms']),
  threshold, context: opts.context, appCpu: opts['app-cpu'], selfCpu: opts['self-cpu'],
};
printMachine('loopwatch capture cost and detection latency', machine, params);

const agentRows = [];
const bRows = [];
const noneRows = [];
const syncs = [];
const directs = [];
const unmatched = [];
let firstCaptures = [];
const started = Date.now();
for (let r = 0; r < rounds; r++) {
  // Alternate (rotate, with --agent-b) which side runs first.
  const all = buildB ? ['a', 'b', null] : ['a', null];
  const sides = all.map((_, k) => all[(k + r) % all.length]);
  for (const side of sides) {
    const agent = side !== null;
    const run = await runChild(side);
    syncs.push(...run.syncs);
    const { rows, unmatchedLogs } = analyse(run);
    rows.forEach((x, k) => {
      x.round = r + 1;
      x.firstOfProcess = k === 0;
    });
    if (side === 'b') {
      bRows.push(...rows);
    } else if (agent) {
      agentRows.push(...rows);
      unmatched.push(...unmatchedLogs);
      if (run.direct) directs.push(run.direct);
      const first = rows.find((x) => x.stopsMs.length);
      if (first) firstCaptures.push(first.stopsMs[0]);
    } else {
      noneRows.push(...rows);
    }
    process.stderr.write(`round ${r + 1}/${rounds} ${side === 'b' ? 'agent-b' : agent ? 'agent' : 'none'}: ${rows.length} blocks (${Math.round((Date.now() - started) / 1000)} s)\n`);
  }
}
firstCaptures = firstCaptures.filter(Number.isFinite);

const stats = (values) => {
  const v = values.filter(Number.isFinite);
  if (v.length === 0) return { n: 0, median: NaN, p90: NaN, p95: NaN, p99: NaN, max: NaN };
  return { n: v.length, median: round(median(v), 3), p90: round(quantile(v, 0.9), 3), p95: round(quantile(v, 0.95), 3), p99: round(quantile(v, 0.99), 3), max: round(max(v), 3) };
};
const allStops = agentRows.flatMap((x) => x.stopsMs);
// Blocks that other processes on the core did not disturb (the main thread's runqueue wait
// is no more than what its own sibling threads ran). The three targets are judged on
// these: the VM is shared, and the disturbed blocks are shown too.
const QUIET_WAIT_MS = Number(opts['quiet-ms']);
const quiet = agentRows.filter((x) => x.externalMs < QUIET_WAIT_MS);
const quietNone = noneRows.filter((x) => x.externalMs < QUIET_WAIT_MS);
const later = agentRows.filter((x) => !x.firstOfProcess);
const summary = {
  blocks: agentRows.length,
  detected: agentRows.filter((x) => x.detected).length,
  unmatchedLogLines: unmatched.length,
  captureStopMs: stats(allStops),
  captureStopFirstOfProcessMs: firstCaptures.map((x) => round(x, 3)),
  quietBlocks: quiet.length,
  quietWaitLimitMs: QUIET_WAIT_MS,
  runqueueWaitPerBlockMs: stats(agentRows.map((x) => x.runqueueWaitMs)),
  siblingThreadsPerBlockMs: stats(agentRows.map((x) => x.siblingThreadsMs)),
  watchdogPerBlockMs: stats(agentRows.map((x) => x.watchdogMs)),
  externalPerBlockMs: stats([...agentRows, ...noneRows].map((x) => x.externalMs)),
  captureStopQuietMs: stats(quiet.flatMap((x) => x.stopsMs)),
  maxGapAgentQuietMs: stats(quiet.map((x) => x.maxGapMs)),
  maxGapNoneQuietMs: stats(quietNone.map((x) => x.maxGapMs)),
  logLatencyQuietMs: stats(quiet.map((x) => x.logLatencyMs)),
  logLatencyLaterMs: stats(later.map((x) => x.logLatencyMs)),
  logLatencyFirstBlockMs: agentRows.filter((x) => x.firstOfProcess).map((x) => round(x.logLatencyMs, 2)),
  probeFnMs: stats(agentRows.flatMap((x) => x.fnMs)),
  samplesPerBlock: stats(agentRows.map((x) => x.samples)),
  stoppedPerBlockMs: stats(agentRows.map((x) => x.stoppedTotalMs)),
  maxGapAgentMs: stats(agentRows.map((x) => x.maxGapMs)),
  maxGapNoneMs: stats(noneRows.map((x) => x.maxGapMs)),
  firstSampleMs: stats(agentRows.map((x) => x.firstSampleMs)),
  firstSampleQuietMs: stats(quiet.map((x) => x.firstSampleMs)),
  logLatencyMs: stats(agentRows.map((x) => x.logLatencyMs)),
  pipeFloorMs: stats(syncs),
  startedAtErrMs: stats(agentRows.map((x) => x.startedAtErrMs)),
  durationErrMs: stats(agentRows.map((x) => x.durationErrMs)),
  culprits: Object.fromEntries([...new Set(agentRows.map((x) => x.culprit))].map((c) => [c, agentRows.filter((x) => x.culprit === c).length])),
};
const directTimes = directs.flatMap((d) => d.timesMs);
summary.directCallMs = { ...stats(directTimes), first: directs.map((d) => round(d.firstMs, 3)), resultBytes: directs[0]?.resultBytes ?? null };
/** null when there is nothing to judge (no quiet block: the machine was busy throughout). */
const judge = (s, limit) => (s.n === 0 ? null : s.max <= limit);
summary.targets = {
  captureStop: { limitMs: 2, on: 'max over quiet blocks', value: summary.captureStopQuietMs.max, met: judge(summary.captureStopQuietMs, 2) },
  // Issue 11's form of the same target: the p99 over at least 200 captures, all blocks.
  captureStopP99: { limitMs: 2, on: 'p99 over all captures (>= 200)', value: summary.captureStopMs.p99, met: summary.captureStopMs.n < 200 ? null : summary.captureStopMs.p99 <= 2 },
  firstSample: { limitMs: threshold + 15, on: 'max over quiet blocks', value: summary.firstSampleQuietMs.max, met: judge(summary.firstSampleQuietMs, threshold + 15) },
  logLatency: { limitMs: 10, on: 'max over quiet blocks', value: summary.logLatencyQuietMs.max, met: judge(summary.logLatencyQuietMs, 10) },
};
const say = (met) => (met === null ? 'n/a (no quiet block)' : verdict(met));

console.log(`## per block, agent runs (times in ms)`);
printTable(
  ['run', 'block', 'detected', 'first sample', 'samples', 'stops (ms)', 'log latency', 'startedAt err', 'duration err', 'max gap', 'rq wait', 'siblings', 'culprit'],
  agentRows.map((x) => [String(x.round), String(x.i), x.detected ? 'yes' : 'NO', x.firstSampleMs, String(x.samples), x.stopsMs.map((s) => s.toFixed(2)).join(' '), x.logLatencyMs, x.startedAtErrMs, x.durationErrMs, x.maxGapMs, x.runqueueWaitMs, x.siblingThreadsMs, x.culprit ?? '-']),
);

console.log('"rq wait" = ms the child\'s main thread waited for the CPU during the block; "siblings" = ms its other threads (the watchdog) ran.');
console.log(`"quiet" blocks: rq wait - siblings < ${QUIET_WAIT_MS} ms, i.e. no other process took the core (${quiet.length} of ${agentRows.length} agent blocks, ${quietNone.length} of ${noneRows.length} no-agent blocks).\n`);
console.log(`## summary (ms; ${summary.detected}/${summary.blocks} blocks detected, ${summary.unmatchedLogLines} log lines matched no block)`);
const row = (name, s, target = '') => [name, String(s.n), s.median, s.p90, s.p95, s.p99, s.max, target];
printTable(['measure', 'n', 'median', 'p90', 'p95', 'p99', 'max', 'target'], [
  row('capture stop (loop gap around a probe run), quiet', summary.captureStopQuietMs, `<= 2 (max): ${say(summary.targets.captureStop.met)}`),
  row('  all blocks', summary.captureStopMs, `<= 2 (p99, n >= 200): ${summary.targets.captureStopP99.met === null ? 'n/a (fewer than 200)' : verdict(summary.targets.captureStopP99.met)}`),
  row('  probe function alone', summary.probeFnMs),
  row('probe called directly (30 frames, with context)', summary.directCallMs),
  row('main thread stopped per block (sum of stops)', summary.stoppedPerBlockMs),
  row('samples per block', summary.samplesPerBlock),
  row('largest loop gap in a block, agent, quiet', summary.maxGapAgentQuietMs),
  row('largest loop gap in a block, no agent, quiet', summary.maxGapNoneQuietMs),
  row('  agent, all blocks', summary.maxGapAgentMs),
  row('  no agent, all blocks', summary.maxGapNoneMs),
  row('main thread runqueue wait per block (agent)', summary.runqueueWaitPerBlockMs),
  row('  of which the process\'s other threads ran', summary.siblingThreadsPerBlockMs),
  row('  of which the watchdog thread ran (Node >= 24)', summary.watchdogPerBlockMs),
  row('other processes on the core per block (all)', summary.externalPerBlockMs),
  row('first sample after block start, quiet', summary.firstSampleQuietMs, `<= ${threshold + 15} (max): ${say(summary.targets.firstSample.met)}`),
  row('  all blocks', summary.firstSampleMs),
  row('log line after block end, quiet', summary.logLatencyQuietMs, `<= 10 (max): ${say(summary.targets.logLatency.met)}`),
  row('  all blocks', summary.logLatencyMs),
  row('  all but the first block of each process', summary.logLatencyLaterMs),
  row('  pipe + clock floor (child line -> here)', summary.pipeFloorMs),
  row('startedAt - true start', summary.startedAtErrMs),
  row('durationMs - true duration', summary.durationErrMs),
]);
console.log(`first block of each agent process: capture stop ${summary.captureStopFirstOfProcessMs.join(', ')} ms, log latency ${summary.logLatencyFirstBlockMs.join(', ')} ms; first direct call: ${summary.directCallMs.first.join(', ')}; probe result ${summary.directCallMs.resultBytes} bytes`);
console.log(`culprits named: ${JSON.stringify(summary.culprits)}`);
if (buildB) {
  /** The figures an A/B of the capture path turns on, for one side's rows. */
  const sideFigures = (rows) => ({
    detected: rows.filter((x) => x.detected).length,
    blocks: rows.length,
    stop: stats(rows.flatMap((x) => x.stopsMs)),
    stopQuiet: stats(rows.filter((x) => x.externalMs < QUIET_WAIT_MS).flatMap((x) => x.stopsMs)),
    stopFirst: stats(rows.map((x) => x.stopsMs[0])),
    stopLater: stats(rows.flatMap((x) => x.stopsMs.slice(1))),
    probeFn: stats(rows.flatMap((x) => x.fnMs)),
    watchdog: stats(rows.map((x) => x.watchdogMs)),
    siblings: stats(rows.map((x) => x.siblingThreadsMs)),
    maxGap: stats(rows.map((x) => x.maxGapMs)),
    logLatency: stats(rows.map((x) => x.logLatencyMs)),
    culprits: Object.fromEntries([...new Set(rows.map((x) => x.culprit))].map((c) => [c, rows.filter((x) => x.culprit === c).length])),
  });
  const a = sideFigures(agentRows);
  const b = sideFigures(bRows);
  summary.compare = { agentB: { distSha: buildB.distSha, distBuiltAt: buildB.distBuiltAt }, a, b };
  console.log(`\n## A/B: --agent (dist ${build.distSha}) vs --agent-b (dist ${buildB.distSha}), same rounds`);
  const pair = (name, key) => [[`${name}, A`, a[key]], [`${name}, B`, b[key]]].map(([n, s]) => row(n, s));
  printTable(['measure', 'n', 'median', 'p90', 'p95', 'p99', 'max', ''], [
    ...pair('capture stop, all blocks', 'stop'),
    ...pair('capture stop, quiet', 'stopQuiet'),
    ...pair('capture stop, first of a block', 'stopFirst'),
    ...pair('capture stop, later ones', 'stopLater'),
    ...pair('probe function alone', 'probeFn'),
    ...pair('watchdog thread ran per block', 'watchdog'),
    ...pair('other threads ran per block', 'siblings'),
    ...pair('largest loop gap in a block', 'maxGap'),
    ...pair('log line after block end', 'logLatency'),
  ]);
  console.log(`detected: A ${a.detected}/${a.blocks}, B ${b.detected}/${b.blocks}; culprits: A ${JSON.stringify(a.culprits)}, B ${JSON.stringify(b.culprits)}`);
}
if (unmatched.length) console.log(`log lines that matched no block: ${JSON.stringify(unmatched.map((b) => ({ startedAt: b.startedAt, durationMs: b.durationMs, kind: b.context?.kind })))}`);
console.log('');

emitJson('capture', { machine, params, summary, elapsedS: Math.round((Date.now() - started) / 1000) });
