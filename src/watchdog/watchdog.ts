import { createRequire } from 'node:module';
import { debuglog } from 'node:util';
import { chooseCulprit } from '../attribution/culprit.js';
import { fingerprint } from '../attribution/fingerprint.js';
import { type FrameOptions, rawOrigin, toStackFrame } from '../attribution/frames.js';
import { findHint } from '../attribution/hints.js';
import { computeProfile } from '../attribution/profile.js';
import { type BlockSample, SampleReader } from '../attribution/sample.js';
import type { BlockContext, BlockEvent } from '../shared/event.js';
import { GC_F64, GC_I32, GC_START_EXPRESSION, type GcView } from '../shared/gc-buffer.js';
import { PROBE_EXPRESSION, type ProbeResult } from '../shared/probe-protocol.js';
import { type BeatSnapshot, busyMs, claimUntracked, F64, FLAG, I32, readBeat, type SharedState, STARTUP_BEAT, untrackedPending } from '../shared/shared-state.js';
import { type CauseResult, classify, gcHint, type GcWindow, type SchedReading, starvedHint } from './cause.js';

export interface WatchdogConfig extends FrameOptions {
  thresholdMs: number;
  heartbeatMs: number;
  confirmMs: number;
  stuckMs: number;
  maxSamples: number;
  captureStacks: boolean;
  thread: { id: number; name: string };
}

export interface CaptureSource {
  readonly available: boolean;
  readonly inFlight: boolean;
  capture(done: (result: ProbeResult | null) => void, expression?: string): boolean;
  disconnect(): void;
}

/** What the cause of a block is measured from (cause.ts); each part may be missing. */
export interface CauseSources {
  /** The blocked thread's scheduler statistics, or null where they cannot be read. */
  sched?: { read(at: number): SchedReading | null } | null;
  /** The GC figures the main thread writes after a block (shared/gc-buffer.ts), or null. */
  gc?: GcView | null;
}

export interface WatchdogSinks {
  /** A finished block (also called for ongoing lines, with event.ongoing = true). */
  report(event: BlockEvent): void;
  /** A block's first stack sample arrived: the worker is free until the next one. */
  sampled?(): void;
  /** The probe ran but could not take the frames (ProbeResult.failure says why). */
  captureFailed?(reason: string): void;
  /** The process exits: write what is held back (flood-control summaries) now. */
  flush?(): void;
}

interface Stall {
  /** The beat before the stall. */
  beatAt: number;
  beatIdle: number;
  /** Estimated main-thread time the block began. */
  start: number;
  /** The probe results kept, read into samples only when a line is written (see Taken). */
  samples: Taken[];
  requestedAt: number;
  /** Time between samples; doubles each time the kept samples are thinned. */
  sampleGap: number;
  nextSampleAt: number;
  nextOngoingAt: number;
  ongoingStep: number;
  recovered: BeatSnapshot | null;
  recoveredSeenAt: number;
  /** BEATS count of the beat before the stall: recovery is any other count. */
  beats: number;
  /** An untracked block the main thread saw before this thread ran. */
  early?: boolean;
  /** Scheduler readings when the stall was seen and when its end was (cause.ts). */
  schedFrom: SchedReading | null;
  schedTo: SchedReading | null;
  /** The first capture asked the blocked thread to observe GC; true once it ran there. */
  gcAsked: boolean;
  gcArmed: boolean;
}

/**
 * A probe result kept while its block lasts. It is read (source maps, source text) only when
 * the block is reported: on a one-CPU container the watchdog shares the core with the blocked
 * thread, and work it does as a result arrives stops that thread for as long.
 */
interface Taken {
  result: ProbeResult;
  requestedAt: number;
  read: BlockSample | null;
}

