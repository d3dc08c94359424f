import { describe, expect, it } from 'vitest';
import { LoopStatsReader } from '../../src/metrics/loop-stats.js';
import { createSharedState, DELAY_BUCKETS_S, F64, fineBucket, fineLower, fineUpper, I32, recordDelay, type SharedState } from '../../src/shared/shared-state.js';

/** A shared state as the heartbeat leaves it: loop started at 0, `beats` beats so far. */
function state(): SharedState {
  const s = createSharedState();
  s.f64[F64.DELAY_MIN] = Infinity;
  s.f64[F64.LOOP_START] = 1;
  Atomics.store(s.i32, I32.BEATS, 2);
  return s;
}

function reader(s: SharedState, now = { t: 0 }, times?: () => { active: number; idle: number }): LoopStatsReader {
  return new LoopStatsReader(s, { heartbeatMs: 38, thresholdMs: 50, now: () => now.t, times });
}

describe('fine delay buckets', () => {
  it('bucket bounds hold their values, 16 per doubling', () => {
    for (const v of [0, 5e-5, 1e-4, 0.00099, 0.001, 0.0123, 0.3, 2, 59, 1e4]) {
      const i = fineBucket(v);
      expect(fineLower(i)).toBeLessThanOrEqual(v);
      if (v < 100) expect(fineUpper(i)).toBeGreaterThan(v);
    }
    expect(fineUpper(fineBucket(0.01)) / fineLower(fineBucket(0.01))).toBeCloseTo(2 ** (1 / 16), 9);
  });
});

describe('LoopStatsReader: deltas of cumulative data, no reset', () => {
  it('a delay recorded right after a read shows in the next read; the one before it does not repeat', () => {
    const s = state();
    const r = reader(s);
    recordDelay(s.f64, 0.3);
    expect(r.read().delay.max).toBeCloseTo(0.3, 1);
    for (let i = 0; i < 10; i++) recordDelay(s.f64, 0.001);
    const second = r.read().delay;
    expect(second.max).toBeLessThan(0.0011);
    expect(second.mean).toBeCloseTo(0.001, 9);
    recordDelay(s.f64, 0.25);
    expect(r.read().delay.max).toBeCloseTo(0.25, 1);
  });

  it('two readers (prom-client and the endpoint) do not take samples from each other', () => {
    const s = state();
    const a = reader(s);
    const b = reader(s);
    recordDelay(s.f64, 0.2);
    expect(a.read().delay.max).toBeCloseTo(0.2, 1);
    expect(b.read().delay.max).toBeCloseTo(0.2, 1);
  });

  it('no samples: zeros before the first one, then the previous interval repeats', () => {
    const s = state();
    const r = reader(s);
    expect(r.read().delay).toEqual({ min: 0, max: 0, mean: 0, stddev: 0, p50: 0, p90: 0, p99: 0 });
    recordDelay(s.f64, 0.004);
    recordDelay(s.f64, 0.006);
    const first = r.read().delay;
    expect(first.mean).toBeCloseTo(0.005, 9);
    expect(r.read().delay).toEqual(first);
  });

  it('percentiles, min and max within the bucket resolution (4.4 %); mean and stddev exact', () => {
    const s = state();
    const r = reader(s);
    const values = Array.from({ length: 1000 }, (_, i) => (i + 1) / 10_000); // 0.1 ms .. 100 ms
    for (const v of values) recordDelay(s.f64, v);
    const d = r.read().delay;
    const mean = values.reduce((x, y) => x + y, 0) / values.length;
    const sd = Math.sqrt(values.reduce((x, y) => x + (y - mean) ** 2, 0) / values.length);
    expect(d.mean).toBeCloseTo(mean, 12);
    expect(d.stddev).toBeCloseTo(sd, 9);
    for (const [got, want] of [[d.p50, 0.05], [d.p90, 0.09], [d.p99, 0.099], [d.min, 0.0001], [d.max, 0.1]]) {
      expect(Math.abs(got - want) / want, `${got} vs ${want}`).toBeLessThan(0.045);
    }
    expect(d.max).toBeLessThanOrEqual(0.1); // bounded by the exact cumulative max
  });

  it('cumulative histogram for histogram_quantile: le buckets, +Inf = count, sum', () => {
    const s = state();
    const r = reader(s);
    for (const v of [0.0005, 0.003, 0.003, 0.07, 12]) recordDelay(s.f64, v);
    const x = r.read();
    expect(x.bucketCounts).toHaveLength(DELAY_BUCKETS_S.length + 1);
    expect(x.bucketCounts.slice(0, 4)).toEqual([1, 1, 3, 3]); // le 0.001, 0.002, 0.005, 0.01
    expect(x.bucketCounts[DELAY_BUCKETS_S.indexOf(0.1)]).toBe(4);
    expect(x.bucketCounts[DELAY_BUCKETS_S.length - 1]).toBe(4); // le 10
    expect(x.bucketCounts.at(-1)).toBe(5);
    expect(x.delayCount).toBe(5);
    expect(x.delaySumS).toBeCloseTo(12.0765, 9);
  });

  it('utilization over the interval since the last read, from the exact source on the main thread', () => {
    const s = state();
    let t = { active: 100, idle: 300 };
    const r = reader(s, { t: 0 }, () => t);
    expect(r.read().utilization).toBeCloseTo(0.25, 9);
    t = { active: 190, idle: 310 };
    const x = r.read();
    expect(x.utilization).toBeCloseTo(0.9, 9);
    expect(x.activeS).toBeCloseTo(0.19, 9);
    expect(x.idleS).toBeCloseTo(0.31, 9);
    // A source that went back never makes a counter decrease; no time passed → previous value.
    t = { active: 150, idle: 300 };
    const y = r.read();
    expect(y.activeS).toBeCloseTo(0.19, 9);
    expect(y.utilization).toBeCloseTo(0.9, 9);
  });

  it('ongoing block (worker side): a lower bound once the beat is a threshold late, and loop times as of the beat plus that', () => {
    const s = state();
    s.f64[F64.BEAT_AT] = 1000;
    s.f64[F64.IDLE_AT] = 700; // loop started at 1: 299 ms busy, 700 ms idle
    const now = { t: 1030 };
    const r = reader(s, now);
    let x = r.read();
    expect(x.ongoingS).toBe(0);
    expect(x.activeS).toBeCloseTo(0.299, 9);
    expect(x.idleS).toBeCloseTo(0.7, 9);
    now.t = 2000; // no beat for 1 s: busy since at least 1038
    x = r.read();
    expect(x.ongoingS).toBeCloseTo(0.962, 9);
    expect(x.activeS).toBeCloseTo(0.299 + 0.962, 9);
    expect(x.utilization).toBeCloseTo(1, 9);
    // The beat after the block: active as the main thread measured it (here the whole stall was busy).
    Atomics.add(s.i32, I32.BEATS, 1);
    s.f64[F64.BEAT_AT] = 2010;
    x = r.read();
    expect(x.ongoingS).toBe(0);
    expect(x.activeS).toBeCloseTo(1.309, 9);
  });

  it('no beat yet (before start) is not a block', () => {
    const s = createSharedState();
    const x = reader(s, { t: 5000 }).read();
    expect(x.ongoingS).toBe(0);
    expect(x.activeS).toBe(0);
  });
});
