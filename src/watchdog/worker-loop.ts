import { FLAG, I32, type SharedState } from '../shared/shared-state.js';
import type { Endpoint } from './endpoint.js';
import type { Watchdog } from './watchdog.js';

/**
 * In 'poll' idle mode, the longest a new /metrics connection waits to be accepted. Measured
 * side by side (bench/idle.mjs --prometheus-port, Node 20, 2-core VM), the endpoint added
 * 0.30 % of a core turning every 100 ms, 0.20 % every 250 ms, 0.24 % every 500 ms: past
 * 250 ms the turns are no longer what it costs, and a scrape should not wait longer.
 */
const POLL_MS = 250;

/**
 * How the worker idles. 'sync': a synchronous loop sleeping in Atomics.wait on the FLAGS
 * slot, which costs about half of a timer wake-up of the event loop and wakes at once when
 * the main thread exits, stops or reports an untracked block (it notifies that slot). The
 * /metrics endpoint needs the event loop, and a turn of it costs a timer wake-up (~100-200 µs
 * on the 2-core VMs here): 'poll' is the synchronous loop plus one turn of the event loop
 * (setImmediate) once POLL_MS have passed, so a new connection waits at most that long;
 * 'loop', while a scraper is connected, idles on event-loop timers, so its requests are
 * answered at once. 'sync' without an endpoint or once it failed.
 */
export type IdleMode = 'sync' | 'poll' | 'loop';

/**
 * Where the worker is between two ticks of the watchdog:
 * - 'waiting': idle in the synchronous loop (IdleMode 'sync' or 'poll'), or about to enter it;
 * - 'turning': idle, one turn of the event loop queued ('poll'), back to 'waiting' after it;
 * - 'idle-timer': idle on an event-loop timer ('loop');
 * - 'stalled': tracking a stall, on event-loop timers, because the inspector session's
 *   callbacks arrive there (and the ref'd timer keeps this thread's loop alive);
 * - 'done': the watchdog exited, or the worker was shut down.
 */
type Mode = 'waiting' | 'turning' | 'idle-timer' | 'stalled' | 'done';

type WaitAsync = (a: Int32Array, i: number, v: number) => { async: boolean; value: Promise<string> | string };

/** The worker's waits between ticks, as a state machine over Mode (one method per transition). */
export class WorkerLoop {
  idle: IdleMode = 'sync';
  endpoint: Endpoint | undefined;
  #mode: Mode = 'waiting';
  #timer: NodeJS.Timeout | undefined;
  #immediate: NodeJS.Immediate | undefined;
  #turnedAt = 0;

  constructor(
    private readonly state: SharedState,
    private readonly watchdog: Watchdog,
    /** One watchdog tick: ms until it wants the next one, < 0 once it has finished. */
    private readonly tick: () => number,
  ) {}

  start(): void {
    this.#watchFlags();
    this.#idleTick();
  }

  /** A scraper connected to the endpoint or left it: the next idle tick picks the new mode. */
  scraperConnected(connected: boolean): void {
    if (this.idle !== 'sync') this.idle = connected ? 'loop' : 'poll';
  }

  endpointFailed(): void {
    this.endpoint = undefined;
    this.idle = 'sync';
  }

  /** Stops every wait and closes the endpoint. */
  shutdown(): void {
    this.#clearTimer();
    if (this.#immediate) clearImmediate(this.#immediate);
    this.#immediate = undefined;
    this.endpoint?.close();
    this.endpoint = undefined;
    this.#mode = 'done';
  }

  /** Idle: tick, and wait as the IdleMode says until the next tick, a stall, or the exit. */
  readonly #idleTick = (): void => {
    this.#timer = undefined;
    this.#immediate = undefined;
    this.#mode = 'waiting';
    const i32 = this.state.i32;
    for (;;) {
      const wait = this.tick();
      if (wait < 0) {
        this.#mode = 'done';
        return;
      }
      if (this.watchdog.stalled) return this.#toStalled(wait);
      const flags = Atomics.load(i32, I32.FLAGS);
      if (flags & (FLAG.EXITING | FLAG.STOPPED)) {
        this.#mode = 'done';
        this.watchdog.exit();
        return;
      }
      if (this.idle === 'loop') return this.#toIdleTimer(wait);
      if (this.idle === 'poll') {
        Atomics.wait(i32, I32.FLAGS, flags, Math.max(1, Math.min(wait, POLL_MS)));
        const now = performance.now();
        if (now - this.#turnedAt >= POLL_MS) {
          this.#turnedAt = now;
          return this.#toTurning();
        }
        continue;
      }
      Atomics.wait(i32, I32.FLAGS, flags, Math.max(1, wait));
    }
  };

  /** Tracking a stall: tick on timers until the watchdog closes it. */
  readonly #stallTick = (): void => {
    this.#timer = undefined;
    const wait = this.tick();
    if (wait < 0) {
      this.#mode = 'done';
      return;
    }
    if (this.watchdog.stalled) {
      this.#toStalled(wait);
    } else {
      // Back to the idle loop after this turn, so pending session callbacks run first.
      this.#mode = 'waiting';
      this.#timer = setTimeout(this.#idleTick, 0);
    }
  };

  #toStalled(wait: number): void {
    this.#mode = 'stalled';
    this.#timer = setTimeout(this.#stallTick, Math.max(1, Math.ceil(wait)));
  }

  #toIdleTimer(wait: number): void {
    this.#mode = 'idle-timer';
    this.#timer = setTimeout(this.#idleTick, Math.max(1, Math.ceil(wait)));
  }

  #toTurning(): void {
    this.#mode = 'turning';
    this.#immediate = setImmediate(this.#idleTick);
  }

  #clearTimer(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#mode === 'idle-timer') this.#mode = 'waiting';
  }

  /**
   * While on the event loop, wake at once when the main thread exits or stops, or when its
   * recovery beat ends the stall being tracked (the heartbeat notifies FLAGS then).
   */
  #watchFlags(): void {
    const waitAsync = (Atomics as unknown as { waitAsync?: WaitAsync }).waitAsync;
    if (!waitAsync) return;
    const i32 = this.state.i32;
    const current = Atomics.load(i32, I32.FLAGS);
    if (current & (FLAG.EXITING | FLAG.STOPPED)) return;
    const res = waitAsync(i32, I32.FLAGS, current);
    if (res.async) (res.value as Promise<string>).then(this.#onFlags, () => undefined);
    else this.#onFlags();
  }

  readonly #onFlags = (): void => {
    if (Atomics.load(this.state.i32, I32.FLAGS) & (FLAG.EXITING | FLAG.STOPPED)) {
      this.shutdown();
      this.watchdog.exit();
      return;
    }
    this.#watchFlags();
    if (this.watchdog.stalled) {
      // The recovery beat: close the stall now rather than at the next poll.
      this.#clearTimer();
      this.#stallTick();
    } else if (this.#mode === 'idle-timer') {
      // An untracked block reported by the main thread: look now, as the synchronous loop would.
      this.#clearTimer();
      this.#idleTick();
    }
  };
}
