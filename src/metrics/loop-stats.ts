/**
 * Event loop statistics read from the heartbeat's shared memory at scrape time, by either
 * thread: the main thread (prom-client collectors) or the watchdog worker (the standalone
 * endpoint, which answers while the main thread is blocked).
 *
 * Nothing here resets anything. The heartbeat keeps cumulative counts; each reader keeps a
 * copy of what it saw last and reports the difference, so a delay recorded just before or
 * after a scrape lands in one interval or the next, never in none (prom-client and the
 * OpenTelemetry runtime metrics call monitorEventLoopDelay().reset() at every read, which
 * loses the tick in progress: bench/scrape-loss.mjs measures it). Several readers do not disturb each other.
 */
import {
  busyMs, DELAY_BUCKETS_S, F64, FINE_BUCKETS, fineLower, fineUpper, I32, readConsistent, type SharedState,
} from '../shared/shared-state.js';

/** Loop delay over one interval, in seconds. */
export interface DelayStats {
  min: number;
  max: number;
  mean: number;
  stddev: number;
  p50: number;
  p90: number;
  p99: number;
}

export interface LoopReading {
  /**
   * Delay statistics over the interval since this reader's previous read. An interval
   * without delay samples (a scrape right after another, or the loop blocked all along)
   * repeats the previous interval's values; before the first sample they are all 0.
   */
  delay: DelayStats;
  /** Busy fraction of the loop since the previous read; repeats the previous value when no time passed. */
  utilization: number;
  /** Cumulative seconds the loop spent busy and idle since it started (never decreases). */
  activeS: number;
  idleS: number;
  /** Cumulative delay histogram: counts per DELAY_BUCKETS_S bound, then +Inf; sum in seconds. */
  bucketCounts: number[];
  delaySumS: number;
  delayCount: number;
  /** How long the block going on now has lasted at least (s); 0 when the loop is turning. */
  ongoingS: number;
}

/** Exact busy and idle times of the loop (ms), where they can be read (the main thread). */
export type LoopTimesSource = () => { active: number; idle: number };

export interface LoopStatsOptions {
  heartbeatMs: number;
  thresholdMs: number;
  /** The main thread's performance.now(), on whichever thread reads. */
  now: () => number;
  /** Exact loop times; without it they are derived from the last beat (worker side). */
  times?: LoopTimesSource;
}

interface Snapshot {
  beats: number;
  beatAt: number;
  idleAt: number;
  loopStart: number;
  sum: number;
  sumSq: number;
  count: number;
  cumMax: number;
  cumMin: number;
  coarse: Float64Array;
  fine: Float64Array;
}

function emptySnapshot(): Snapshot {
  return {
    beats: 0, beatAt: 0, idleAt: 0, loopStart: 0, sum: 0, sumSq: 0, count: 0, cumMax: 0, cumMin: Infinity,
    coarse: new Float64Array(DELAY_BUCKETS_S.length + 1), fine: new Float64Array(FINE_BUCKETS),
  };
}

function copySnapshot({ i32, f64 }: SharedState, out: Snapshot): void {
  out.beats = Atomics.load(i32, I32.BEATS);
  out.beatAt = f64[F64.BEAT_AT];
  out.idleAt = f64[F64.IDLE_AT];
  out.loopStart = f64[F64.LOOP_START];
  out.sum = f64[F64.DELAY_SUM];
  out.sumSq = f64[F64.DELAY_SUM_SQ];
  out.count = f64[F64.DELAY_COUNT];
  out.cumMax = f64[F64.DELAY_MAX];
  out.cumMin = f64[F64.DELAY_MIN];
  out.coarse.set(f64.subarray(F64.DELAY_BUCKET_0, F64.DELAY_BUCKET_0 + out.coarse.length));
  out.fine.set(f64.subarray(F64.FINE_BUCKET_0, F64.FINE_BUCKET_0 + FINE_BUCKETS));
}

/** Copies the heartbeat's slots under its sequence lock (a torn read, should its writer die mid-write, beats no read). */
export function readSnapshot(state: SharedState, out: Snapshot): Snapshot {
  readConsistent(state, out, copySnapshot);
  return out;
}

const ZERO_DELAY: DelayStats = Object.freeze({ min: 0, max: 0, mean: 0, stddev: 0, p50: 0, p90: 0, p99: 0 });

export class LoopStatsReader {
  readonly #state: SharedState;
  readonly #opts: LoopStatsOptions;
  #cur = emptySnapshot();
  #prev = emptySnapshot();
  #delay: DelayStats = { ...ZERO_DELAY };
  #utilization = 0;
  #lastActive = 0;
  #lastIdle = 0;
  #prevActive = 0;
  #prevIdle = 0;

  constructor(state: SharedState, opts: LoopStatsOptions) {
    this.#state = state;
    this.#opts = opts;
  }

