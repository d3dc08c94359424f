/**
 * Named slots of the SharedArrayBuffer between the main thread (sole writer of the beat
 * and loop statistics) and the watchdog worker (reader; writer of its own flags).
 *
 * Float64 values are written with plain stores inside a sequence lock: the writer bumps
 * SEQ to odd, writes, bumps it to even (Atomics give the ordering); a reader retries
 * while SEQ is odd or changed under it. Nothing here allocates on the hot path.
 */

/** Upper bounds (seconds) of the loop-delay histogram; the last bucket is +Inf. */
export const DELAY_BUCKETS_S = Object.freeze([
  0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
]);

export const I32 = {
  /** Sequence lock over the F64 beat slots. */
  SEQ: 0,
  /** Number of beats so far (wraps at 2^31; readers compare for change only). */
  BEATS: 1,
  /** Bit flags written by the main thread: see FLAG. */
  FLAGS: 2,
  /** Set to 1 by the worker when it has finished its exit work. */
  EXIT_ACK: 3,
  /** 1 while the worker is tracking a stall (a capture may be under way). */
  STALL: 4,
  /** Untracked records written so far by the main thread (see writeUntracked). */
  UNTRACKED: 5,
  /** Untracked records claimed so far, by the watchdog or the exiting main thread (see claimUntracked). */
  UNTRACKED_CLAIMED: 6,
  /**
   * Who reports blocks: 0 until the worker's watchdog runs, then 1 (set by the worker); -1
   * when the main thread exited or stopped first and reported its records itself (the worker
   * then reports nothing). Compare-and-swap on both sides, so exactly one of them decides.
   */
  READY: 7,
  /** 1 while the worker writes a line: an exiting main thread waits for it (bounded). */
  REPORTING: 8,
  /** Bumped by the worker after it posted a finished block to the agent: received = posted means none is on its way. */
  REPORTS: 9,
  /**
   * BEATS count of the first beat after the stall the worker tracks (0: none yet); that
   * beat's time and idle time are in F64.RECOVERY_AT/IDLE. Set by the main thread, cleared
   * by the worker when it begins tracking a stall.
   */
  RECOVERED: 10,
} as const;
const I32_SLOTS = 12;

/**
 * Beat 1 is written by start(), beat 2 when the event loop first turns. A stall whose
 * last beat is beat 1 began during the app's synchronous startup (module loading under
 * --require), and is reported with kind "startup".
 */
export const STARTUP_BEAT = 1;

export const FLAG = {
  EXITING: 1,
  STOPPED: 2,
} as const;

export const F64 = {
  /** Main thread's performance.now() origin on the process.hrtime clock (ms). */
  ORIGIN_HR_MS: 0,
  /** Main thread's performance.timeOrigin (Unix epoch ms). */
  TIME_ORIGIN_MS: 1,
  /** performance.now() of the last beat. */
  BEAT_AT: 2,
  /** performance.nodeTiming.idleTime at the last beat. */
  IDLE_AT: 3,
  /** Loop delay observed by the beats: sum (s), sum of squares (s^2), count, max (s), min (s). */
  DELAY_SUM: 4,
  DELAY_SUM_SQ: 5,
  DELAY_COUNT: 6,
  DELAY_MAX: 7,
  DELAY_MIN: 8,
  /** The first beat after a tracked stall (see I32.RECOVERED): time and idle time. */
  RECOVERY_AT: 9,
  RECOVERY_IDLE: 10,
  // 11-13: free (the untracked records moved to a ring at UNTRACKED_0).
  /** First of DELAY_BUCKETS_S.length + 1 cumulative-free bucket counts (the last is +Inf). */
  DELAY_BUCKET_0: 14,
  /** performance.nodeTiming.loopStart (ms after timeOrigin), once the loop has started; 0 before. */
  LOOP_START: 14 + DELAY_BUCKETS_S.length + 1,
  /** First of FINE_BUCKETS counts of the same delays on a log scale: percentiles, min and max. */
  FINE_BUCKET_0: 14 + DELAY_BUCKETS_S.length + 2,
} as const;

/**
 * The fine delay histogram: bucket 0 holds delays under FINE_MIN_S, bucket i >= 1 holds
 * [FINE_MIN_S × 2^((i-1)/FINE_PER_OCTAVE), FINE_MIN_S × 2^(i/FINE_PER_OCTAVE)), the last one
 * everything from ~105 s up. 16 buckets per doubling bound the relative error of a
 * percentile read from it to 2^(1/16) − 1 ≈ 4.4 %. Readers take differences of these
 * never-reset counts between two reads, so no delay is lost to a reset (see metrics/loop-stats.ts).
 */
