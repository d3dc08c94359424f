import type { Frame } from './frames.js';
import { isKnownBlockingCall } from './hints.js';

/** One stack sample taken while a block lasted. */
export interface Sample {
  frames: Frame[];
  /** How long the interrupt waited before the main thread served it (ms). */
  latencyMs: number;
}

/**
 * A sample served this late waited for a long native call (JSON.parse, pbkdf2Sync,
 * readFileSync…) to return to JavaScript. Interrupts on a thread running JavaScript are
 * served in well under 1 ms (measured 0.1–0.4 ms on Node 20); late ones took 0.9–3.6 ms.
 */
export const LATE_SAMPLE_MS = 0.8;

function firstIndex(frames: Frame[], from: number, pick: (f: Frame) => boolean): number {
  for (let i = from; i < frames.length; i++) if (pick(frames[i])) return i;
  return -1;
}

/** Frames eligible as culprit: app frames, else dependency frames (DESIGN: "not node_modules unless nothing else is"). */
function eligible(frames: Frame[]): (f: Frame) => boolean {
  if (frames.some((f) => f.origin === 'app')) return (f) => f.origin === 'app';
  if (frames.some((f) => f.origin === 'dependency')) return (f) => f.origin === 'dependency';
  return (f) => f.origin !== 'loopwatch';
}

/**
 * The frame of one sample that was doing the blocking work.
 *
 * Start from the innermost eligible frame. The interrupt that takes a sample is served at
 * a function-entry or loop back-edge check, so when the innermost frame of the whole
 * stack is at its function's entry, that function has not run yet: it was *just called*.
 * - If that freshly called function is the eligible frame itself (a helper such as a clock
 *   read called from a hot loop), the work belongs to its caller.
 * - If it is a Node internal called by the eligible frame and the sample was served late,
 *   the thread has just come back from a long native call. When a known blocking call
 *   (pbkdf2Sync, readFileSync…) is among those internal frames, the eligible frame is the
 *   one that made it. Otherwise the internals are a cheap helper (a clock read through
 *   performance.now) that the eligible frame called *after* the native call returned, so
 *   the work belongs to the next eligible frame outwards (the loop that calls both).
 * Otherwise the eligible frame is resuming its own code (a back-edge): it is the culprit.
 */
export function sampleCulprit(sample: Sample): number {
  const { frames } = sample;
  if (frames.length === 0) return -1;
  const ok = eligible(frames);
  const k = firstIndex(frames, 0, ok);
  if (k === -1) return -1;
  if (!frames[0].atEntry) return k;
  const helper = k === 0 || (sample.latencyMs >= LATE_SAMPLE_MS && !frames.slice(0, k).some(isKnownBlockingCall));
  if (helper) {
    const outer = firstIndex(frames, k + 1, ok);
    if (outer !== -1) return outer;
  }
  return k;
}

export interface CulpritChoice {
  /** Index into samples of the sample the culprit was taken from (its stack goes in the event). */
  sample: number;
  /** Index of the culprit frame in that sample. */
  frame: number;
  /** How many samples agreed. */
  votes: number;
}

const keyOf = (f: Frame): string => `${f.function}\u0000${f.file}`;

/** Majority vote of the per-sample culprits; ties go to the earliest sample. */
export function chooseCulprit(samples: readonly Sample[]): CulpritChoice | null {
  const tally = new Map<string, CulpritChoice>();
  let best: CulpritChoice | null = null;
  samples.forEach((sample, s) => {
    const i = sampleCulprit(sample);
    if (i === -1) return;
    const key = keyOf(sample.frames[i]);
    let entry = tally.get(key);
    if (!entry) {
      entry = { sample: s, frame: i, votes: 0 };
      tally.set(key, entry);
    }
    entry.votes++;
    if (!best || entry.votes > best.votes) best = entry;
  });
  return best;
}
