import { dirname } from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';
import type { WorkerMessage } from '../event.js';
import { BlockLog, openDestination } from '../exporters/log.js';
import type { LogDestination } from '../config.js';
import { F64, FLAG, I32, viewSharedState } from '../shared-state.js';
import { BlockMetrics } from '../metrics/block-store.js';
import { buildFamilies } from '../metrics/families.js';
import { render } from '../metrics/exposition.js';
import { LoopStatsReader } from '../metrics/loop-stats.js';
import { Capturer } from './capture.js';
import { type Endpoint, startEndpoint } from './endpoint.js';
import { Watchdog, type WatchdogConfig } from './watchdog.js';

export interface WorkerData {
  buffer: SharedArrayBuffer;
  config: Omit<WatchdogConfig, 'ownRoot'> & {
    log: LogDestination;
    /** The standalone /metrics endpoint, or null. */
    prometheus: { port: number; host: string; topN: number } | null;
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

  let fd: number | null = null;
  try {
    fd = openDestination(config.log);
  } catch (err) {
    post({ code: 'warning', key: 'log', warning: 'LOG_DESTINATION', message: `cannot open LOOPWATCH_LOG destination ${JSON.stringify(config.log)}: ${(err as Error).message}; block lines are not written` });
  }

  const originHr = state.f64[F64.ORIGIN_HR_MS];
  const mainNow = (): number => {
    const [s, ns] = process.hrtime();
    return s * 1e3 + ns / 1e6 - originHr;
  };

  const log = new BlockLog(fd);
  const blocks = config.prometheus ? new BlockMetrics(config.prometheus.topN) : null;
  const capturer = new Capturer((reason) => {
    post({ code: 'warning', key: 'inspector', warning: 'NO_INSPECTOR', message: `loopwatch cannot capture stacks (inspector unavailable: ${reason}); blocks are still detected and timed, without stacks` });
  });

  const watchdog = new Watchdog(state, { ...config, ownRoot: dirname(__dirname) }, capturer, {
    report(event) {
      try {
        log.write(event);
      } catch {
        // A failing destination must not stop detection.
      }
      if (!event.ongoing) {
        blocks?.record(event);
        post({ code: 'block', event });
      }
    },
  }, mainNow);

  // The /metrics endpoint needs this thread's event loop. 'poll': after each synchronous
  // sleep the loop turns once (setImmediate), which serves new connections within one
  // heartbeat at almost the cost of the synchronous loop. 'loop': while a scraper is
  // connected, sleep in timers on the event loop so its requests are answered at once.
  // Without an endpoint (or once it failed), 'sync':
  let idleMode: 'sync' | 'poll' | 'loop' = 'sync';
  let immediate: NodeJS.Immediate | undefined;
  // Two modes. Idle: a synchronous loop sleeping in Atomics.wait on the FLAGS slot, which
  // costs about half of a timer wake-up of the event loop and wakes at once when the main
  // thread exits, stops or reports an untracked block (it notifies that slot). Tracking a
  // stall: back on the event loop, polling with a ref'd timer, because the inspector
  // session's callbacks arrive there (and the ref'd timer keeps this loop alive).
  let timer: NodeJS.Timeout | undefined;
  const safeTick = (): number => {
    try {
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
      Atomics.wait(state.i32, I32.FLAGS, flags, Math.max(1, wait));
      if (idleMode === 'poll') {
        immediate = setImmediate(idleLoop);
        return;
      }
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
    if (timer) clearTimeout(timer);
    if (immediate) clearImmediate(immediate);
    timer = undefined;
    immediate = undefined;
    idleTimer = false;
    endpoint?.close();
    endpoint = undefined;
  };

  // While on the event loop, wake at once when the main thread exits or stops.
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
      // An untracked block reported by the main thread: look now, as the synchronous loop would.
      if (idleTimer) {
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
    const reader = new LoopStatsReader(state, { heartbeatMs: config.heartbeatMs, thresholdMs: config.thresholdMs, now: mainNow });
    const thread = config.thread.name;
    idleMode = 'poll';
    endpoint = startEndpoint({
      port: config.prometheus.port,
      host: config.prometheus.host,
      render: (format) => render(buildFamilies({ loop: reader.read(), blocks, thread }), format),
      onListening: () => undefined,
      onConnections: (open) => {
        if (idleMode === 'sync') return;
        idleMode = open > 0 ? 'loop' : 'poll';
        // An idle timer set in 'loop' mode may be far off; the next turn picks the new mode.
      },
      onError: (message) => {
        endpoint = undefined;
        post({ code: 'warning', key: 'prometheus', warning: 'PROMETHEUS_ENDPOINT', message });
        // Back to the synchronous idle loop (the next tick switches; a stall keeps its timers).
        idleMode = 'sync';
      },
    });
  }

  watchFlags();
  idleLoop();
}

try {
  main();
} catch (err) {
  post({ code: 'warning', key: 'start', warning: 'WORKER_FAILED', message: `loopwatch watchdog failed to start: ${(err as Error)?.stack ?? err}` });
}