/** A stall that began after the beat `from` (its BEATS count, time and idle time). */
function newStall(from: { beats: number; at: number; idle: number }, start: number): Stall {
  return {
    beats: from.beats, beatAt: from.at, beatIdle: from.idle, start,
    samples: [], requestedAt: 0, sampleGap: 0, nextSampleAt: Infinity, nextOngoingAt: Infinity, ongoingStep: 0,
    recovered: null, recoveredSeenAt: 0, schedFrom: null, schedTo: null, gcAsked: false, gcArmed: false,
  };
}

const debug = debuglog('loopwatch');

/** node:crypto, loaded at the first block (not at start: ~1.5 MB of RSS in the worker on Node 24). */
let crypto: typeof import('node:crypto') | undefined;
function eventId(): string {
  crypto ??= createRequire(__filename)('node:crypto') as typeof import('node:crypto');
  return crypto.randomBytes(8).toString('hex');
}

/**
 * While a block is tracked the main thread's recovery beat wakes the worker at once (it
 * notifies the FLAGS slot when STALL is set, and the worker loop waits on it with
 * Atomics.waitAsync), so the worker sleeps until its next sample or ongoing line is due, at
 * most STALL_WAIT_MAX_MS (a notify sent before the stall was tracked is caught then, or at
 * the next sample). Without Atomics.waitAsync, and while a due sample waits for a capture
 * still in flight, it polls every STALL_POLL_MS. Measured on Node 24 pinned to one core
 * (bench/capture.mjs --agent-b): a poll every 8 ms throughout the block was 25 wake-ups of
 * the watchdog per 200 ms block, each taking the blocked thread's core.
 */
const STALL_POLL_MS = 8;
const STALL_WAIT_MAX_MS = 100;
const NOTIFIED = typeof (Atomics as { waitAsync?: unknown }).waitAsync === 'function';
/** How long a finished block waits for a capture still in flight before it is reported without it. */
const IN_FLIGHT_GRACE_MS = 30;
/** The same at process exit, where the main thread waits for the report at most 300 ms. */
const EXIT_CAPTURE_WAIT_MS = 50;
/**
 * How long a finished block waits for the main thread's GC figures (written in the check
 * phase after the recovery beat, usually within 1-2 ms; later on a loaded machine, or after
 * the I/O callbacks that queued up during the block); past it the block is reported with
 * `gcMs: null`, so a loop that is busy again at once does not hold the line back long.
 */
const GC_SYNC_GRACE_MS = 50;
/** The share of a block GC must have been observed over for its GC time to be reported. */
const MIN_GC_COVERAGE = 0.25;

const emptyContext = (): BlockContext => ({ kind: null, method: null, route: null, path: null, job: null, traceId: null, spanId: null });

/**
 * The watchdog's decisions, separate from the worker's plumbing so they can be driven by a
 * test clock. `tick()` returns how many ms until it wants to run again.
 */
export class Watchdog {
  readonly #beat: BeatSnapshot = { beats: -1, at: 0, idle: 0, flags: 0 };
  #last: BeatSnapshot = { beats: -1, at: 0, idle: 0, flags: 0 };
  #stall: Stall | null = null;
  #done = false;
  /** BEATS counts of the beat before and the beat that closed the last stall reported. */
  #lastClosedFrom = -1;
  #lastClosedBeat = -1;
  /** Frame options with the source-map cache, which lives as long as the worker. */
  readonly #reader: SampleReader;
  /** Called after a capture's result was handled (set while an exit waits for it). */
  #afterCapture: (() => void) | null = null;

  constructor(
    private readonly state: SharedState,
    private readonly cfg: WatchdogConfig,
    private readonly capturer: CaptureSource,
    private readonly sinks: WatchdogSinks,
    private readonly mainNow: () => number,
    private readonly causes: CauseSources = {},
  ) {
    this.#reader = new SampleReader(cfg);
  }

  get finished(): boolean {
    return this.#done;
  }

