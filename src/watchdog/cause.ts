/**
 * Why a block stalled the loop: the blocked thread's scheduler statistics (Linux
 * `/proc/self/task/<tid>/schedstat`, read from the watchdog thread) and the GC time inside
 * the block (shared/gc-buffer.ts) say whether it ran code, slept in a native call, collected garbage
 * or waited for a CPU. Contract: README, "The block event" (`cause`, `cpuMs`, `gcMs`).
 */
import { closeSync, openSync, readSync } from 'node:fs';
import type { BlockCause } from '../shared/event.js';

/** Every cause, in the order of the README's table: the bounded values of the `cause` label. */
export const CAUSES: readonly BlockCause[] = Object.freeze(['code', 'native', 'gc', 'starved']);

/**
 * "Most of the time" for each cause, as a share of the time measured. Measured on this
 * project's 2-core VM with test/fixtures/cause/blocks.cjs (README, "How the cause is told"):
 * a spin loop ran on a CPU 0.6-1.0 of its block (the rest other sessions' load), Atomics.wait
 * and execSync('sleep') 0.00-0.02, a spin loop under a 10 % CFS quota 0.07 (runnable-waiting
 * the rest), allocation over a large live heap spent 0.48-0.9 of its block in GC pauses and
 * allocation of short-lived objects 0.2-0.45. The kinds sit on either side of one half, so
 * one half it is: a cause is named when it holds at least as much of the block as the rest.
 */
export const STARVED_SHARE = 0.5;
export const GC_SHARE = 0.5;
export const NATIVE_SHARE = 0.5;

/** One reading of the thread's scheduler statistics, in ms, with the main-thread time it was taken at. */
export interface SchedReading {
  at: number;
  /** Time on a CPU (schedstat field 1). */
  cpuMs: number;
  /** Time runnable, waiting on a run queue (schedstat field 2). */
  waitMs: number;
}

/**
 * Reads one thread's schedstat without allocating: the file is opened once and read again
 * from offset 0 (procfs regenerates it on each read), one pread per reading. Null readings
 * when the file cannot be opened or read (not Linux, no tid, /proc not mounted): the cause is
 * then told from what is known.
 */
export class SchedStat {
  #fd: number | null = null;
  #broken: boolean;
  readonly #path: string | null;
  readonly #buf = Buffer.alloc(96);

  constructor(tid: number | null, platform: string = process.platform, root = '/proc/self/task') {
    this.#path = tid !== null && Number.isInteger(tid) && tid > 0 && platform === 'linux' ? `${root}/${tid}/schedstat` : null;
    this.#broken = this.#path === null;
  }

  get available(): boolean {
    return !this.#broken;
  }

