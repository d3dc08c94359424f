import type { DelayStat } from '../metrics/names.js';
import { DELAY_BUCKETS_S, F64, I32, type SharedState } from '../shared-state.js';

/** The heartbeat's cumulative loop-delay figures (seconds), as of one read. */
export interface DelaySnapshot {
  sum: number;
  sumSq: number;
  count: number;
  /** Largest and smallest delay since start (not per interval: the heartbeat never resets). */
  max: number;
  min: number;
  /** Count per bucket of DELAY_BUCKETS_S, the last one +Inf. */
  buckets: number[];
}

/** Reads the delay slots under the heartbeat's sequence lock (see shared-state.ts). */
export function readDelay(state: SharedState): DelaySnapshot {
  const { i32, f64 } = state;
  const read = (): DelaySnapshot => ({
    sum: f64[F64.DELAY_SUM],
    sumSq: f64[F64.DELAY_SUM_SQ],
    count: f64[F64.DELAY_COUNT],
    max: f64[F64.DELAY_MAX],
    min: f64[F64.DELAY_MIN],
    buckets: Array.from({ length: DELAY_BUCKETS_S.length + 1 }, (_, b) => f64[F64.DELAY_BUCKET_0 + b]),
  });
  for (let tries = 0; tries < 100; tries++) {
    const s1 = Atomics.load(i32, I32.SEQ);
    if (s1 & 1) continue;
    const snap = read();
    if (Atomics.load(i32, I32.SEQ) === s1) return snap;
  }
  // Called on the main thread, the only writer: the lock cannot be held here.
  return read();
}

/**
 * The delay statistics of the interval between two snapshots, or null when no beat fell
 * in it. Mean and standard deviation are exact (from sums); percentiles are interpolated
 * within the histogram's buckets; min and max are the bounds of the lowest and highest
 * bucket hit, tightened by the all-time min and max when those fall inside them.
 */
export function delayStats(prev: DelaySnapshot, now: DelaySnapshot): Record<DelayStat, number> | null {
  const count = now.count - prev.count;
  if (count <= 0) return null;
  const sum = now.sum - prev.sum;
  const mean = Math.max(0, sum / count);
  const variance = Math.max(0, (now.sumSq - prev.sumSq) / count - mean * mean);
  const counts = now.buckets.map((c, b) => Math.max(0, c - prev.buckets[b]));
  const lower = (b: number): number => (b === 0 ? 0 : DELAY_BUCKETS_S[b - 1]);
  const upper = (b: number): number => (b < DELAY_BUCKETS_S.length ? DELAY_BUCKETS_S[b] : Math.max(lower(b), now.max));
  const first = counts.findIndex((c) => c > 0);
  let last = counts.length - 1;
  while (last > 0 && counts[last] === 0) last--;
  if (first < 0) return null;
  const min = Math.max(lower(first), Number.isFinite(now.min) ? Math.min(now.min, upper(first)) : 0);
  const max = Math.min(upper(last), now.max);
  const total = counts.reduce((a, b) => a + b, 0);
  const quantile = (q: number): number => {
    const rank = q * total;
    let seen = 0;
    for (let b = 0; b < counts.length; b++) {
      if (counts[b] === 0) continue;
      if (seen + counts[b] >= rank) {
        const v = lower(b) + ((rank - seen) / counts[b]) * (upper(b) - lower(b));
        return Math.min(max, Math.max(min, v));
      }
      seen += counts[b];
    }
    return max;
  };
  return { min, max, mean, stddev: Math.sqrt(variance), p50: quantile(0.5), p90: quantile(0.9), p99: quantile(0.99) };
}
