import { busySinceBeat, F64, FLAG, I32, recordDelay, type SharedState, writeUntracked } from '../shared/shared-state.js';

/**
 * The main thread's only recurring work: one unref'd interval that stamps the time and
 * the loop's idle time into shared memory, and records how late it fired (loop delay)
 * into a cumulative histogram that is never reset (a reset forgets the tick in progress,
 * which is how prom-client and OTel runtime metrics lose blocks: bench/scrape-loss.mjs).
 */
export class Heartbeat {
  readonly #state: SharedState;
  readonly #intervalMs: number;
  readonly #nodeTiming = performance.nodeTiming;
  readonly #thresholdMs: number;
  #timer: NodeJS.Timeout | undefined;
  #last = 0;
  /**
   * Called after each checked beat with whether the watchdog tracks a stall (this beat then
   * ends it), the beat's BEATS count and time: the GC meter's hook (gc-meter.ts).
   */
  onBeat: ((stalled: boolean, beats: number, at: number) => void) | null = null;

  constructor(state: SharedState, intervalMs: number, thresholdMs: number) {
    this.#state = state;
    this.#intervalMs = intervalMs;
    this.#thresholdMs = thresholdMs;
    const { f64 } = state;
    const [sec, nsec] = process.hrtime();
    f64[F64.ORIGIN_HR_MS] = sec * 1e3 + nsec / 1e6 - performance.now();
    f64[F64.TIME_ORIGIN_MS] = performance.timeOrigin;
    f64[F64.DELAY_MIN] = Infinity;
  }

  start(): void {
    this.#last = performance.now();
    // STARTUP_BEAT: the first beat, with nothing before it to check.
    this.#stamp(this.#last, this.#nodeTiming.idleTime, null);
    this.#timer = setInterval(this.#beat, this.#intervalMs);
    this.#timer.unref();
    // The beat that ends the app's synchronous startup (see STARTUP_BEAT). An immediate runs
    // in the loop's first iteration, so it cannot keep the process alive.
    setImmediate(this.#loopStarted);
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    Atomics.or(this.#state.i32, I32.FLAGS, FLAG.STOPPED);
  }

  /** A last beat, written synchronously from the 'exit' handler. */
  finalBeat(): void {
    this.#checkedBeat(performance.now(), null);
  }

  /** Busy time (ms) since the last beat: wall time minus loop idle time. */
  busySinceBeat(now = performance.now(), idle = this.#nodeTiming.idleTime): number {
    return busySinceBeat(this.#state, now, idle);
  }

  readonly #loopStarted = (): void => {
    if (!this.#timer) return;
    this.#state.f64[F64.LOOP_START] = this.#nodeTiming.loopStart;
    this.#checkedBeat(performance.now(), null);
  };

  readonly #beat = (): void => {
    const now = performance.now();
    const delayMs = now - this.#last - this.#intervalMs;
    this.#last = now;
    this.#checkedBeat(now, delayMs > 0 ? delayMs / 1e3 : 0);
  };

  /**
   * A beat after the first: checked against the last one (checkBeat), written, then the
   * watchdog and the GC hook are told. `delayS` is the loop delay this beat measured, or
   * null for beats that measure none (the loop's first turn, the exit).
   */
  #checkedBeat(now: number, delayS: number | null): void {
    const { i32 } = this.#state;
    const idle = this.#nodeTiming.idleTime;
    // Safety net: a block the watchdog did not see (its thread was not scheduled in time)
    // is still known here, from the busy time between this beat and the last.
    // It is also the only record of blocks before the watchdog thread runs (issue 13).
    checkBeat(this.#state, now, idle, this.busySinceBeat(now, idle) >= this.#thresholdMs);
    this.#stamp(now, idle, delayS);
    // The worker is tracking a stall and this beat ends it: wake it now rather than at its
    // next poll, so the line follows the block at once.
    const stalled = Atomics.load(i32, I32.STALL) !== 0;
    if (stalled) Atomics.notify(i32, I32.FLAGS);
    // An optional call evaluates its arguments only when the hook is set (GC meter on).
    this.onBeat?.(stalled, Atomics.load(i32, I32.BEATS), now);
  }

  /** Writes the beat's time, idle time and delay sample (if any) under the sequence lock. */
  #stamp(now: number, idle: number, delayS: number | null): void {
    const { i32, f64 } = this.#state;
    Atomics.add(i32, I32.SEQ, 1);
    f64[F64.BEAT_AT] = now;
    f64[F64.IDLE_AT] = idle;
    if (delayS !== null) recordDelay(f64, delayS);
    Atomics.add(i32, I32.BEATS, 1);
    Atomics.add(i32, I32.SEQ, 1);
  }
}

/**
 * What a beat tells the watchdog besides the time, before it is written (exported for the
 * watchdog's tests, which play the main thread):
 * - the first beat after the stall the watchdog tracks is its end (I32.RECOVERED): a
 *   watchdog that reads the beats late, under CPU contention, would otherwise take a later
 *   beat for the end and merge the next block into this one (measured: 97-99 of 100
 *   back-to-back blocks of 60 ms with two busy processes on the 2 cores, issue 13);
 * - a block since the last beat that the watchdog is not tracking (not running yet, not
 *   scheduled in time, or still on a stall that has already ended) goes into an untracked
 *   record, for the watchdog or the exiting main thread to report.
 */
export function checkBeat(state: SharedState, now: number, idle: number, blocked: boolean): void {
  const { i32, f64 } = state;
  const stall = Atomics.load(i32, I32.STALL);
  const recovered = Atomics.load(i32, I32.RECOVERED);
  if (blocked && (stall === 0 || recovered !== 0)) {
    writeUntracked(state, {
      fromAt: f64[F64.BEAT_AT], fromIdle: f64[F64.IDLE_AT], toAt: now, toIdle: idle,
      toBeat: Atomics.load(i32, I32.BEATS) + 1, early: Atomics.load(i32, I32.READY) !== 1,
    });
    Atomics.notify(i32, I32.FLAGS);
  }
  if (stall !== 0 && recovered === 0) {
    f64[F64.RECOVERY_AT] = now;
    f64[F64.RECOVERY_IDLE] = idle;
    Atomics.store(i32, I32.RECOVERED, Atomics.load(i32, I32.BEATS) + 1);
  }
}
