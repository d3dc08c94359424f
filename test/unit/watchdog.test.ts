import { describe, expect, it } from 'vitest';
import type { BlockEvent } from '../../src/shared/event.js';
import type { ProbeResult } from '../../src/shared/probe-protocol.js';
import { claimUntracked, createSharedState, F64, FLAG, I32, type SharedState, UNTRACKED_RING, untrackedPending, writeUntracked } from '../../src/shared/shared-state.js';
import { untrackedEvent } from '../../src/main-thread/untracked.js';
import { checkBeat } from '../../src/main-thread/heartbeat.js';
import { waitFor } from '../helpers/child.js';
import { type CaptureSource, Watchdog, type WatchdogConfig } from '../../src/watchdog/watchdog.js';

const cfg: WatchdogConfig = {
  thresholdMs: 50, heartbeatMs: 38, confirmMs: 12, stuckMs: 500, maxSamples: 10, captureStacks: true,
  thread: { id: 0, name: 'main' }, cwd: '/app',
};

/** Drives the watchdog with a test clock: the "main thread" is simulated through the shared state. */
class Harness {
  state: SharedState = createSharedState();
  now = 1000;
  idle = 0;
  events: BlockEvent[] = [];
  pending: ((r: ProbeResult | null) => void) | null = null;
  captures = 0;
  disconnects = 0;
  frames: ProbeResult['frames'] = [['burnCpu', '/app/src/app.js', 3, 9, 0], ['handler', '/app/src/app.js', 10, 3, 0]];
  readonly capturer: CaptureSource = {
    available: true,
    inFlight: false,
    capture: (done) => {
      this.captures++;
      this.pending = done;
      (this.capturer as { inFlight: boolean }).inFlight = true;
      return true;
    },
    disconnect: () => { this.disconnects++; },
  };
  readonly dog: Watchdog;
  constructor(config: WatchdogConfig = cfg) {
    this.state.f64[F64.TIME_ORIGIN_MS] = Date.UTC(2026, 10, 25);
    this.dog = new Watchdog(this.state, config, this.capturer, { report: (e) => this.events.push(e) }, () => this.now);
  }
  beat(): void {
    const { i32, f64 } = this.state;
    f64[F64.BEAT_AT] = this.now;
    f64[F64.IDLE_AT] = this.idle;
    Atomics.add(i32, I32.BEATS, 1);
  }
  /**
   * The main thread saw a block of `ms` the watchdog did not track: it writes the record
   * (from the last beat to now) and bumps UNTRACKED; its beat comes separately.
   */
  untracked(ms: number, early = false): void {
    const fromAt = this.now;
    this.now += ms;
    writeUntracked(this.state, { fromAt, fromIdle: this.idle, toAt: this.now, toIdle: this.idle, toBeat: Atomics.load(this.state.i32, I32.BEATS) + 1, early });
  }
  /** A beat as the main thread's heartbeat writes it, with its checks (checkBeat). */
  mainBeat(): void {
    const { f64 } = this.state;
    const busy = this.now - f64[F64.BEAT_AT] - (this.idle - f64[F64.IDLE_AT]);
    checkBeat(this.state, this.now, this.idle, busy >= cfg.thresholdMs);
    this.beat();
  }
  /** Idle loop: beats every 38 ms, all idle. */
  idleFor(ms: number): void {
    const end = this.now + ms;
    while (this.now < end) {
      this.now += 38;
      this.idle += 37.5;
      this.beat();
      this.dog.tick();
    }
  }
  /** The main thread serves the pending probe now. */
  serve(latencyMs = 0.2): void {
    const done = this.pending;
    this.pending = null;
    (this.capturer as { inFlight: boolean }).inFlight = false;
    done?.({ at: this.now + latencyMs, idle: this.idle, frames: this.frames, context: { kind: 'http', method: 'GET', route: null, path: '/x', job: null, traceId: null, spanId: null } });
  }
  /** Busy for ms without beats; the worker ticks every few ms as it asks. */
  block(ms: number, serveAfterMs = 0.2): void {
    const end = this.now + ms;
    let wait = this.dog.tick();
    while (this.now + wait < end) {
      this.now += wait;
      wait = this.dog.tick();
      if (this.pending) {
        this.now += serveAfterMs;
        this.serve(0);
      }
    }
    this.now = end;
  }
}

