import { dirname } from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';
import type { WorkerMessage } from '../shared/event.js';
import { BlockLog, FALLBACK_FD, type LogDestination, openDestination } from '../exporters/log.js';
import { F64, FLAG, I32, viewSharedState } from '../shared/shared-state.js';
import { BlockMetrics } from '../metrics/block-store.js';
import { viewGcBuffer } from '../shared/gc-buffer.js';
import { Capturer } from './capture.js';
import { SchedStat } from './cause.js';
import { FloodGate, SUMMARY_MESSAGE } from './flood.js';
import { type Endpoint, startWorkerEndpoint } from './endpoint.js';
import { Watchdog, type WatchdogConfig } from './watchdog.js';

/**
 * In 'poll' idle mode, the longest a new /metrics connection waits to be accepted. Measured
 * side by side (bench/idle.mjs --prometheus-port, Node 20, 2-core VM), the endpoint added
 * 0.30 % of a core turning every 100 ms, 0.20 % every 250 ms, 0.24 % every 500 ms: past
 * 250 ms the turns are no longer what it costs, and a scrape should not wait longer.
 */
const POLL_MS = 250;

export interface WorkerData {
  buffer: SharedArrayBuffer;
  config: Omit<WatchdogConfig, 'ownRoot'> & {
    log: LogDestination;
    /** The standalone /metrics endpoint, or null. */
    prometheus: { port: number; host: string; topN: number } | null;
    /** Kernel thread id of the watched thread (its schedstat), or null where unknown. */
    tid: number | null;
    /** The GC meter's buffer (shared/gc-buffer.ts), or null without stack captures. */
    gcBuffer: SharedArrayBuffer | null;
    /** Flood control (flood.ts): lines per fingerprint per interval. */
    logLimit: number;
    logIntervalMs: number;
  };
}

const post = (msg: WorkerMessage): void => {
  try {
    parentPort?.postMessage(msg);
  } catch {
    // The main thread is gone.
  }
};