  /** Samples between the first capture and the recovery, spaced to cover longer blocks. */
  #sampleGap(): number {
    return Math.max(20, this.cfg.thresholdMs / 2);
  }

  tick(): number {
    if (this.#done) return -1;
    const b = readBeat(this.state, this.#beat);
    if (b.flags & (FLAG.EXITING | FLAG.STOPPED)) {
      this.exit();
      return -1;
    }
    const now = this.mainNow();
    const stall = this.#stall;
    if (stall) {
      if (!stall.recovered && b.beats !== stall.beats) {
        stall.recovered = this.#recovery(b);
        stall.recoveredSeenAt = now;
        if (stall.schedFrom) stall.schedTo = this.causes.sched?.read(now) ?? null;
      }
      if (stall.recovered) {
        if (this.capturer.inFlight && now - stall.recoveredSeenAt < IN_FLIGHT_GRACE_MS) return 2;
        if (stall.gcArmed && this.#gcWindow(stall) === null && now - stall.recoveredSeenAt < GC_SYNC_GRACE_MS) return 2;
        this.#finish(stall, stall.recovered);
        return this.#idleWait(this.mainNow());
      }
      if (now >= stall.nextSampleAt) this.#sample(stall, now);
      if (now >= stall.nextOngoingAt) this.#ongoing(stall, now);
      return this.#stallWait(stall, now);
    }
    if (b.beats !== this.#last.beats) this.#last = { ...b };
    this.#untracked();
    if (this.#last.beats <= 0) return this.cfg.heartbeatMs;
    if (now - this.#last.at >= this.cfg.heartbeatMs + this.cfg.confirmMs) {
      return this.#stallWait(this.#begin(now), now);
    }
    return this.#idleWait(now);
  }

  /** Sleep until the stall's next sample or ongoing line is due (see STALL_POLL_MS). */
  #stallWait(stall: Stall, now: number): number {
    if (!NOTIFIED) return STALL_POLL_MS;
    const due = this.#sampling ? Math.min(stall.nextSampleAt, stall.nextOngoingAt) : stall.nextOngoingAt;
    // A sample is due and a capture is still in flight: look again soon.
    if (due <= now) return STALL_POLL_MS;
    return Math.min(due - now, STALL_WAIT_MAX_MS);
  }

  /** Sleep until the next beat is overdue by the confirmation grace. */
  #idleWait(now: number): number {
    return Math.max(1, this.#last.at + this.cfg.heartbeatMs + this.cfg.confirmMs - now);
  }

  /** Whether a stall is being tracked (the worker then needs its event loop for the session). */
  get stalled(): boolean {
    return this.#stall !== null;
  }

  #begin(now: number): Stall {
    const last = this.#last;
    // Until a capture says better, the block began when the next beat was due.
    const stall = newStall(last, last.at + this.cfg.heartbeatMs);
    stall.nextSampleAt = now;
    stall.sampleGap = this.#sampleGap();
    stall.nextOngoingAt = last.at + this.cfg.stuckMs;
    stall.ongoingStep = this.cfg.stuckMs;
    // The loop has been busy since the beat was due: this reading is inside the block.
    stall.schedFrom = this.causes.sched?.read(now) ?? null;
    this.#stall = stall;
    Atomics.store(this.state.i32, I32.RECOVERED, 0);
    Atomics.store(this.state.i32, I32.STALL, 1);
    debug('stall after beat %d (%d ms since it)', last.beats, now - last.at);
    this.#sample(stall, now);
    return stall;
  }

  /** Whether stalls are sampled at all (stacks asked for, and the inspector usable). */
  get #sampling(): boolean {
    return this.cfg.captureStacks && this.capturer.available;
  }

  #sample(stall: Stall, now: number): void {
    if (!this.#sampling) return;
    if (this.capturer.inFlight) return;
    if (stall.samples.length >= this.cfg.maxSamples) {
      if (this.cfg.maxSamples < 2) return;
      // Full: keep every other sample and sample half as often, so the kept samples stay
      // spread over the whole block however long it lasts (for the profile), the count
      // stays bounded, and the captures taken grow only with the log of the duration.
      stall.samples = stall.samples.filter((_, i) => i % 2 === 0);
      stall.sampleGap *= 2;
    }
    stall.requestedAt = now;
    stall.nextSampleAt = now + stall.sampleGap;
    // The first capture also starts GC observation inside the blocked thread (main-thread/gc-meter.ts).
    const askGc = !stall.gcAsked && !!this.causes.gc;
    const sent = this.capturer.capture((result) => {
      try {
        if (result && askGc) stall.gcArmed = true;
        this.#onCapture(stall, result);
      } finally {
        this.#afterCapture?.();
      }
    }, askGc ? `(${GC_START_EXPRESSION}, ${PROBE_EXPRESSION})` : undefined);
    if (sent && askGc) stall.gcAsked = true;
  }

  /** The GC figures the main thread wrote for this stall's recovery beat, or null until then. */
  #gcWindow(stall: Stall): GcWindow | null {
    const gc = this.causes.gc;
    if (!gc || !stall.gcArmed || !stall.recovered) return null;
    if (Atomics.load(gc.i32, GC_I32.SEQ) !== stall.recovered.beats) return null;
    return { ms: gc.f64[GC_F64.MS], windowMs: gc.f64[GC_F64.TO] - gc.f64[GC_F64.FROM] };
  }

  /** Cause, on-CPU and GC time of a stall, from what was measured (cause.ts). */
  #cause(stall: Stall, durationMs: number, ongoing: boolean): CauseResult {
    let to = stall.schedTo;
    if (stall.schedFrom && (ongoing || !to)) to = this.causes.sched?.read(this.mainNow()) ?? null;
    let gc = ongoing ? null : this.#gcWindow(stall);
    // Observed over too little of the block to say (the first capture was served only at its
    // end: measured on Node 24, a loop of builtins served it 160 ms late): not measured.
    if (gc && gc.windowMs < durationMs * MIN_GC_COVERAGE) gc = null;
    debug('cause: gc asked %s armed %s window %j, sched %j → %j', stall.gcAsked, stall.gcArmed, gc, stall.schedFrom, to);
    return classify({ durationMs, thresholdMs: this.cfg.thresholdMs, from: stall.schedFrom, to, gc });
  }

  /** The stall's end: the first beat after it as the main thread noted it, else `b` (the latest). */
  #recovery(b: BeatSnapshot): BeatSnapshot {
    const { i32, f64 } = this.state;
    const beats = Atomics.load(i32, I32.RECOVERED);
    if (beats === 0) return { ...b };
    return { beats, at: f64[F64.RECOVERY_AT], idle: f64[F64.RECOVERY_IDLE], flags: b.flags };
  }

  #onCapture(stall: Stall, result: ProbeResult | null): void {
    if (result?.failure !== undefined) this.sinks.captureFailed?.(result.failure);
    if (!result || this.#stall !== stall) return;
    // A probe served after the recovery beat saw the code that ran after the block.
    if (stall.recovered && result.at > stall.recovered.at) return;
    // Source maps and source text are read here, in the worker, never in the blocked thread.
    const frames = result.frames ?? [];
    const own = this.cfg.ownRoot;
    // Served inside loopwatch's own code on the blocked thread (the exit handler, a beat), or
    // with no code of the app's on the stack while the process exits or at the entry of a
    // Node function called from native code: the block was over, the loop between callbacks.
    // Seen under CPU contention (18 processes on 2 cores): probes asked for during a block
    // and served at the entry of process.emit('beforeExit') named node:events' emit.
    if (rawOrigin(frames[0], own) === 'loopwatch') return;
    if ((result.exiting || frames[0]?.[4] === 1) && !frames.some((f) => { const o = rawOrigin(f, own); return o === 'app' || o === 'dependency'; })) return;
    stall.samples.push({ result, requestedAt: stall.requestedAt, read: null });
    if (debug.enabled) {
      debug('sample %d: latency %d ms, %s', stall.samples.length, Math.max(0, result.at - stall.requestedAt), frames.slice(0, 4).map(([fn, file, line, column, atEntry]) => `${fn}@${file}:${line}:${column}${atEntry ? '*' : ''}`).join(' < '));
    }
    if (stall.samples.length === 1) {
      // No idle time passes inside a block, so all idle time since the last beat came before it.
      stall.start = Math.min(result.at, stall.beatAt + Math.max(0, result.idle - stall.beatIdle));
      stall.nextOngoingAt = stall.start + stall.ongoingStep;
      this.sinks.sampled?.();
    }
  }

  #ongoing(stall: Stall, now: number): void {
    this.sinks.report(this.#event(stall, now - stall.start, true, stall.start));
    stall.ongoingStep *= 2;
    stall.nextOngoingAt = stall.start + stall.ongoingStep;
  }

  /**
   * Reports the blocks that the main thread saw end but this thread never tracked (it was
   * not scheduled in time, or not started yet): no stack. Each record is claimed first, since
   * an exiting main thread reports the ones left over itself.
   */
  #untracked(): void {
    if (!untrackedPending(this.state)) return;
    const { i32 } = this.state;
    Atomics.store(i32, I32.REPORTING, 1);
    try {
      for (let r = claimUntracked(this.state); r !== null; r = claimUntracked(this.state)) {
        // Between the beats of a stall tracked here: the same block. The main thread wrote the
        // record at a beat just before this thread began tracking, and this thread may have
        // closed the stall at a later beat than that one (seen under CPU contention).
        if (r.toBeat - 1 >= this.#lastClosedFrom && r.toBeat <= this.#lastClosedBeat) continue;
        const stall = newStall({ beats: r.toBeat - 1, at: r.fromAt, idle: r.fromIdle }, r.fromAt);
        stall.early = r.early;
        debug('untracked block reported by the main thread, beat %d%s', r.toBeat, r.early ? ', before the watchdog ran' : '');
        this.#finish(stall, { beats: r.toBeat, at: r.toAt, idle: r.toIdle, flags: 0 }, false);
      }
    } finally {
      Atomics.store(i32, I32.REPORTING, 0);
    }
  }

  #finish(stall: Stall, end: BeatSnapshot, updateLast = true): void {
    this.#stall = null;
    this.#lastClosedFrom = stall.beats;
    this.#lastClosedBeat = end.beats;
    // An untracked record can be newer than the beat this thread last read (the main thread
    // writes it just before its beat): take it as the last beat, or the same block would
    // look like a fresh stall and be tracked and reported a second time.
    if (updateLast || end.beats > this.#last.beats) this.#last = { ...end };
    const { i32 } = this.state;
    // REPORTING before STALL clears: an exiting main thread that reads either waits for the line.
    const reporting = Atomics.exchange(i32, I32.REPORTING, 1);
    Atomics.store(i32, I32.STALL, 0);
    try {
      this.capturer.disconnect();
      const durationMs = busyMs(stall.beatAt, stall.beatIdle, end.at, end.idle);
      debug('stall closed by beat %d: %d ms busy, %d samples', end.beats, durationMs, stall.samples.length);
      if (durationMs < this.cfg.thresholdMs) return;
      this.sinks.report(this.#event(stall, durationMs, false, end.at - durationMs));
    } finally {
      Atomics.store(i32, I32.REPORTING, reporting);
    }
  }

  /** The process is exiting (or the agent stopped): report what is pending, synchronously. */
  exit(): void {
    if (this.#done) return;
    this.#done = true;
    const b = readBeat(this.state, this.#beat);
    debug('exit at beat %d, stall %s', b.beats, this.#stall ? 'in progress' : 'none');
    const stall = this.#stall;
    if (stall && this.capturer.inFlight) {
      // A block that ends in process.exit (or a return to an exiting loop) often had its one
      // probe served on the way out (a long JSON.parse serves it only when it returns): the
      // result is on its way to this thread. Wait for it, briefly; the exiting main thread
      // waits for EXIT_ACK up to 300 ms. A probe served after the final beat (inside the
      // exit handler itself) is dropped by the capture callback.
      stall.recovered = this.#recovery(b);
      const finish = (): void => {
        if (this.#afterCapture !== finish) return;
        this.#afterCapture = null;
        clearTimeout(timer);
        this.#exitNow(b);
      };
      this.#afterCapture = finish;
      const timer = setTimeout(finish, EXIT_CAPTURE_WAIT_MS);
      return;
    }
    this.#exitNow(b);
  }

  #exitNow(b: BeatSnapshot): void {
    try {
      if (this.#stall) this.#finish(this.#stall, this.#stall.recovered ?? this.#recovery(b));
      // The main thread's records, its final beat's included: before this thread's first tick
      // they are all it knows (a process that blocks and exits while its watchdog starts).
      this.#untracked();
      if (this.#lastClosedBeat === b.beats) {
        // Closed by the final beat already.
      } else if (this.#last.beats > 0 && !(b.flags & FLAG.STOPPED)) {
        // A block that ended in the exit itself, too recent to have been seen.
        const pseudo = newStall(this.#last, this.#last.at);
        this.#finish(pseudo, { ...b });
      }
    } finally {
      this.capturer.disconnect();
      try {
        this.sinks.flush?.();
      } catch {
        // The exit must be acknowledged whatever a sink does.
      }
      Atomics.store(this.state.i32, I32.EXIT_ACK, 1);
      Atomics.notify(this.state.i32, I32.EXIT_ACK);
    }
  }

  /** The stall's samples, read now (each once: an ongoing line reads those it has so far). */
  #read(stall: Stall): BlockSample[] {
    return stall.samples.map((t) => (t.read ??= this.#reader.read(t.result, t.requestedAt)));
  }

  #event(stall: Stall, durationMs: number, ongoing: boolean, startMain: number): BlockEvent {
    const why = this.#cause(stall, durationMs, ongoing);
    const samples = this.#read(stall);
    const choice = chooseCulprit(samples);
    const sample = choice ? samples[choice.sample] : samples[0];
    // A starved thread ran little of the block: the frame it was in is not to blame.
    const culpritFrame = choice && why.cause !== 'starved' ? choice.frame : null;
    const context = sample?.context ?? samples.find((s) => s.context)?.context ?? emptyContext();
    if ((stall.beats === STARTUP_BEAT || stall.early) && context.kind === null) context.kind = 'startup';
    const culprit = culpritFrame
      ? { function: culpritFrame.function, file: culpritFrame.file, line: culpritFrame.line, column: culpritFrame.column }
      : null;
    const timeOrigin = this.state.f64[F64.TIME_ORIGIN_MS];
    return {
      id: eventId(),
      thread: this.cfg.thread,
      startedAt: new Date(timeOrigin + startMain).toISOString(),
      durationMs: Math.round(durationMs * 10) / 10,
      ongoing,
      thresholdMs: this.cfg.thresholdMs,
      context,
      culprit,
      stack: sample ? sample.frames.filter((f) => f.origin !== 'loopwatch').map(toStackFrame) : [],
      hint: why.cause === 'starved' ? starvedHint(why.waitShare)
        : why.cause === 'gc' ? gcHint(why.gcShare)
          : findHint(samples) ?? (sample?.sourceHint ?? samples.find((s) => s.sourceHint)?.sourceHint ?? null),
      fingerprint: fingerprint(culprit, context.route ?? context.job ?? context.kind),
      profile: computeProfile(samples, startMain, startMain + durationMs),
      cause: why.cause,
      cpuMs: why.cpuMs,
      gcMs: why.gcMs,
    };
  }
}
