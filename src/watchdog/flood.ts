/**
 * Flood control for block lines: per fingerprint, at most `limit` lines per interval; the
 * rest are counted and written as one summary line per fingerprint and interval (count,
 * total and worst duration). Only the log is limited: metrics and `monitor.on('block')` see
 * every block. Memory is bounded (MAX_FINGERPRINTS entries of a few numbers each), and the
 * work per block is one map lookup, whatever the block rate.
 */
import type { BlockEvent } from '../shared/event.js';

/** Fingerprints tracked at once; the one idle longest is dropped first (its summary written). */
export const MAX_FINGERPRINTS = 256;

export const SUMMARY_MESSAGE = 'event loop blocks suppressed';

/** The `suppressed` field of a summary line. Contract: README, "Flood control". */
export interface SuppressedSummary {
  fingerprint: string;
  /** Blocks of this fingerprint not written as lines in the interval. */
  count: number;
  totalMs: number;
  worstMs: number;
  /** ISO times of the interval's start and of its last suppressed block's end. */
  since: string;
  until: string;
  /** The limit in force: `limit` lines per `intervalMs`. */
  limit: number;
  intervalMs: number;
  /** From the interval's first line, to say what the summary is about without a lookup. */
  culprit: BlockEvent['culprit'];
  route: string | null;
  cause: BlockEvent['cause'];
  thread: BlockEvent['thread'];
}

interface Window {
  /** Main-thread time (ms) the interval started; it ends intervalMs later. */
  start: number;
  lines: number;
  count: number;
  totalMs: number;
  worstMs: number;
  lastEnd: number;
  first: Pick<BlockEvent, 'culprit' | 'cause' | 'thread'> & { route: string | null };
}

export interface FloodOptions {
  /** Lines per fingerprint per interval; 0 disables the limit. */
  limit: number;
  intervalMs: number;
  /** Unix epoch ms of main-thread time 0 (performance.timeOrigin), for the ISO times. */
  timeOrigin: number;
  write(summary: SuppressedSummary): void;
}

export class FloodGate {
  /** Map order is recency: an entry touched by a block moves to the end. */
  readonly #windows = new Map<string, Window>();
  readonly #o: FloodOptions;
  /** Earliest main-thread time a window with suppressed blocks ends (Infinity: none). */
  #nextDue = Infinity;

  constructor(options: FloodOptions) {
    this.#o = options;
  }

  /** Whether this finished block gets its own line (`now`: main-thread ms). Ongoing lines always do. */
  admit(event: BlockEvent, now: number): boolean {
    if (event.ongoing || this.#o.limit <= 0) return true;
    this.flush(now);
    const key = event.fingerprint;
    let w = this.#windows.get(key);
    if (w && now >= w.start + this.#o.intervalMs) {
      // Its interval is over (a window without suppressed blocks is not flushed): a new one.
      if (w.count > 0) this.#summarize(key, w);
      this.#windows.delete(key);
      w = undefined;
    }
    if (w) {
      this.#windows.delete(key);
    } else {
      if (this.#windows.size >= MAX_FINGERPRINTS) this.#evictOldest();
      w = {
        start: now, lines: 0, count: 0, totalMs: 0, worstMs: 0, lastEnd: now,
        first: { culprit: event.culprit, cause: event.cause, thread: event.thread, route: event.context?.route ?? event.context?.job ?? null },
      };
    }
    this.#windows.set(key, w);
    if (w.lines < this.#o.limit) {
      w.lines++;
      return true;
    }
    w.count++;
    w.totalMs += event.durationMs;
    if (event.durationMs > w.worstMs) w.worstMs = event.durationMs;
    w.lastEnd = now;
    if (w.start + this.#o.intervalMs < this.#nextDue) this.#nextDue = w.start + this.#o.intervalMs;
    return false;
  }

  /** Writes the summaries of intervals that have ended, and forgets idle fingerprints. Cheap when none is due. */
  flush(now: number): void {
    if (now < this.#nextDue) {
      this.#forgetIdle(now);
      return;
    }
    let next = Infinity;
    for (const [key, w] of this.#windows) {
      if (now >= w.start + this.#o.intervalMs) {
        if (w.count > 0) this.#summarize(key, w);
        this.#windows.delete(key);
      } else if (w.count > 0 && w.start + this.#o.intervalMs < next) {
        next = w.start + this.#o.intervalMs;
      }
    }
    this.#nextDue = next;
  }

  /** At exit: every pending summary now, interval over or not. */
  flushAll(): void {
    for (const [key, w] of this.#windows) if (w.count > 0) this.#summarize(key, w);
    this.#windows.clear();
    this.#nextDue = Infinity;
  }

  /** Entries held (for tests: bounded by MAX_FINGERPRINTS). */
  get size(): number {
    return this.#windows.size;
  }

  /** Windows without suppressed blocks need no summary: drop them once over, oldest first. */
  #forgetIdle(now: number): void {
    for (const [key, w] of this.#windows) {
      if (now < w.start + this.#o.intervalMs) return;
      if (w.count > 0) return;
      this.#windows.delete(key);
    }
  }

  #evictOldest(): void {
    const first = this.#windows.entries().next();
    if (first.done) return;
    const [key, w] = first.value;
    if (w.count > 0) this.#summarize(key, w);
    this.#windows.delete(key);
  }

  #summarize(key: string, w: Window): void {
    const iso = (t: number): string => new Date(this.#o.timeOrigin + t).toISOString();
    try {
      this.#o.write({
        fingerprint: key, count: w.count, totalMs: Math.round(w.totalMs * 10) / 10, worstMs: w.worstMs,
        since: iso(w.start), until: iso(w.lastEnd), limit: this.#o.limit, intervalMs: this.#o.intervalMs,
        culprit: w.first.culprit, route: w.first.route, cause: w.first.cause, thread: w.first.thread,
      });
    } catch {
      // A failing destination must not stop detection.
    }
  }
}