export const FINE_MIN_S = 1e-4;
export const FINE_PER_OCTAVE = 16;
export const FINE_OCTAVES = 20;
export const FINE_BUCKETS = FINE_OCTAVES * FINE_PER_OCTAVE + 2;

/** Fine bucket of a delay in seconds (see FINE_BUCKETS). */
export function fineBucket(delayS: number): number {
  if (!(delayS >= FINE_MIN_S)) return 0;
  const i = 1 + Math.floor(Math.log2(delayS / FINE_MIN_S) * FINE_PER_OCTAVE);
  return i < FINE_BUCKETS - 1 ? i : FINE_BUCKETS - 1;
}

/** Lower bound (s) of a fine bucket. */
export function fineLower(i: number): number {
  return i <= 0 ? 0 : FINE_MIN_S * 2 ** ((i - 1) / FINE_PER_OCTAVE);
}

/** Upper bound (s) of a fine bucket; the last one is open, reported as its lower bound × 2^(1/16). */
export function fineUpper(i: number): number {
  return FINE_MIN_S * 2 ** (i / FINE_PER_OCTAVE);
}

/**
 * Blocks the main thread saw end at a beat while the watchdog was not tracking them: its
 * thread was not scheduled in time, or not started yet (a process starting among many on a
 * busy machine can block, and even exit, before its watchdog thread runs: issue 13). A ring,
 * so that several of them before the watchdog is up are all still there when it comes.
 */
export const UNTRACKED_RING = 8;
const UNTRACKED_FIELDS = 6;
const UNTRACKED_0 = F64.FINE_BUCKET_0 + FINE_BUCKETS;
const F64_SLOTS = UNTRACKED_0 + UNTRACKED_RING * UNTRACKED_FIELDS;

/** One untracked block: the beat before it (time, idle) and the beat after it (BEATS count, time, idle). */
export interface UntrackedRecord {
  fromAt: number;
  fromIdle: number;
  toAt: number;
  toIdle: number;
  toBeat: number;
  /** The watchdog was not running yet when the beat saw it (reported as kind "startup"). */
  early: boolean;
}

/** Main thread: adds a record (then bumps UNTRACKED, so a reader that sees the count sees the record). */
export function writeUntracked(state: SharedState, r: UntrackedRecord): void {
  const { i32, f64 } = state;
  const base = UNTRACKED_0 + (Atomics.load(i32, I32.UNTRACKED) % UNTRACKED_RING) * UNTRACKED_FIELDS;
  f64[base] = r.fromAt;
  f64[base + 1] = r.fromIdle;
  f64[base + 2] = r.toAt;
  f64[base + 3] = r.toIdle;
  f64[base + 4] = r.toBeat;
  f64[base + 5] = r.early ? 1 : 0;
  Atomics.add(i32, I32.UNTRACKED, 1);
}

/**
 * Claims the oldest record nobody has reported yet, or returns null. The watchdog and the
 * exiting main thread may both report untracked blocks; the compare-and-swap on the claimed
 * count gives each record to exactly one of them. Records older than the ring are skipped.
 */
export function claimUntracked(state: SharedState): UntrackedRecord | null {
  const { i32, f64 } = state;
  for (;;) {
    const written = Atomics.load(i32, I32.UNTRACKED);
    const claimed = Atomics.load(i32, I32.UNTRACKED_CLAIMED);
    if (claimed >= written) return null;
    const seq = Math.max(claimed, written - UNTRACKED_RING);
    const base = UNTRACKED_0 + (seq % UNTRACKED_RING) * UNTRACKED_FIELDS;
    const r: UntrackedRecord = { fromAt: f64[base], fromIdle: f64[base + 1], toAt: f64[base + 2], toIdle: f64[base + 3], toBeat: f64[base + 4], early: f64[base + 5] === 1 };
    if (Atomics.compareExchange(i32, I32.UNTRACKED_CLAIMED, claimed, seq + 1) === claimed) return r;
  }
}

/** Whether records are waiting to be reported. */
export function untrackedPending(state: SharedState): boolean {
  return Atomics.load(state.i32, I32.UNTRACKED_CLAIMED) < Atomics.load(state.i32, I32.UNTRACKED);
}

/**
 * Whether a block may have ended without its report out yet: the watchdog tracks a stall or
 * is writing a report (REPORTING: it has closed the stall and still reads its samples), the
 * main thread has been busy for a threshold since its last beat, or a record of a block the
 * watchdog did not track waits for it. `busyMs`: busy time since the last beat (left out
 * when not given).
 */
