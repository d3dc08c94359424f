import { describe, expect, it } from 'vitest';
import type { Sample } from '../../src/attribution/culprit.js';
import type { Frame } from '../../src/attribution/frames.js';
import { computeProfile, PROFILE_ENTRIES } from '../../src/attribution/profile.js';

const app = (fn: string, line = 1, atEntry = false): Frame => ({ function: fn, file: 'src/app.ts', line, column: 1, inApp: true, atEntry, origin: 'app' });
const at = (t: number, frames: Frame[]): Sample & { at: number } => ({ frames, latencyMs: 0.2, at: t });

describe('computeProfile', () => {
  it('splits a block between two phases by the time nearest each sample', () => {
    // Samples every 100 ms from 50 to 950; the first five in phaseOne, the rest in phaseTwo.
    const samples = Array.from({ length: 10 }, (_, i) => at(50 + i * 100, [app(i < 5 ? 'phaseOne' : 'phaseTwo', i < 5 ? 10 : 20), app('twoPhases', 3)]));
    expect(computeProfile(samples, 0, 1000)).toEqual([
      { function: 'phaseOne', file: 'src/app.ts', line: 10, share: 0.5 },
      { function: 'phaseTwo', file: 'src/app.ts', line: 20, share: 0.5 },
    ]);
  });

  it('weights unevenly spaced samples by the time around them, not by count', () => {
    // Thinned sampling: three quick samples early in a, one late in b.
    const samples = [at(10, [app('a')]), at(20, [app('a')]), at(30, [app('a')]), at(830, [app('b')])];
    const p = computeProfile(samples, 0, 1000);
    // a: 0 → 430 (halfway to the sample at 830); b: 430 → 1000.
    expect(p).toEqual([
      { function: 'b', file: 'src/app.ts', line: 1, share: 0.57 },
      { function: 'a', file: 'src/app.ts', line: 1, share: 0.43 },
    ]);
  });

  it('uses the culprit of each sample (a helper at its entry gives its time to the caller)', () => {
    const p = computeProfile([at(50, [app('now', 5, true), app('spin', 9)])], 0, 100);
    expect(p.map((e) => [e.function, e.share])).toEqual([['spin', 1]]);
  });

  it('sums to at most 1, leaves samples without frames unassigned, keeps the largest entries', () => {
    const six = Array.from({ length: 6 }, (_, i) => at(i * 10 + 5, [app(`f${i}`)]));
    const p = computeProfile(six, 0, 60);
    expect(p).toHaveLength(6);
    expect(p.every((e) => e.share === 0.16)).toBe(true);
    expect(p.reduce((s, e) => s + e.share, 0)).toBeLessThanOrEqual(1);

    const half = computeProfile([at(25, []), at(75, [app('x')])], 0, 100);
    expect(half).toEqual([{ function: 'x', file: 'src/app.ts', line: 1, share: 0.5 }]);

    const many = Array.from({ length: 20 }, (_, i) => at(i * 10 + 5, [app(`g${i}`)]));
    expect(computeProfile(many, 0, 200)).toHaveLength(PROFILE_ENTRIES);
  });

  it('is empty without samples or duration', () => {
    expect(computeProfile([], 0, 100)).toEqual([]);
    expect(computeProfile([at(5, [app('a')])], 10, 10)).toEqual([]);
  });
});
