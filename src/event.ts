import type { StackFrame } from './attribution/frames.js';
import type { ProfileEntry } from './attribution/profile.js';
import type { BlockContext } from './context.js';

/** The block event: the log line's `block` field and the payload of `monitor.on('block')`. Contract: README, "The block event". */
export interface BlockEvent {
  id: string;
  thread: { id: number; name: string };
  /** ISO time the block began. */
  startedAt: string;
  durationMs: number;
  /** true on lines written while the block is still going on. */
  ongoing: boolean;
  thresholdMs: number;
  context: BlockContext;
  /** The app frame that was running the blocking work, or null when no stack could be taken. */
  culprit: { function: string; file: string; line: number; column: number } | null;
  stack: StackFrame[];
  hint: string | null;
  fingerprint: string;
  /** Where the block's time went, from its stack samples: largest share first, shares sum to ≤ 1. */
  profile: ProfileEntry[];
}

/** Messages between the agent and its worker, keyed by `code`. */
export type WorkerMessage =
  | { code: 'block'; event: BlockEvent }
  | { code: 'warning'; key: string; warning: 'NO_INSPECTOR' | 'CAPTURE_FAILED' | 'LOG_DESTINATION' | 'WORKER_FAILED' | 'PROMETHEUS_ENDPOINT'; message: string };
