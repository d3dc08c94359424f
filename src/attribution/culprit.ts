import type { Frame } from './frames.js';
import { isKnownBlockingCall } from './hints.js';

/** One stack sample taken while a block lasted. */
export interface Sample {
  frames: Frame[];
  /** How long the interrupt waited before the main thread served it (ms). */
  latencyMs: number;
  /** A culprit read from the source when the stack no longer held it (source-hints.ts). */
  inferred?: Frame | null;
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

/** Frames eligible as culprit: app frames, else dependency frames (README, "How the culprit is chosen": dependencies only if no app frame is on the stack). */
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
 * Before all that: when a known blocking library call sits further out than the eligible
 * frame, that frame is a callback of the call, and the call's own caller is the culprit.
 */
export function sampleCulprit(sample: Sample): number {
  const { frames } = sample;
  if (frames.length === 0) return -1;
  const ok = eligible(frames);
  const k = firstIndex(frames, 0, ok);
  if (k === -1) return -1;
  // A known blocking call further out (Array.sort, String.replace, JSON.parse with a reviver)
  // called back into app code (a comparator, a replacer): the work belongs to the app frame
  // that made the call, not to the callback.
  const call = firstIndex(frames, k + 1, isKnownBlockingCall);
  if (call !== -1) {
    const caller = firstIndex(frames, call + 1, ok);
    if (caller !== -1) return caller;
  }
  if (!frames[0].atEntry) return k;
  const helper = k === 0 || (sample.latencyMs >= LATE_SAMPLE_MS && !frames.slice(0, k).some(isKnownBlockingCall));
  if (helper) {
    const outer = firstIndex(frames, k + 1, ok);
    if (outer !== -1) return outer;
  }
  return k;
}

/** The frame of one sample that was doing the blocking work, or null. */
export function culpritFrame(sample: Sample): Frame | null {
  if (sample.inferred) return sample.inferred;
  const i = sampleCulprit(sample);
  return i === -1 ? null : sample.frames[i];
}

export interface CulpritChoice {
  /** Index into samples of the sample the culprit was taken from (its stack goes in the event). */
  sample: number;
  /** The culprit frame (one of that sample's frames, or the frame inferred from its source). */
  frame: Frame;
  /** The weight of the samples that agreed (1 each, 0.5 for a sample read after the work returned). */
  votes: number;
}

/** Frames of the same function in the same file count as one, in the vote and the profile. */
export const keyOf = (f: Frame): string => `${f.function}\u0000${f.file}`;

/**
 * How much a sample's culprit counts in the vote. A late sample served at a fresh call's
 * entry was read after a native call returned, possibly after the function that made it
 * returned too (an optimized loop around JSON.parse has no stack check inside: measured on
 * the demo's /json, the one late sample lands in the next function called); a sample read
 * inside the work outweighs it.
 */
export function sampleWeight(sample: Sample): number {
  return sample.latencyMs >= LATE_SAMPLE_MS && sample.frames[0]?.atEntry && !sample.inferred ? 0.5 : 1;
}

/** Weighted majority vote of the per-sample culprits (sampleWeight); ties go to the earliest sample. */
export function chooseCulprit(samples: readonly Sample[]): CulpritChoice | null {
  const tally = new Map<string, CulpritChoice>();
  let best: CulpritChoice | null = null;
  samples.forEach((sample, s) => {
    const frame = culpritFrame(sample);
    if (!frame) return;
    const key = keyOf(frame);
    let entry = tally.get(key);
    if (!entry) {
      entry = { sample: s, frame, votes: 0 };
      tally.set(key, entry);
    }
    entry.votes += sampleWeight(sample);
    if (!best || entry.votes > best.votes) best = entry;
  });
  return best;
}
