import { dirname } from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';
import type { WorkerMessage } from '../shared/event.js';
import { BlockLog, FALLBACK_FD, type LogDestination, openDestination } from '../exporters/log.js';
import { F64, I32, viewSharedState } from '../shared/shared-state.js';
import { BlockMetrics } from '../metrics/block-store.js';
import { viewGcBuffer } from '../shared/gc-buffer.js';
import { Capturer } from './capture.js';
import { SchedStat } from './cause.js';
import { FloodGate, SUMMARY_MESSAGE } from './flood.js';
import { startWorkerEndpoint } from './endpoint.js';
import { Watchdog, type WatchdogConfig } from './watchdog.js';
import { WorkerLoop } from './worker-loop.js';

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
  const loop = new WorkerLoop(state, watchdog, safeTick);
  if (config.prometheus && blocks) {
    loop.idle = 'poll';
    loop.endpoint = startWorkerEndpoint({
      ...config.prometheus, state, blocks, heartbeatMs: config.heartbeatMs, thresholdMs: config.thresholdMs,
      thread: config.thread.name, now: mainNow,
      onConnected: (connected) => loop.scraperConnected(connected),
      onError: (message) => {
        loop.endpointFailed();
        post({ code: 'warning', key: 'prometheus', warning: 'PROMETHEUS_ENDPOINT', message });
      },
    });
  }

  // From here on the watchdog sees blocks as they happen, and the main thread's records of
  // earlier ones are claimed at the first tick; unless the main thread exited or stopped
  // before this thread got here and reported them itself (issue 13).
  if (Atomics.compareExchange(state.i32, I32.READY, 0, 1) !== 0) {
    loop.shutdown();
    Atomics.store(state.i32, I32.EXIT_ACK, 1);
    Atomics.notify(state.i32, I32.EXIT_ACK);
    return;
  }
  loop.start();
}

try {
  main();
} catch (err) {
  post({ code: 'warning', key: 'start', warning: 'WORKER_FAILED', message: `loopwatch watchdog failed to start: ${(err as Error)?.stack ?? err}` });
}
