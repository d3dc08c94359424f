import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { classify, gcHint, parseSchedstat, SchedStat, type SchedReading, starvedHint } from '../../src/watchdog/cause.js';

const r = (at: number, cpuMs: number, waitMs: number): SchedReading => ({ at, cpuMs, waitMs });

describe('classify', () => {
  it('on CPU most of the window: code, cpuMs scaled from the window to the whole block', () => {
    // The watchdog saw the stall 40 ms into a 200 ms block: the window is the last 160 ms.
    const c = classify({ durationMs: 200, from: r(100, 10, 5), to: r(260, 162, 7), gc: { ms: 8, windowMs: 160 } });
    expect(c.cause).toBe('code');
    expect(c.cpuMs).toBe(190);
    expect(c.gcMs).toBe(10);
  });

  it('neither on CPU nor runnable most of the window: native', () => {
    expect(classify({ durationMs: 200, from: r(0, 0, 0), to: r(160, 3, 1), gc: null }))
      .toMatchObject({ cause: 'native', cpuMs: 3.8, gcMs: null });
  });

  it('runnable but not running most of the window: starved', () => {
    const c = classify({ durationMs: 300, from: r(0, 0, 0), to: r(250, 25, 220), gc: { ms: 0, windowMs: 250 } });
    expect(c.cause).toBe('starved');
    expect(c.cpuMs).toBe(30);
    expect(c.waitShare).toBeCloseTo(0.88);
  });

  it('starved only if the block would not have been one without the wait: else the code that still ran is blamed', () => {
    // 1 s, waiting 60 %: 400 ms of its own, over a 50 ms threshold: code.
    expect(classify({ durationMs: 1000, thresholdMs: 50, from: r(0, 0, 0), to: r(1000, 400, 600), gc: null }).cause).toBe('code');
    // 200 ms, waiting 84 %: 32 ms of its own: starved.
    expect(classify({ durationMs: 200, thresholdMs: 50, from: r(0, 0, 0), to: r(200, 32, 168), gc: null }).cause).toBe('starved');
  });

  it('GC pauses most of the window: gc, even if on CPU', () => {
    expect(classify({ durationMs: 300, from: r(0, 0, 0), to: r(250, 240, 5), gc: { ms: 200, windowMs: 250 } }).cause).toBe('gc');
  });

  it('GC and waiting both past one half: the larger share wins', () => {
    // Measured: an allocation loop whose parallel GC pauses waited for CPUs its helpers took.
    expect(classify({ durationMs: 300, from: r(0, 0, 0), to: r(280, 116, 162), gc: { ms: 220, windowMs: 280 } }).cause).toBe('gc');
    // Measured: a starved spin loop with one scavenge stretched by the wait.
    expect(classify({ durationMs: 90, from: r(0, 0, 0), to: r(80, 7, 72), gc: { ms: 61, windowMs: 80 } }).cause).toBe('starved');
  });

  it('at one half exactly, the cause is named (the thresholds are inclusive)', () => {
    expect(classify({ durationMs: 100, from: r(0, 0, 0), to: r(100, 50, 50), gc: null }).cause).toBe('starved');
    expect(classify({ durationMs: 100, from: r(0, 0, 0), to: r(100, 50, 0), gc: null }).cause).toBe('native');
    expect(classify({ durationMs: 100, from: r(0, 0, 0), to: r(100, 51, 0), gc: null }).cause).toBe('code');
  });

  it('nothing measured (not Linux, an untracked block): code, with nulls', () => {
    expect(classify({ durationMs: 120, from: null, to: null, gc: null })).toEqual({ cause: 'code', cpuMs: null, gcMs: null, waitShare: null, gcShare: null });
  });

  it('GC known without the scheduler (not Linux): gc when it dominates, else code', () => {
    expect(classify({ durationMs: 120, from: null, to: null, gc: { ms: 90, windowMs: 100 } })).toMatchObject({ cause: 'gc', cpuMs: null, gcMs: 108 });
    expect(classify({ durationMs: 120, from: null, to: null, gc: { ms: 10, windowMs: 100 } })).toMatchObject({ cause: 'code', cpuMs: null });
  });

  it('keeps shares in [0, 1] when a tick-granular counter overshoots the window', () => {
    const c = classify({ durationMs: 100, from: r(0, 0, 0), to: r(10, 12, 0), gc: null });
    expect(c).toMatchObject({ cause: 'code', cpuMs: 100 });
  });

  it('hints say what to look at', () => {
    expect(starvedHint(0.874)).toMatch(/runnable but not running for 87 % of this block.*CPU limit.*throttl/);
    expect(gcHint(null)).toMatch(/garbage collection took most of this block/);
  });
});

describe('parseSchedstat', () => {
  const parse = (s: string): [number, number] | null => {
    const b = Buffer.from(s, 'latin1');
    return parseSchedstat(b, b.length);
  };
  it('reads the first two fields', () => {
    expect(parse('198062165 2304550 21\n')).toEqual([198062165, 2304550]);
    expect(parse('0 0 1\n')).toEqual([0, 0]);
  });
  it('rejects what is not a schedstat line', () => {
    expect(parse('')).toBeNull();
    expect(parse('12\n')).toBeNull();
    expect(parse('abc def 1\n')).toBeNull();
  });
});

describe('SchedStat', () => {
  let dir: string | undefined;
  afterEach(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
    dir = undefined;
  });

  it.runIf(process.platform === 'linux')('reads this thread (the test process main thread) on Linux', () => {
    const s = new SchedStat(process.pid);
    const a = s.read(0);
    let x = 0;
    for (let i = 0; i < 3e6; i++) x += Math.sqrt(i);
    expect(x).toBeGreaterThan(0);
    const b = s.read(1);
    s.close();
    expect(a).not.toBeNull();
    expect(b!.cpuMs).toBeGreaterThanOrEqual(a!.cpuMs);
  });

  it('re-reads the same open file each time (procfs regenerates it at offset 0)', () => {
    dir = mkdtempSync(join(tmpdir(), 'loopwatch-sched-'));
    mkdirSync(join(dir, '7'));
    writeFileSync(join(dir, '7', 'schedstat'), '5000000 1000000 3\n');
    const s = new SchedStat(7, 'linux', dir);
    expect(s.read(10)).toEqual({ at: 10, cpuMs: 5, waitMs: 1 });
    expect(s.read(11)).toEqual({ at: 11, cpuMs: 5, waitMs: 1 });
    s.close();
  });

  it('elsewhere, without a tid, or with an unreadable file: null readings, no error', () => {
    expect(new SchedStat(process.pid, 'darwin').read(0)).toBeNull();
    expect(new SchedStat(null).read(0)).toBeNull();
    const missing = new SchedStat(2 ** 30, 'linux', '/nonexistent');
    expect(missing.read(0)).toBeNull();
    expect(missing.available).toBe(false);
    dir = mkdtempSync(join(tmpdir(), 'loopwatch-sched-'));
    mkdirSync(join(dir, '7'));
    writeFileSync(join(dir, '7', 'schedstat'), 'garbage\n');
    expect(new SchedStat(7, 'linux', dir).read(0)).toBeNull();
  });
});