  read(at: number): SchedReading | null {
    if (this.#broken) return null;
    try {
      this.#fd ??= openSync(this.#path!, 'r');
      const n = readSync(this.#fd, this.#buf, 0, this.#buf.length, 0);
      const fields = parseSchedstat(this.#buf, n);
      if (!fields) throw new Error('unexpected schedstat format');
      return { at, cpuMs: fields[0] / 1e6, waitMs: fields[1] / 1e6 };
    } catch {
      // Unreadable (the thread is gone, a restricted /proc): no cause from the scheduler, no error.
      this.close();
      this.#broken = true;
      return null;
    }
  }

  close(): void {
    if (this.#fd === null) return;
    try {
      closeSync(this.#fd);
    } catch {
      // Already closed.
    }
    this.#fd = null;
  }
}

/** The first two decimal fields of a schedstat line ("<run ns> <wait ns> <slices>\n"), or null. */
export function parseSchedstat(buf: Uint8Array, length: number): [number, number] | null {
  const out: number[] = [];
  let v = 0;
  let digits = 0;
  for (let i = 0; i <= length && out.length < 2; i++) {
    const c = i < length ? buf[i] : 32;
    if (c >= 48 && c <= 57) {
      v = v * 10 + (c - 48);
      digits++;
    } else if (digits > 0) {
      out.push(v);
      v = 0;
      digits = 0;
    } else if (c !== 32 && c !== 10) {
      return null;
    }
  }
  return out.length === 2 ? [out[0], out[1]] : null;
}

/** GC time observed inside the block: `ms` of pauses over the `windowMs` it was watched. */
export interface GcWindow {
  ms: number;
  windowMs: number;
}

export interface CauseInput {
  durationMs: number;
  /**
   * The block threshold: a block is `starved` only if what remains of it without the wait
   * is under the threshold, i.e. it would not have been a block had the thread had a CPU. A
   * 1 s block that waited 60 % of the time still ran 400 ms of code: that code is the culprit.
   */
  thresholdMs?: number;
  /** Scheduler readings inside the block (the first when the stall was seen, the last at its end), or null. */
  from: SchedReading | null;
  to: SchedReading | null;
  gc: GcWindow | null;
}

export interface CauseResult {
  cause: BlockCause;
  /** On-CPU time during the block (ms, 0.1 precision), or null where the scheduler cannot be read. */
  cpuMs: number | null;
  /** GC pause time inside the block (ms), or null when it was not measured. */
  gcMs: number | null;
  /** Share of the block spent runnable but not running, for the starved hint; null if unknown. */
  waitShare: number | null;
  gcShare: number | null;
}

const round1 = (v: number): number => Math.round(v * 10) / 10;
const clamp01 = (v: number): number => (v < 0 ? 0 : v > 1 ? 1 : v);

/**
 * The watchdog sees a stall only once it has lasted a while (up to one threshold), so the
 * readings cover the block from then to its end. Shares are taken over that window and
 * scaled to the whole block: `cpuMs` is the on-CPU share × the duration.
 *
 * Only GC overlaps the others (a pause runs on a CPU, waits for one, or sleeps until V8's
 * helper threads finish), so GC and starvation can both pass one half; the larger wins.
 * Measured on this project's loaded 2-core VM: an allocation loop with a large live heap
 * spent 0.78-0.82 of its block in GC pauses while runnable-not-running for 0.27-0.68 (the
 * CPUs taken by its own GC helpers and other load): gc. A starved warm-up spin ran 0.09 of
 * its block and waited 0.9, with one scavenge stretched to 0.77 of it by the wait: starved.
 */
export function classify({ durationMs, thresholdMs = Infinity, from, to, gc }: CauseInput): CauseResult {
  let cpuShare: number | null = null;
  let waitShare: number | null = null;
  if (from && to) {
    const windowMs = to.at - from.at;
    if (windowMs > 0) {
      cpuShare = clamp01((to.cpuMs - from.cpuMs) / windowMs);
      waitShare = clamp01((to.waitMs - from.waitMs) / windowMs);
    }
  }
  const gcShare = gc && gc.windowMs > 0 ? clamp01(gc.ms / gc.windowMs) : null;
  let cause: BlockCause = 'code';
  const starved = waitShare !== null && waitShare >= STARVED_SHARE && (1 - waitShare) * durationMs < thresholdMs
    && !(gcShare !== null && gcShare > waitShare);
  if (starved) cause = 'starved';
  else if (gcShare !== null && gcShare >= GC_SHARE) cause = 'gc';
  else if (cpuShare !== null && waitShare !== null && 1 - cpuShare - waitShare >= NATIVE_SHARE) cause = 'native';
  return {
    cause,
    cpuMs: cpuShare === null ? null : round1(cpuShare * durationMs),
    gcMs: gcShare === null ? null : round1(gcShare * durationMs),
    waitShare,
    gcShare,
  };
}

const pct = (share: number): string => `${Math.round(share * 100)} %`;

/** The hint of a starved block: the stack is where the thread happened to be, not what to fix. */
export function starvedHint(waitShare: number | null): string {
  const share = waitShare === null ? 'most' : pct(waitShare);
  return `the thread was runnable but not running for ${share} of this block: CPU starvation (a container CPU limit and its CFS throttling, other busy processes or threads on its cores, VM steal), not the code on the stack; check the CPU limit and throttling metrics (container_cpu_cfs_throttled_periods_total), requests/limits and the node's load`;
}

/** The hint of a block spent mostly in garbage collection. */
export function gcHint(gcShare: number | null): string {
  const share = gcShare === null ? 'most' : pct(gcShare);
  return `garbage collection took ${share} of this block: the code named allocates heavily or the heap is near its limit; allocate less (reuse buffers, stream instead of building large arrays or strings), check for a growing heap, or raise --max-old-space-size if it is full`;
}
