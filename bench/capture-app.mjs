// Child of bench/capture.mjs: blocks the loop N times with a JS loop that records every gap
// between consecutive iterations (performance.now()), so that a capture (the inspector
// interrupt running the probe) shows as a gap. With the agent loaded, the probe global is
// wrapped to record when it ran and how long the probe function itself took.
//
// stdout, one JSON line each: {"ready":…}, {"block":…} per block, {"direct":…}, {"done":true}.
// stderr: {"benchSync": epochMs} lines (pipe-latency floor) besides the agent's block lines.
import { AsyncLocalStorage } from 'node:async_hooks';
import { readdirSync, readFileSync } from 'node:fs';

const BLOCKS = Number(process.env.BENCH_BLOCKS ?? 20);
const BLOCK_MS = Number(process.env.BENCH_BLOCK_MS ?? 200);
const GAP_MS = Number(process.env.BENCH_GAP_MS ?? 300);
const JITTER_MS = Number(process.env.BENCH_JITTER_MS ?? 50);
const DIRECT_CALLS = Number(process.env.BENCH_DIRECT_CALLS ?? 500);
/** Gaps shorter than this are ordinary loop iterations (a performance.now() call is ~50 ns). */
const GAP_MIN_MS = 0.02;

const epoch = (t) => performance.timeOrigin + t;
const out = (obj) => process.stdout.write(JSON.stringify(obj) + '\n');

const PROBE_KEY = Symbol.for('loopwatch.probe.v1');
const original = globalThis[PROBE_KEY];
const probeRuns = new Float64Array(2 * 1024);
let probeCount = 0;
if (typeof original === 'function') {
  // The agent's global is configurable (not writable): redefine it with a timing wrapper.
  Object.defineProperty(globalThis, PROBE_KEY, {
    value: function benchTimedProbe() {
      const t0 = performance.now();
      const result = original();
      if (probeCount < probeRuns.length / 2) {
        probeRuns[2 * probeCount] = t0;
        probeRuns[2 * probeCount + 1] = performance.now();
        probeCount++;
      }
      return result;
    },
    configurable: true,
    writable: false,
    enumerable: false,
  });
}

const gaps = new Float64Array(2 * 65536);

/** Busy-loops for `ms`, recording [start, length] of every gap >= GAP_MIN_MS. */
function blockFor(ms) {
  let n = 0;
  const start = performance.now();
  const end = start + ms;
  let prev = start;
  let now = start;
  while (now < end) {
    now = performance.now();
    const g = now - prev;
    if (g >= GAP_MIN_MS && n < gaps.length / 2) {
      gaps[2 * n] = prev;
      gaps[2 * n + 1] = g;
      n++;
    }
    prev = now;
  }
  return { start, end: now, n };
}

/**
 * From /proc: ns the main thread spent waiting for a CPU (runnable, not running), and ns the
 * process's other threads (the agent's worker, V8 helpers) ran. On one core, the main thread
 * waits while its sibling threads run; wait beyond that is other processes on the core, and
 * a block that saw it has gaps that are not ours.
 */
function schedNs() {
  try {
    const mainWait = Number(readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ')[1]);
    let othersRun = 0;
    // The watchdog alone, where Node names threads (>= 24: "loopwatch-watch…").
    let watchdogRun = NaN;
    for (const tid of readdirSync('/proc/self/task')) {
      if (tid === String(process.pid)) continue;
      try {
        const run = Number(readFileSync(`/proc/self/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
        othersRun += run;
        if (readFileSync(`/proc/self/task/${tid}/comm`, 'utf8').startsWith('loopwatch')) watchdogRun = run;
      } catch {
        // The thread ended.
      }
    }
    return { mainWait, othersRun, watchdogRun };
  } catch {
    return { mainWait: NaN, othersRun: NaN, watchdogRun: NaN };
  }
}

function runBlock(i) {
  probeCount = 0;
  const s0 = schedNs();
  const { start, end, n } = blockFor(BLOCK_MS);
  const s1 = schedNs();
  const waitMs = (s1.mainWait - s0.mainWait) / 1e6;
  const siblingsMs = (s1.othersRun - s0.othersRun) / 1e6;
  const watchdogMs = (s1.watchdogRun - s0.watchdogRun) / 1e6;
  let maxGap = 0;
  let sumGaps = 0;
  let over01 = 0;
  for (let k = 0; k < n; k++) {
    const g = gaps[2 * k + 1];
    if (g > maxGap) maxGap = g;
    if (g >= 0.1) {
      over01++;
      sumGaps += g;
    }
  }
  const probes = [];
  for (let p = 0; p < probeCount; p++) {
    const t0 = probeRuns[2 * p];
    const t1 = probeRuns[2 * p + 1];
    // The loop's gap that contains the probe: the whole stop (interrupt entry, evaluate,
    // probe, serialisation, return), not just the probe function.
    let stop = NaN;
    for (let k = 0; k < n; k++) {
      const gs = gaps[2 * k];
      if (gs <= t0 && t0 <= gs + gaps[2 * k + 1]) {
        stop = gaps[2 * k + 1];
        break;
      }
    }
    probes.push({ at: epoch(t0), fnMs: t1 - t0, stopMs: stop, inBlock: t0 >= start && t0 <= end });
  }
  out({ block: { i, start: epoch(start), end: epoch(end), ms: end - start, runqueueWaitMs: waitMs, siblingThreadsMs: siblingsMs, watchdogMs, maxGapMs: maxGap, gapsOver01: over01, sumGapsOver01Ms: sumGaps, probes } });
}

function deep(depth, fn) {
  return depth === 0 ? fn() : deep(depth - 1, fn) + 0;
}

/** The probe called directly, 30 frames deep inside a context store, as the interrupt would find it. */
function direct() {
  if (typeof original !== 'function') return null;
  const ALS_KEY = Symbol.for('loopwatch.context.v1');
  const als = (globalThis[ALS_KEY] ??= new AsyncLocalStorage());
  const times = [];
  let bytes = 0;
  als.run({ kind: 'job', job: 'bench-direct' }, () => {
    for (let i = 0; i < DIRECT_CALLS; i++) {
      deep(30, () => {
        const t0 = performance.now();
        const r = original();
        times.push(performance.now() - t0);
        bytes = r.length;
        return 0;
      });
    }
  });
  return { calls: times.length, firstMs: times[0], timesMs: times.slice(1), resultBytes: bytes };
}

const syncLine = () => process.stderr.write(JSON.stringify({ benchSync: epoch(performance.now()) }) + '\n');

let i = 0;
function next() {
  if (i >= BLOCKS) {
    out({ direct: direct() });
    out({ done: true });
    // Let the agent's worker finish writing before the process goes.
    setTimeout(() => process.exit(0), 200);
    return;
  }
  runBlock(i++);
  // Mid-gap, while the loop is idle: a timestamped line to measure the pipe's own latency.
  setTimeout(syncLine, GAP_MS / 2);
  // Random phase against the heartbeat, so the first-sample latency covers all phases.
  setTimeout(next, GAP_MS + Math.random() * JITTER_MS);
}

out({ ready: true, agent: typeof original === 'function', node: process.version, pid: process.pid });
setTimeout(next, GAP_MS);