export function reportPending(state: SharedState, busyMs = 0, thresholdMs = Infinity): boolean {
  const { i32 } = state;
  return Atomics.load(i32, I32.STALL) === 1 || Atomics.load(i32, I32.REPORTING) === 1 || busyMs >= thresholdMs || untrackedPending(state);
}

/** Index of the bucket of `v` for upper bounds `bounds` (le); bounds.length is the +Inf bucket. */
export function bucketIndex(bounds: readonly number[], v: number): number {
  let b = 0;
  while (b < bounds.length && v > bounds[b]) b++;
  return b;
}

/**
 * Adds one loop-delay sample (s) to the cumulative statistics. Called by the heartbeat
 * inside its sequence lock; nothing here is ever reset.
 */
export function recordDelay(f64: Float64Array, delayS: number): void {
  f64[F64.DELAY_SUM] += delayS;
  f64[F64.DELAY_SUM_SQ] += delayS * delayS;
  f64[F64.DELAY_COUNT] += 1;
  if (delayS > f64[F64.DELAY_MAX]) f64[F64.DELAY_MAX] = delayS;
  if (delayS < f64[F64.DELAY_MIN]) f64[F64.DELAY_MIN] = delayS;
  f64[F64.DELAY_BUCKET_0 + bucketIndex(DELAY_BUCKETS_S, delayS)] += 1;
  f64[F64.FINE_BUCKET_0 + fineBucket(delayS)] += 1;
}

const F64_OFFSET = I32_SLOTS * 4;

export interface SharedState {
  readonly buffer: SharedArrayBuffer;
  readonly i32: Int32Array;
  readonly f64: Float64Array;
}

export function createSharedState(): SharedState {
  const buffer = new SharedArrayBuffer(F64_OFFSET + F64_SLOTS * 8);
  return viewSharedState(buffer);
}

export function viewSharedState(buffer: SharedArrayBuffer): SharedState {
  return {
    buffer,
    i32: new Int32Array(buffer, 0, I32_SLOTS),
    f64: new Float64Array(buffer, F64_OFFSET, F64_SLOTS),
  };
}

/** The beat as the worker reads it, consistent under the sequence lock. */
export interface BeatSnapshot {
  beats: number;
  at: number;
  idle: number;
  flags: number;
}

/** How often a reader retries a read the writer changed under it before it gives up. */
const SEQ_TRIES = 100;

/**
 * Runs `copy(state, out)` under the sequence lock until one run saw no write: true then.
 * The writer holds the lock only for a few stores, so false (SEQ_TRIES misses) means it
 * died mid-write, and `out` holds a possibly torn copy, or what it held before.
 * `copy` is a module-level function, so a read allocates nothing.
 */
export function readConsistent<T>(state: SharedState, out: T, copy: (state: SharedState, out: T) => void): boolean {
  const { i32 } = state;
  for (let tries = 0; tries < SEQ_TRIES; tries++) {
    const s1 = Atomics.load(i32, I32.SEQ);
    if (s1 & 1) continue;
    copy(state, out);
    if (Atomics.load(i32, I32.SEQ) === s1) return true;
  }
  return false;
}

function copyBeat({ i32, f64 }: SharedState, out: BeatSnapshot): void {
  out.beats = Atomics.load(i32, I32.BEATS);
  out.at = f64[F64.BEAT_AT];
  out.idle = f64[F64.IDLE_AT];
  out.flags = Atomics.load(i32, I32.FLAGS);
}

export function readBeat(state: SharedState, out: BeatSnapshot): BeatSnapshot {
  // A writer that died mid-write leaves the flags still worth reading (EXITING, STOPPED).
  if (!readConsistent(state, out, copyBeat)) out.flags = Atomics.load(state.i32, I32.FLAGS);
  return out;
}

/**
 * The busy time (ms) of the loop between two beats (or a beat and now): wall time minus the
 * loop's idle time in between. No idle time passes inside a block, so this is the length
 * of a block between them, to ~1.5 ms even with a 20 ms heartbeat.
 */
export function busyMs(fromAt: number, fromIdle: number, toAt: number, toIdle: number): number {
  return toAt - fromAt - Math.max(0, toIdle - fromIdle);
}

/** Busy time (ms) from the last beat to `now` (main thread's clock and idle time). */
export function busySinceBeat({ f64 }: SharedState, now: number, idle: number): number {
  return busyMs(f64[F64.BEAT_AT], f64[F64.IDLE_AT], now, idle);
}
