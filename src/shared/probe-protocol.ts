import type { BlockContext } from './event.js';

/**
 * What crosses between the probe (run inside the blocked thread, main-thread/probe.ts) and
 * the watchdog that asks for it (watchdog/capture.ts): the fixed expression and the shape
 * of its JSON answer.
 */

/** Where the probe is installed: a registered symbol, the same for the ESM and CJS copies. */
export const PROBE_KEY = Symbol.for('loopwatch.probe.v1');

/** The expression the worker evaluates. Fixed: no data from the worker is ever evaluated. */
export const PROBE_EXPRESSION = `globalThis[Symbol.for('loopwatch.probe.v1')]?.()`;

/** A raw frame: [function, file, line, column, atEntry]. Compact because it crosses threads as JSON. */
export type RawFrame = [string, string, number, number, 0 | 1];

export interface ProbeResult {
  /** performance.now() of the main thread when the probe ran. */
  at: number;
  /** performance.nodeTiming.idleTime then: no idle time passes inside a block. */
  idle: number;
  frames: RawFrame[];
  context: BlockContext | null;
  /** worker_threads threadId of the thread that ran the probe (0: main). */
  thread?: number;
  /** Why no frames could be taken (the app froze Error.prepareStackTrace, …); absent when they were. */
  failure?: string;
  /** Served while the process emitted 'exit' (process._exiting): the loop has ended. */
  exiting?: boolean;
}