function main(): void {
  const { buffer, config } = workerData as WorkerData;
  const state = viewSharedState(buffer);

  // A file destination that cannot be opened (missing folder, read-only file) or later
  // written falls back to stderr, the default destination, with one warning saying so.
  const logWarning = (what: string, reason: string): void => {
    post({ code: 'warning', key: 'log', warning: 'LOG_DESTINATION', message: `loopwatch cannot ${what} its log destination ${JSON.stringify(config.log)} (LOOPWATCH_LOG): ${reason}; block lines go to stderr instead` });
  };
  let fd: number | null = null;
  try {
    fd = openDestination(config.log);
  } catch (err) {
    fd = FALLBACK_FD;
    logWarning('open', (err as Error)?.message ?? String(err));
  }

  const originHr = state.f64[F64.ORIGIN_HR_MS];
  const mainNow = (): number => {
    const [s, ns] = process.hrtime();
    return s * 1e3 + ns / 1e6 - originHr;
  };

  const log = new BlockLog(fd, (reason) => logWarning('write to', reason));
  // A watchdog started by an agent in one of the app's worker threads captures that thread.
  const target = config.thread.id === 0 ? undefined : { threadId: config.thread.id, onName: (name: string) => { config.thread.name = name; } };
  const blocks = config.prometheus ? new BlockMetrics(config.prometheus.topN) : null;
  let captureWarned = false;
  const capturer = new Capturer((reason) => {
    post({ code: 'warning', key: 'inspector', warning: 'NO_INSPECTOR', message: `loopwatch cannot capture stacks (inspector unavailable: ${reason}); blocks are still detected and timed, without stacks` });
  }, undefined, target);

  // Lines are limited per fingerprint; every block still reaches the metrics and the agent.
  const flood = new FloodGate({
    limit: config.logLimit, intervalMs: config.logIntervalMs, timeOrigin: state.f64[F64.TIME_ORIGIN_MS],
    write: (suppressed) => log.prepare()?.warn({ suppressed }, SUMMARY_MESSAGE),
  });
  const sched = new SchedStat(config.tid);
  const causes = { sched, gc: config.gcBuffer ? viewGcBuffer(config.gcBuffer) : null };

  const watchdog = new Watchdog(state, { ...config, ownRoot: dirname(__dirname) }, capturer, {
    report(event) {
      try {
        if (flood.admit(event, mainNow())) log.write(event);
      } catch {
        // A failing destination must not stop detection.
      }
      if (!event.ongoing) {
        blocks?.record(event);
        post({ code: 'block', event });
        Atomics.add(state.i32, I32.REPORTS, 1);
      }
    },
    sampled() {
      try {
        log.prepare();
      } catch {
        // Reported when the line is written.
      }
    },
    captureFailed(reason) {
      // Once: every later probe of a process that froze Error.prepareStackTrace fails alike.
      if (captureWarned) return;
      captureWarned = true;
      post({ code: 'warning', key: 'capture', warning: 'CAPTURE_FAILED', message: `loopwatch could not capture a stack: ${reason}; blocks are still detected and timed, without stacks` });
    },
    flush() {
      flood.flushAll();
    },
  }, mainNow, causes);

  // Two modes. Idle: a synchronous loop sleeping in Atomics.wait on the FLAGS slot, which
  // costs about half of a timer wake-up of the event loop and wakes at once when the main
  // thread exits, stops or reports an untracked block (it notifies that slot). Tracking a
  // stall: back on the event loop, polling with a ref'd timer, because the inspector
  // session's callbacks arrive there (and the ref'd timer keeps this loop alive).
  let timer: NodeJS.Timeout | undefined;
  // The /metrics endpoint needs the event loop too, and a turn of it costs a timer wake-up
  // (~100-200 µs on the 2-core VMs here). Idle 'poll': the synchronous loop, plus one turn
  // of the event loop (setImmediate) once POLL_MS have passed, so a new connection waits at
  // most that long. Idle 'loop', while a scraper is connected: timers on the event loop, so
  // its requests are answered at once. 'sync' without an endpoint or once it failed.
  let idleMode: 'sync' | 'poll' | 'loop' = 'sync';
  let immediate: NodeJS.Immediate | undefined;
  let turnedAt = 0;
  const safeTick = (): number => {
    try {
      // Summaries of intervals that ended: a comparison unless one is due.
      flood.flush(mainNow());
      return watchdog.tick();
    } catch (err) {
      post({ code: 'warning', key: 'tick', warning: 'WORKER_FAILED', message: `loopwatch watchdog error: ${(err as Error)?.stack ?? err}` });
      return config.heartbeatMs;
    }
  };
  const idleLoop = (): void => {
    timer = undefined;
    immediate = undefined;
    idleTimer = false;
    for (;;) {
      const wait = safeTick();
      if (wait < 0) return;
      if (watchdog.stalled) {
        timer = setTimeout(stallLoop, Math.max(1, Math.ceil(wait)));
        return;
      }
      const flags = Atomics.load(state.i32, I32.FLAGS);
      if (flags & (FLAG.EXITING | FLAG.STOPPED)) {
        watchdog.exit();
        return;
      }
      if (idleMode === 'loop') {
        idleTimer = true;
        timer = setTimeout(idleLoop, Math.max(1, Math.ceil(wait)));
        return;
      }
      if (idleMode === 'poll') {
        Atomics.wait(state.i32, I32.FLAGS, flags, Math.max(1, Math.min(wait, POLL_MS)));
        const now = performance.now();
        if (now - turnedAt >= POLL_MS) {
          turnedAt = now;
          immediate = setImmediate(idleLoop);
          return;
        }
        continue;
      }
      Atomics.wait(state.i32, I32.FLAGS, flags, Math.max(1, wait));
    }
  };
  let idleTimer = false;
  const stallLoop = (): void => {
    timer = undefined;
    const wait = safeTick();
    if (wait < 0) return;
    if (watchdog.stalled) timer = setTimeout(stallLoop, Math.max(1, Math.ceil(wait)));
    // Back to the idle loop after this turn, so pending session callbacks run first.
    else timer = setTimeout(idleLoop, 0);
  };
  const stopLoop = (): void => {
    stopTimer();
    if (immediate) clearImmediate(immediate);
    immediate = undefined;
    endpoint?.close();
    endpoint = undefined;
  };

  // While on the event loop, wake at once when the main thread exits or stops, or when its
  // recovery beat ends the stall being tracked (the heartbeat notifies FLAGS then).
  const watchFlags = (): void => {
    const waitAsync = (Atomics as unknown as { waitAsync?: (a: Int32Array, i: number, v: number) => { async: boolean; value: Promise<string> | string } }).waitAsync;
    if (!waitAsync) return;
    const current = Atomics.load(state.i32, I32.FLAGS);
    if (current & (FLAG.EXITING | FLAG.STOPPED)) return;
    const res = waitAsync(state.i32, I32.FLAGS, current);
    const again = (): void => {
      if (Atomics.load(state.i32, I32.FLAGS) & (FLAG.EXITING | FLAG.STOPPED)) {
        stopLoop();
        watchdog.exit();
        return;
      }
      watchFlags();
      if (watchdog.stalled) {
        // The recovery beat: close the stall now rather than at the next poll.
        stopTimer();
        stallLoop();
      } else if (idleTimer) {
        // An untracked block reported by the main thread: look now, as the synchronous loop would.
        stopTimer();
        idleLoop();
      }
    };
    if (res.async) (res.value as Promise<string>).then(again, () => undefined);
    else again();
  };

  const stopTimer = (): void => {
    if (timer) clearTimeout(timer);
    timer = undefined;
    idleTimer = false;
  };

  let endpoint: Endpoint | undefined;
  if (config.prometheus && blocks) {
    idleMode = 'poll';
    endpoint = startWorkerEndpoint({
      ...config.prometheus, state, blocks, heartbeatMs: config.heartbeatMs, thresholdMs: config.thresholdMs,
      thread: config.thread.name, now: mainNow,
      // The next turn of the idle loop picks the new mode.
      onConnected: (connected) => {
        if (idleMode !== 'sync') idleMode = connected ? 'loop' : 'poll';
      },
      onError: (message) => {
        endpoint = undefined;
        idleMode = 'sync';
        post({ code: 'warning', key: 'prometheus', warning: 'PROMETHEUS_ENDPOINT', message });
      },
    });
  }

  // From here on the watchdog sees blocks as they happen, and the main thread's records of
  // earlier ones are claimed at the first tick; unless the main thread exited or stopped
  // before this thread got here and reported them itself (issue 13).
  if (Atomics.compareExchange(state.i32, I32.READY, 0, 1) !== 0) {
    stopLoop();
    Atomics.store(state.i32, I32.EXIT_ACK, 1);
    Atomics.notify(state.i32, I32.EXIT_ACK);
    return;
  }
  watchFlags();
  idleLoop();
}

try {
  main();
} catch (err) {
  post({ code: 'warning', key: 'start', warning: 'WORKER_FAILED', message: `loopwatch watchdog failed to start: ${(err as Error)?.stack ?? err}` });
}
