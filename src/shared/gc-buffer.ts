/**
 * The GC figures of a block, shared by the main thread's GC meter (main-thread/gc-meter.ts,
 * the writer) and the watchdog (the reader), in a small buffer of their own so the
 * heartbeat's layout stays as it is:
 *   I32[SEQ]   BEATS count of the recovery beat whose GC figures are in F64 (0: none yet)
 *   F64[FROM]  performance.now() when the observer started (inside the block)
 *   F64[TO]    the recovery beat's time: pauses that began later are left out
 *   F64[MS]    GC pause time observed in [FROM, TO]
 */

/** Where the GC meter's start function is installed: a registered symbol, like the probe's. */
export const GC_KEY = Symbol.for('loopwatch.gc.v1');

/** Evaluated in the blocked thread with the first probe of a stall. Fixed text, like the probe. */
export const GC_START_EXPRESSION = `globalThis[Symbol.for('loopwatch.gc.v1')]?.()`;

export const GC_I32 = { SEQ: 0 } as const;
export const GC_F64 = { FROM: 0, TO: 1, MS: 2 } as const;
const I32_BYTES = 8;
const F64_SLOTS = 3;

export interface GcView {
  readonly i32: Int32Array;
  readonly f64: Float64Array;
}

export function createGcBuffer(): SharedArrayBuffer {
  return new SharedArrayBuffer(I32_BYTES + F64_SLOTS * 8);
}

export function viewGcBuffer(buffer: SharedArrayBuffer): GcView {
  return { i32: new Int32Array(buffer, 0, 2), f64: new Float64Array(buffer, I32_BYTES, F64_SLOTS) };
}
