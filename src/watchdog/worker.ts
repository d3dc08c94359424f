import { dirname } from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';
import type { WorkerMessage } from '../event.js';
import { createBlockLogger, logBlock } from '../exporters/log.js';
import type { LogDestination } from '../config.js';
import { F64, FLAG, I32, viewSharedState } from '../shared-state.js';
import { Capturer } from './capture.js';
import { Watchdog, type WatchdogConfig } from './watchdog.js';

export interface WorkerData {
  buffer: SharedArrayBuffer;
  config: Omit<WatchdogConfig, 'ownRoot'> & { log: LogDestination };
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

  let logger: ReturnType<typeof createBlockLogger> = null;
  try {
    logger = createBlockLogger(config.log);
  } catch (err) {
    post({ code: 'warning', key: 'log', warning: 'LOG_DESTINATION', message: `cannot open LOOPWATCH_LOG destination ${JSON.stringify(config.log)}: ${(err as Error).message}; block lines are not written` });
  }

  const originHr = state.f64[F64.ORIGIN_HR_MS];
  const mainNow = (): number => {
    const [s, ns] = process.hrtime();
    return s * 1e3 + ns / 1e6 - originHr;
  };

  const capturer = new Capturer((reason) => {
    post({ code: 'warning', key: 'inspector', warning: 'NO_INSPECTOR', message: `loopwatch cannot capture stacks (inspector unavailable: ${reason}); blocks are still detected and timed, without stacks` });
  });

  const watchdog = new Watchdog(state, { ...config, ownRoot: dirname(__dirname) }, capturer, {
    report(event) {
      try {
        logBlock(logger, event);
      } catch {
        // A failing destination must not stop detection.
      }
      if (!event.ongoing) post({ code: 'block', event });
    },
  }, mainNow);

  // A ref'd timer keeps the worker's own loop alive (inspector callbacks need it);
  // the Worker object itself is unref'd on the main side.
  let timer: NodeJS.Timeout | undefined;
  const loop = (): void => {
    let wait = -1;
    try {
      wait = watchdog.tick();
    } catch (err) {
      post({ code: 'warning', key: 'tick', warning: 'WORKER_FAILED', message: `loopwatch watchdog error: ${(err as Error)?.stack ?? err}` });
      wait = config.heartbeatMs;
    }
    if (wait >= 0) timer = setTimeout(loop, Math.max(1, Math.ceil(wait)));
    else if (watchdog.finished) stopLoop();
  };
  const stopLoop = (): void => {
    if (timer) clearTimeout(timer);
    timer = undefined;
  };

  // Wake at once when the main thread exits or stops, rather than at the next tick.
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
        // Nothing else to do: let the worker's loop empty so the thread can end.
        return;
      }
      watchFlags();
    };
    if (res.async) (res.value as Promise<string>).then(again, () => undefined);
    else again();
  };

  watchFlags();
  loop();
}

try {
  main();
} catch (err) {
  post({ code: 'warning', key: 'start', warning: 'WORKER_FAILED', message: `loopwatch watchdog failed to start: ${(err as Error)?.stack ?? err}` });
}