  read(): LoopReading {
    const cur = readSnapshot(this.#state, this.#cur);
    const now = this.#opts.now();
    const ongoingMs = this.#ongoingMs(cur, now);

    let active: number;
    let idle: number;
    if (this.#opts.times) {
      ({ active, idle } = this.#opts.times());
    } else if (cur.loopStart > 0) {
      // As of the last beat, plus the part of a block in progress known for sure: both are
      // lower bounds of the true values, so the counters never go back when the next beat
      // brings the exact ones.
      idle = cur.idleAt;
      active = Math.max(0, busyMs(cur.loopStart, 0, cur.beatAt, cur.idleAt)) + ongoingMs;
    } else {
      active = 0;
      idle = 0;
    }
    // Never decrease, whatever the source says.
    active = Math.max(active, this.#lastActive);
    idle = Math.max(idle, this.#lastIdle);
    this.#lastActive = active;
    this.#lastIdle = idle;
    const dActive = active - this.#prevActive;
    const dIdle = idle - this.#prevIdle;
    if (dActive + dIdle > 0) {
      this.#utilization = dActive / (dActive + dIdle);
      this.#prevActive = active;
      this.#prevIdle = idle;
    }

    if (cur.count > this.#prev.count) {
      this.#delay = intervalStats(cur, this.#prev);
      // Swap buffers: what was read now is the base of the next interval.
      this.#cur = this.#prev;
      this.#prev = cur;
    }

    const bucketCounts: number[] = [];
    let running = 0;
    for (let i = 0; i < cur.coarse.length; i++) {
      running += cur.coarse[i];
      bucketCounts.push(running);
    }
    return {
      delay: { ...this.#delay },
      utilization: this.#utilization,
      activeS: active / 1e3,
      idleS: idle / 1e3,
      bucketCounts,
      delaySumS: cur.sum,
      delayCount: cur.count,
      ongoingS: ongoingMs / 1e3,
    };
  }

  /**
   * A beat overdue by the threshold means the loop has been busy since the beat was due at
   * the latest (had it been idle, the timer would have fired). That time is a lower bound of
   * the block's length, short of the truth by at most one heartbeat period.
   */
  #ongoingMs(cur: Snapshot, now: number): number {
    if (cur.beats <= 0) return 0;
    const since = now - cur.beatAt;
    if (since < this.#opts.thresholdMs) return 0;
    return Math.max(0, since - this.#opts.heartbeatMs);
  }
}

/** Statistics of the delays recorded between two snapshots. */
export function intervalStats(cur: Snapshot, prev: Snapshot): DelayStats {
  const n = cur.count - prev.count;
  const mean = (cur.sum - prev.sum) / n;
  const variance = (cur.sumSq - prev.sumSq) / n - mean * mean;
  let lo = -1;
  let hi = -1;
  for (let i = 0; i < FINE_BUCKETS; i++) {
    if (cur.fine[i] - prev.fine[i] > 0) {
      if (lo < 0) lo = i;
      hi = i;
    }
  }
  // Bucket edges bound the extremes; the never-reset cumulative min and max bound them too.
  const min = lo < 0 ? mean : Math.max(fineLower(lo), Number.isFinite(cur.cumMin) ? cur.cumMin : 0);
  const max = hi < 0 ? mean : Math.max(min, Math.min(fineUpper(hi), cur.cumMax));
  const q = (p: number): number => clamp(quantile(cur.fine, prev.fine, n, p), min, max);
  return {
    min,
    max,
    mean,
    stddev: Math.sqrt(Math.max(0, variance)),
    p50: q(0.5),
    p90: q(0.9),
    p99: q(0.99),
  };
}

/** The p-quantile of the bucket differences, interpolated linearly inside its bucket. */
function quantile(cur: Float64Array, prev: Float64Array, n: number, p: number): number {
  const rank = p * n;
  let seen = 0;
  for (let i = 0; i < FINE_BUCKETS; i++) {
    const c = cur[i] - prev[i];
    if (c <= 0) continue;
    if (seen + c >= rank) {
      const lower = fineLower(i);
      return lower + ((rank - seen) / c) * (fineUpper(i) - lower);
    }
    seen += c;
  }
  return fineUpper(FINE_BUCKETS - 1);
}

function clamp(v: number, lo: number, hi: number): number {
  return v < lo ? lo : v > hi ? hi : v;
}

/** A reader on the main thread itself, which has its own clock and exact loop times. */
export function mainThreadLoopStats(state: SharedState, opts: { heartbeatMs: number; thresholdMs: number }): LoopStatsReader {
  return new LoopStatsReader(state, {
    heartbeatMs: opts.heartbeatMs,
    thresholdMs: opts.thresholdMs,
    now: () => performance.now(),
    times: () => performance.eventLoopUtilization(),
  });
}
