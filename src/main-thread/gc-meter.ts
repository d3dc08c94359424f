/**
 * GC time inside a block, for its `cause`. Only while a block is tracked: measured on this
 * project's VM (bench/gc-cost.mjs), a PerformanceObserver for 'gc' entries left on slowed an
 * allocation-heavy loop by 1.94× on Node 20.20 (~1000 small scavenges/s) and 1.11× (~190
 * larger ones/s), 1.01-1.12× on Node 24.22: far over the 1.01× an always-on agent may cost. So the watchdog's first stack capture of a
 * stall also runs GC_START_EXPRESSION inside the blocked thread, which starts an observer;
 * the beat that ends the block schedules a read of its entries (they are delivered only
 * when the loop turns) and the observer is disconnected again. The figures go to the
 * buffer laid out in shared/gc-buffer.ts, which the watchdog reads.
 */
import { type PerformanceEntry, PerformanceObserver } from 'node:perf_hooks';
import { createGcBuffer, GC_F64, GC_I32, GC_KEY, viewGcBuffer } from '../shared/gc-buffer.js';

type GlobalWithGc = typeof globalThis & { [GC_KEY]?: () => void };

/** Main-thread side: the observer started on request, read and stopped after the block. */
export class GcMeter {
  readonly buffer = createGcBuffer();
  readonly #view = viewGcBuffer(this.buffer);
  #observer: PerformanceObserver | null = null;
  #from = 0;
  #ms = 0;
  #to = Infinity;
  #pending = false;
  /** Wakes the watchdog when the figures are written (it waits on the heartbeat's FLAGS slot). */
  readonly #wake: () => void;

  constructor(wake: () => void) {
    this.#wake = wake;
  }

  install(): void {
    (globalThis as GlobalWithGc)[GC_KEY] = this.#start;
  }

  remove(): void {
    const g = globalThis as GlobalWithGc;
    if (g[GC_KEY] === this.#start) delete g[GC_KEY];
    this.#stop();
  }

  /** Runs inside the blocked thread (V8 interrupt): nothing here may throw. */
  readonly #start = (): void => {
    if (this.#observer) return;
    try {
      const observer = new PerformanceObserver((list) => this.#add(list.getEntries()));
      observer.observe({ entryTypes: ['gc'] });
      this.#observer = observer;
      this.#from = performance.now();
      this.#to = Infinity;
      this.#ms = 0;
    } catch {
      this.#observer = null;
    }
  };

  #add(entries: readonly PerformanceEntry[]): void {
    for (const e of entries) {
      if (e.startTime >= this.#from && e.startTime <= this.#to) this.#ms += e.duration;
    }
  }

  /**
   * The heartbeat's hook, after each beat. A beat while the watchdog tracks a stall ends
   * it (`beats`: its BEATS count): the entries of GCs inside the block are queued for
   * delivery by native immediates, and a JS immediate scheduled now runs after them in the
   * next check phase, where takeRecords() has them all, whatever phase the block ran in.
   * Any other beat stops an observer left on (its probe was served after the block ended),
   * so it never outlives a block by more than a beat.
   */
  readonly beat = (stalled: boolean, beats: number, at: number): void => {
    if (!this.#observer || this.#pending) return;
    if (!stalled) {
      this.#stop();
      return;
    }
    this.#pending = true;
    this.#to = at;
    // Ref'd on purpose: an unref'd immediate does not stop the poll phase from waiting for the
    // next timer (or I/O), which can be another block; this one delays an exit by one turn at most.
    setImmediate(() => {
      this.#pending = false;
      try {
        this.#add(this.#observer?.takeRecords() ?? []);
      } catch {
        // Nothing more to read.
      }
      const { i32, f64 } = this.#view;
      f64[GC_F64.FROM] = this.#from;
      f64[GC_F64.TO] = this.#to;
      f64[GC_F64.MS] = this.#ms;
      Atomics.store(i32, GC_I32.SEQ, beats);
      this.#stop();
      this.#wake();
    });
  };

  #stop(): void {
    try {
      this.#observer?.disconnect();
    } catch {
      // Already disconnected.
    }
    this.#observer = null;
  }
}

/** The thread's kernel id (Linux: from /proc/thread-self), or null where it cannot be known. */
export function ownTid(readlink: (path: string) => string): number | null {
  if (process.platform !== 'linux') return null;
  try {
    const m = /\/task\/(\d+)$/.exec(readlink('/proc/thread-self'));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}