describe('Watchdog', () => {
  it('reports a 200 ms block once, after recovery, with duration from busy time', () => {
    const h = new Harness();
    h.idleFor(100);
    h.block(200);
    expect(h.events).toHaveLength(0);
    expect(h.captures).toBeGreaterThanOrEqual(3);
    expect(Atomics.load(h.state.i32, I32.STALL)).toBe(1);
    h.beat();
    h.dog.tick();
    expect(h.events).toHaveLength(1);
    const e = h.events[0];
    expect(e.durationMs).toBeGreaterThanOrEqual(200);
    expect(e.durationMs).toBeLessThan(225);
    expect(e.ongoing).toBe(false);
    expect(e.culprit).toMatchObject({ function: 'burnCpu', file: 'src/app.js', line: 3 });
    expect(e.context.path).toBe('/x');
    expect(e.fingerprint).toMatch(/^[0-9a-f]{16}$/);
    expect(Atomics.load(h.state.i32, I32.STALL)).toBe(0);
    expect(h.disconnects).toBeGreaterThan(0);
  });

  it('does not report a stall shorter than the threshold', () => {
    const h = new Harness();
    h.idleFor(100);
    h.block(45);
    h.beat();
    h.dog.tick();
    h.idleFor(100);
    expect(h.events).toHaveLength(0);
  });

  it('sleeps until the next beat is overdue by the grace while idle', () => {
    const h = new Harness();
    h.idleFor(100);
    expect(h.dog.tick()).toBeCloseTo(50, 0);
    expect(h.captures).toBe(0);
  });

  it('while tracking a stall, sleeps until its next sample is due (the recovery beat notifies it), and polls only while a due sample waits for a capture in flight', () => {
    const h = new Harness();
    h.idleFor(100);
    h.now += 60;
    const first = h.dog.tick();
    expect(h.captures).toBe(1);
    // The first capture is in flight and the next sample 25 ms away (max(20, threshold / 2)).
    expect(first).toBeCloseTo(25, 0);
    h.serve();
    h.now += 10;
    expect(h.dog.tick()).toBeCloseTo(15, 0);
    h.now += 15;
    h.dog.tick();
    expect(h.captures).toBe(2);
    // Due again 25 ms later, while that capture is still in flight: look again in 8 ms.
    h.now += 25;
    expect(h.dog.tick()).toBe(8);
    expect(h.captures).toBe(2);
    h.serve();
    h.dog.tick();
    expect(h.captures).toBe(3);
  });

  it('reports a block the main thread saw end untracked, once, without a stack', () => {
    const h = new Harness();
    h.idleFor(100);
    h.untracked(70);
    h.beat();
    h.dog.tick();
    h.dog.tick();
    expect(h.events).toHaveLength(1);
    expect(h.events[0]).toMatchObject({ durationMs: 70, culprit: null, ongoing: false });
    expect(h.captures).toBe(0);
  });

  it('does not track a stall the main thread has already reported untracked (no duplicate)', () => {
    // The main thread writes the untracked record, then its beat. A tick that runs between
    // the two sees the record but an old beat, and must not start tracking the same block.
    const h = new Harness();
    h.idleFor(100);
    h.untracked(70);
    h.dog.tick();
    expect(h.dog.stalled).toBe(false);
    h.beat();
    h.idleFor(100);
    expect(h.events).toHaveLength(1);
    expect(h.events[0]).toMatchObject({ durationMs: 70, ongoing: false });
    expect(h.captures).toBe(0);
  });

  it('reports every block the main thread saw before the watchdog ran, as startup, at its first tick (issue 13)', () => {
    const h = new Harness();
    h.beat();
    h.now += 5;
    h.untracked(150, true);
    h.beat();
    h.now += 20;
    h.untracked(90, true);
    h.beat();
    h.dog.tick();
    expect(h.events.map((e) => [e.durationMs, e.context.kind, e.culprit])).toEqual([[150, 'startup', null], [90, 'startup', null]]);
    expect(untrackedPending(h.state)).toBe(false);
  });

  it('a watchdog whose first tick comes after the process began exiting still reports the records, and acknowledges (issue 13)', () => {
    const h = new Harness();
    h.beat();
    h.now += 20;
    h.untracked(150, true); // the final beat's record
    h.beat();
    Atomics.or(h.state.i32, I32.FLAGS, FLAG.EXITING);
    expect(h.dog.tick()).toBe(-1);
    expect(h.events).toHaveLength(1);
    expect(h.events[0]).toMatchObject({ durationMs: 150, context: { kind: 'startup' }, culprit: null, stack: [] });
    expect(Atomics.load(h.state.i32, I32.EXIT_ACK)).toBe(1);
  });

  it('a record claimed by the exiting main thread is not reported again by the watchdog', () => {
    const h = new Harness();
    h.idleFor(100);
    h.untracked(70);
    h.beat();
    const claimed = claimUntracked(h.state);
    expect(claimed).toMatchObject({ early: false });
    h.dog.tick();
    h.idleFor(100);
    expect(h.events).toHaveLength(0);
  });

  it('keeps the last UNTRACKED_RING records when more come before anyone claims them', () => {
    const h = new Harness();
    for (let i = 0; i < UNTRACKED_RING + 3; i++) {
      h.untracked(60 + i);
      h.beat();
    }
    const got: number[] = [];
    for (let r = claimUntracked(h.state); r; r = claimUntracked(h.state)) got.push(r.toAt - r.fromAt);
    expect(got).toEqual(Array.from({ length: UNTRACKED_RING }, (_, i) => 63 + i));
  });

  it("the main thread's event of a record is the watchdog's, id aside", () => {
    const h = new Harness();
    h.beat();
    h.idle += 3;
    h.untracked(120, true);
    const written = { toBeat: Atomics.load(h.state.i32, I32.BEATS) + 1 };
    h.beat();
    // Read the record without claiming it, as the main thread would have.
    const copy = createSharedState();
    new Uint8Array(copy.buffer).set(new Uint8Array(h.state.buffer));
    const record = claimUntracked(copy)!;
    expect(record.toBeat).toBe(written.toBeat);
    h.dog.tick();
    const mine = untrackedEvent(copy, record, { thread: cfg.thread, thresholdMs: cfg.thresholdMs });
    expect({ ...mine, id: 'x' }).toEqual({ ...h.events[0], id: 'x' });
  });

  it("drops a sample served in loopwatch's own code (its exit handler): the block was over", () => {
    const h = new Harness({ ...cfg, ownRoot: '/app/node_modules/loopwatch/dist' });
    h.frames = [['emit', 'node:events', 519, 28, 0], ['processEmit', 'node:internal/process/per_thread', 1, 1, 0]];
    h.frames.unshift(['Agent.#onExit', '/app/node_modules/loopwatch/dist/register.cjs', 900, 5, 1]);
    h.idleFor(100);
    h.block(200);
    h.beat();
    h.dog.tick();
    expect(h.events).toHaveLength(1);
    expect(h.events[0].culprit).toBeNull();
    expect(h.events[0].stack).toEqual([]);
  });

  it("drops a sample served at the entry of a Node function called from native code (emit('beforeExit')), with none of the app's frames", () => {
    const h = new Harness();
    h.frames = [['emit', 'node:events', 471, 44, 1]];
    h.idleFor(100);
    h.block(200);
    h.beat();
    h.dog.tick();
    expect(h.events[0]).toMatchObject({ culprit: null, stack: [] });
  });

  it("drops a sample served in the 'exit' event with none of the app's frames", () => {
    const h = new Harness();
    h.frames = [['emit', 'node:events', 471, 44, 0]];
    const serve = h.serve.bind(h);
    h.serve = (latencyMs = 0.2) => {
      const done = h.pending;
      h.pending = null;
      (h.capturer as { inFlight: boolean }).inFlight = false;
      done?.({ at: h.now + latencyMs, idle: h.idle, frames: h.frames, context: null, exiting: true });
    };
    h.idleFor(100);
    h.block(200);
    h.beat();
    h.dog.tick();
    expect(h.events[0]).toMatchObject({ culprit: null, stack: [] });
    h.serve = serve;
  });

  it('does not report a record again that a stall tracked here covers, when the stall closed at a later beat', () => {
    // The watchdog began tracking just after the main thread checked STALL at its beat, and
    // next read the beats only after one more: the record ends at a beat inside the stall.
    const h = new Harness();
    h.capturer.capture = () => false;
    h.idleFor(100);
    h.now += 60;
    h.dog.tick(); // stall tracked from the last beat
    expect(h.dog.stalled).toBe(true);
    h.now -= 60;
    h.untracked(60);
    h.beat();
    h.now += 40;
    h.beat();
    h.dog.tick();
    h.idleFor(100);
    expect(h.events).toHaveLength(1);
  });

  it('a watchdog that reads the beats late ends the stall at the first beat after it, and the next block is not merged into it (issue 13)', () => {
    const h = new Harness();
    h.idleFor(100);
    h.block(60); // tracked: the watchdog ticked and sampled during it
    expect(h.dog.stalled).toBe(true);
    h.serve();
    h.mainBeat(); // the recovery beat; the watchdog is not scheduled now
    h.now += 10;
    h.idle += 10;
    h.now += 60; // the next block, which the watchdog does not see either
    h.mainBeat();
    h.now += 5;
    h.dog.tick(); // it runs again only now
    h.idleFor(100);
    expect(h.events.map((e) => Math.round(e.durationMs))).toEqual([60, 60]);
    expect(h.events[0].culprit?.function).toBe('burnCpu');
    expect(h.events[1].culprit).toBeNull();
  });

  it('writes ongoing lines at doubling intervals while stuck', () => {
    const h = new Harness();
    h.idleFor(100);
    h.block(2100);
    const ongoing = h.events.filter((e) => e.ongoing);
    expect(ongoing.map((e) => Math.round(e.durationMs / 100) * 100)).toEqual([500, 1000, 2000]);
    expect(ongoing[0].culprit?.function).toBe('burnCpu');
  });

  it('reports a block in progress when the process exits, and acknowledges', () => {
    const h = new Harness();
    h.idleFor(100);
    h.block(300);
    h.beat();
    Atomics.or(h.state.i32, I32.FLAGS, FLAG.EXITING);
    expect(h.dog.tick()).toBe(-1);
    expect(h.events).toHaveLength(1);
    expect(h.events[0].durationMs).toBeGreaterThanOrEqual(300);
    expect(Atomics.load(h.state.i32, I32.EXIT_ACK)).toBe(1);
  });

  it('at exit, waits briefly for a capture in flight and keeps it if served before the final beat', async () => {
    const h = new Harness();
    h.idleFor(100);
    h.now += 55;
    h.dog.tick(); // stall begins, capture requested, not yet served
    expect(h.pending).not.toBeNull();
    h.now += 300;
    const served = h.pending!;
    h.pending = null;
    h.beat(); // the final beat of the exit handler
    Atomics.or(h.state.i32, I32.FLAGS, FLAG.EXITING);
    expect(h.dog.tick()).toBe(-1);
    expect(h.events).toHaveLength(0);
    (h.capturer as { inFlight: boolean }).inFlight = false;
    // Served just before the final beat (e.g. when a long JSON.parse returned).
    served({ at: h.now - 1, idle: h.idle, frames: h.frames, context: { kind: 'http', method: 'GET', route: null, path: '/x', job: null, traceId: null, spanId: null } });
    expect(h.events).toHaveLength(1);
    expect(h.events[0].culprit?.function).toBe('burnCpu');
    expect(Atomics.load(h.state.i32, I32.EXIT_ACK)).toBe(1);
  });

  it('at exit, drops a capture served after the final beat, and reports without it when none comes', async () => {
    const late = new Harness();
    late.idleFor(100);
    late.now += 55;
    late.dog.tick();
    const served = late.pending!;
    late.now += 300;
    late.beat();
    Atomics.or(late.state.i32, I32.FLAGS, FLAG.EXITING);
    late.dog.tick();
    (late.capturer as { inFlight: boolean }).inFlight = false;
    // Served inside the exit handler (its Atomics.wait serves interrupts): not the block.
    served({ at: late.now + 5, idle: late.idle, frames: [['emit', 'node:events', 1, 1, 0]], context: { kind: 'http', method: 'GET', route: null, path: '/x', job: null, traceId: null, spanId: null } });
    expect(late.events).toHaveLength(1);
    expect(late.events[0].culprit).toBeNull();

    const never = new Harness();
    never.idleFor(100);
    never.now += 55;
    never.dog.tick();
    never.now += 300;
    never.beat();
    Atomics.or(never.state.i32, I32.FLAGS, FLAG.EXITING);
    never.dog.tick();
    expect(never.events).toHaveLength(0);
    // The exit gives up on the capture after its bounded wait, then reports and acknowledges.
    await waitFor(() => Atomics.load(never.state.i32, I32.EXIT_ACK) === 1, { timeoutMs: 5_000, what: 'the exit to stop waiting for the capture' });
    expect(never.events).toHaveLength(1);
    expect(Atomics.load(never.state.i32, I32.EXIT_ACK)).toBe(1);
  });

  it('keeps at most maxSamples samples, spread over the whole of a long block (for the profile)', () => {
    const h = new Harness();
    h.idleFor(100);
    const start = h.now;
    // Three phases of 1 s each: a, b, c.
    const phase = (): string => (h.now - start < 1000 ? 'a' : h.now - start < 2000 ? 'b' : 'c');
    const serve = h.serve.bind(h);
    h.serve = (latency = 0.2) => {
      h.frames = [[phase(), '/app/src/app.js', 3, 9, 0]];
      serve(latency);
    };
    h.block(3000);
    h.beat();
    h.dog.tick();
    const [e] = h.events.filter((x) => !x.ongoing);
    // More captures than kept samples: the watchdog went on sampling, less often.
    expect(h.captures).toBeGreaterThan(cfg.maxSamples);
    expect(h.captures).toBeLessThan(60);
    const shares = Object.fromEntries(e.profile.map((p) => [p.function, p.share]));
    for (const fn of ['a', 'b', 'c']) {
      expect(shares[fn], JSON.stringify(e.profile)).toBeGreaterThan(0.2);
      expect(shares[fn], JSON.stringify(e.profile)).toBeLessThan(0.45);
    }
  });

  it('drops a sample served after the recovery beat', () => {
    const h = new Harness();
    h.idleFor(100);
    h.now += 55;
    h.dog.tick(); // stall begins, capture requested
    expect(h.pending).not.toBeNull();
    h.now += 20;
    h.beat(); // recovered before the probe ran
    h.dog.tick();
    h.now += 1;
    h.serve();
    h.now += 40;
    h.dog.tick();
    expect(h.events).toHaveLength(1);
    expect(h.events[0].culprit).toBeNull();
    expect(h.events[0].stack).toEqual([]);
  });

  it('marks blocks that began before the loop turned as startup', () => {
    const h = new Harness();
    h.beat();
    h.block(120);
    h.frames = [];
    h.beat();
    h.dog.tick();
    expect(h.events[0].context.kind).toBe('http');
    const h2 = new Harness();
    h2.capturer.capture = () => false;
    h2.beat();
    h2.block(120);
    h2.beat();
    h2.dog.tick();
    expect(h2.events[0].context.kind).toBe('startup');
  });
});
