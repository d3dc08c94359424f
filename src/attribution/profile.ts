import { culpritFrame, keyOf, type Sample } from './culprit.js';

/** Where a share of a block's time went: the app function running then, and its share of the block. */
export interface ProfileEntry {
  function: string;
  file: string;
  /** The line the function was seen at in its first sample. */
  line: number;
  /** Fraction of the block's duration, 0–1, rounded down to 0.01 so that shares sum to ≤ 1. */
  share: number;
}

/** Entries kept in an event: the rest are the smallest and are left out (their share too). */
export const PROFILE_ENTRIES = 8;

/**
 * Splits a block's time between the functions its samples caught running (each sample's
 * culprit frame, src/attribution/culprit.ts). Samples are not evenly spaced (the first is
 * taken when the stall is confirmed, the watchdog thins and widens them as a block goes on),
 * so each sample stands for the time nearer to it than to its neighbours: from the block's
 * start to halfway to the next sample for the first, up to the block's end for the last.
 * Samples without a culprit frame keep their time unassigned, so shares sum to ≤ 1.
 */
export function computeProfile(samples: readonly (Sample & { at: number })[], start: number, end: number): ProfileEntry[] {
  const total = end - start;
  if (samples.length === 0 || !(total > 0)) return [];
  const order = [...samples].sort((a, b) => a.at - b.at);
  const byKey = new Map<string, { entry: ProfileEntry; ms: number }>();
  for (let i = 0; i < order.length; i++) {
    const s = order[i];
    const from = i === 0 ? start : (order[i - 1].at + s.at) / 2;
    const to = i === order.length - 1 ? end : (s.at + order[i + 1].at) / 2;
    const ms = Math.max(0, Math.min(to, end) - Math.max(from, start));
    const f = culpritFrame(s);
    if (!f || ms === 0) continue;
    const key = keyOf(f);
    let slot = byKey.get(key);
    if (!slot) {
      slot = { entry: { function: f.function, file: f.file, line: f.line, share: 0 }, ms: 0 };
      byKey.set(key, slot);
    }
    slot.ms += ms;
  }
  return [...byKey.values()]
    .sort((a, b) => b.ms - a.ms)
    .slice(0, PROFILE_ENTRIES)
    .map(({ entry, ms }) => ({ ...entry, share: Math.floor((ms / total) * 100 + 1e-9) / 100 }))
    .filter((e) => e.share > 0);
}
