/** Loop-delay statistics of one collection interval, from two cumulative snapshots. */
import { describe, expect, it } from 'vitest';
import { delayStats, type DelaySnapshot } from '../../src/exporters/otel-delay.js';
import { DELAY_BUCKETS_S } from '../../src/shared-state.js';

function snapshot(values: number[], base?: DelaySnapshot): DelaySnapshot {
  const s: DelaySnapshot = base
    ? { ...base, buckets: [...base.buckets] }
    : { sum: 0, sumSq: 0, count: 0, max: 0, min: Infinity, buckets: new Array(DELAY_BUCKETS_S.length + 1).fill(0) };
  for (const v of values) {
    s.sum += v;
    s.sumSq += v * v;
    s.count += 1;
    s.max = Math.max(s.max, v);
    s.min = Math.min(s.min, v);
    let b = 0;
    while (b < DELAY_BUCKETS_S.length && v > DELAY_BUCKETS_S[b]) b++;
    s.buckets[b] += 1;
  }
  return s;
}

describe('delayStats', () => {
  it('is null when no beat fell in the interval', () => {
    const a = snapshot([0.001, 0.002]);
    expect(delayStats(a, a)).toBeNull();
  });

  it('gives exact mean and stddev, and percentiles inside the right buckets', () => {
    const values = [...new Array(98).fill(0.0004), 0.03, 0.2];
    const prev = snapshot([]);
    const now = snapshot(values, prev);
    const s = delayStats(prev, now)!;
    const mean = values.reduce((a, b) => a + b, 0) / values.length;
    expect(s.mean).toBeCloseTo(mean, 12);
    expect(s.stddev).toBeCloseTo(Math.sqrt(values.reduce((a, v) => a + (v - mean) ** 2, 0) / values.length), 9);
    expect(s.p50).toBeLessThanOrEqual(0.001);
    expect(s.p90).toBeLessThanOrEqual(0.001);
    // The 99th value is the 30 ms one: bucket (25 ms, 50 ms].
    expect(s.p99).toBeGreaterThan(0.025);
    expect(s.p99).toBeLessThanOrEqual(0.05);
    expect(s.max).toBeCloseTo(0.2, 12);
    expect(s.min).toBeCloseTo(0.0004, 12);
  });

  it('uses only the interval: an old large delay does not make this interval\'s max', () => {
    const prev = snapshot([0.9]);
    const now = snapshot([0.003, 0.004], prev);
    const s = delayStats(prev, now)!;
    expect(s.max).toBeLessThanOrEqual(0.005);
    expect(s.max).toBeGreaterThan(0.002);
    expect(s.mean).toBeCloseTo(0.0035, 12);
  });
});
