/**
 * The watchdog's use of the cause sources (issue 12), with a test clock: readings when a
 * stall is seen and when it ends, the GC figures awaited (bounded) after the recovery beat,
 * and what a starved block looks like.
 */
import { describe, expect, it } from 'vitest';
import type { BlockEvent } from '../../src/shared/event.js';
import { GC_F64, GC_I32, GC_START_EXPRESSION, viewGcBuffer } from '../../src/shared/gc-buffer.js';
import type { ProbeResult } from '../../src/shared/probe-protocol.js';
import { createSharedState, F64, I32 } from '../../src/shared/shared-state.js';
import type { SchedReading } from '../../src/watchdog/cause.js';
import { type CaptureSource, type CauseSources, Watchdog, type WatchdogConfig } from '../../src/watchdog/watchdog.js';

const cfg: WatchdogConfig = {
  thresholdMs: 50, heartbeatMs: 38, confirmMs: 12, stuckMs: 500, maxSamples: 10, captureStacks: true,
  thread: { id: 0, name: 'main' }, cwd: '/app',
};

/** The blocked thread's scheduler, scripted: shares of on-CPU and runnable time while blocked. */
class FakeSched {
  cpu = 0;
  wait = 0;
  last = 0;
  constructor(public cpuShare: number, public waitShare: number) {}
  advance(to: number): void {
    this.cpu += (to - this.last) * this.cpuShare;
    this.wait += (to - this.last) * this.waitShare;
    this.last = to;
  }
  read = (at: number): SchedReading => {
    this.advance(at);
    return { at, cpuMs: this.cpu, waitMs: this.wait };
  };
}

function setup(causes: CauseSources) {
  const state = createSharedState();
  state.f64[F64.TIME_ORIGIN_MS] = Date.UTC(2026, 11, 3);
  const t = { now: 1000 };
  const events: BlockEvent[] = [];
  const expressions: (string | undefined)[] = [];
  let pending: ((r: ProbeResult | null) => void) | null = null;
  const capturer: CaptureSource = {
    available: true,
    inFlight: false,
    capture: (done, expression) => {
      expressions.push(expression);
      pending = done;
      return true;
    },
    disconnect: () => undefined,
  };
  const dog = new Watchdog(state, cfg, capturer, { report: (e) => events.push(e) }, () => t.now, causes);
  const beat = (): void => {
    state.f64[F64.BEAT_AT] = t.now;
    Atomics.add(state.i32, I32.BEATS, 1);
  };
  beat();
  dog.tick();
  /** A block of `ms` (the probe served at once), then the recovery beat; returns the tick's wait. */
  const block = (ms: number): number => {
    const end = t.now + ms;
    while (t.now < end) {
      t.now += Math.min(dog.tick(), end - t.now);
      if (pending) {
        const done = pending;
        pending = null;
        done({ at: t.now, idle: 0, frames: [['spin', '/app/src/app.js', 3, 9, 0]], context: null });
      }
    }
    beat();
    return dog.tick();
  };
  return { state, t, events, expressions, dog, block };
}

describe('the watchdog and the cause of a block', () => {
  it('a starved block keeps its stack, blames no culprit, says what to look at; cpuMs from the readings', () => {
    const sched = new FakeSched(0.1, 0.9);
    const { events, block, dog, t } = setup({ sched });
    block(300);
    // Past any wait for GC figures (there is no GC source here, so none).
    t.now += 1;
    dog.tick();
    const [e] = events;
    expect(e.cause).toBe('starved');
    expect(e.culprit).toBeNull();
    expect(e.stack.map((f) => f.function)).toEqual(['spin']);
    expect(e.hint).toMatch(/runnable but not running for 90 % of this block/);
    expect(e.cpuMs).toBeCloseTo(e.durationMs * 0.1, 0);
    expect(e.gcMs).toBeNull();
  });

  it('without scheduler readings (not Linux): cpuMs null, cause code, culprit kept', () => {
    const { events, block } = setup({ sched: { read: () => null } });
    block(200);
    expect(events[0]).toMatchObject({ cause: 'code', cpuMs: null, gcMs: null, culprit: { function: 'spin' } });
  });

  it('the first capture starts GC observation; the end waits for the GC figures, then names gc', () => {
    const gcBuffer = new SharedArrayBuffer(64);
    const gc = viewGcBuffer(gcBuffer);
    const { state, events, expressions, block, dog, t } = setup({ sched: new FakeSched(0.95, 0), gc });
    expect(block(250)).toBe(2);
    expect(expressions[0]).toContain(GC_START_EXPRESSION);
    expect(expressions.slice(1).every((x) => x === undefined)).toBe(true);
    expect(events).toEqual([]);
    // The main thread's check phase writes them for the recovery beat.
    gc.f64[GC_F64.FROM] = 1040;
    gc.f64[GC_F64.TO] = 1250;
    gc.f64[GC_F64.MS] = 180;
    Atomics.store(gc.i32, GC_I32.SEQ, Atomics.load(state.i32, I32.BEATS));
    t.now += 1;
    dog.tick();
    expect(events[0]).toMatchObject({ cause: 'gc', culprit: { function: 'spin' } });
    expect(events[0].gcMs! / events[0].durationMs).toBeCloseTo(180 / 210, 2);
    expect(events[0].hint).toMatch(/garbage collection took 86 % of this block/);
  });

  it('GC observed over less than a quarter of the block (its first capture served at the end) is not reported', () => {
    const gc = viewGcBuffer(new SharedArrayBuffer(64));
    const { state, events, block, dog, t } = setup({ sched: new FakeSched(0.95, 0), gc });
    block(250);
    gc.f64[GC_F64.FROM] = 1245;
    gc.f64[GC_F64.TO] = 1250;
    gc.f64[GC_F64.MS] = 0;
    Atomics.store(gc.i32, GC_I32.SEQ, Atomics.load(state.i32, I32.BEATS));
    t.now += 1;
    dog.tick();
    expect(events[0]).toMatchObject({ cause: 'code', gcMs: null });
  });

  it('GC figures that never come hold the line back 50 ms at most: gcMs null', () => {
    const gc = viewGcBuffer(new SharedArrayBuffer(64));
    const { events, block, dog, t } = setup({ sched: new FakeSched(0.95, 0), gc });
    block(250);
    t.now += 49;
    dog.tick();
    expect(events).toEqual([]);
    t.now += 2;
    dog.tick();
    expect(events[0]).toMatchObject({ cause: 'code', gcMs: null });
    expect(events[0].cpuMs).toBeGreaterThan(200);
  });
});
