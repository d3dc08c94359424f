import type { StackFrame } from '../attribution/frames.js';
import type { ProfileEntry } from '../attribution/profile.js';

/** The test a block ran in. `file` is relative to the app's cwd in the event. */
export interface TestInfo {
  file: string | null;
  name: string;
}

/** The context as it appears in a block event. */
export interface BlockContext {
  kind: string | null;
  method: string | null;
  route: string | null;
  path: string | null;
  job: string | null;
  traceId: string | null;
  spanId: string | null;
  /** The test the block ran in; only present in a test runner's processes (integrations/test-runners.ts). */
  test?: TestInfo;
  /**
   * Requests and jobs in flight when the context was inferred from them (`context: true` on
   * Node 20/22, or 'inflight'): present only for a block resumed after an `await`.
   */
  inFlight?: number;
  /** What those were, when they were not all the same route or job: "GET /users/:id", at most 5. */
  candidates?: string[];
}

/** Why a block stalled the loop (watchdog/cause.ts tells it). */
export type BlockCause = 'code' | 'native' | 'gc' | 'starved';

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
  /**
   * Why the loop stalled: `code` (on CPU), `native` (asleep in a native call or syscall:
   * execSync, Atomics.wait, slow sync I/O), `gc` (garbage collection) or `starved` (runnable
   * but not running: CPU limit, other load). README, "How the cause is told".
   */
  cause: BlockCause;
  /** On-CPU time of the blocked thread during the block (ms), or null where it cannot be read (not Linux). */
  cpuMs: number | null;
  /** GC pause time inside the block (ms), or null when it was not measured. */
  gcMs: number | null;
}

/** Messages between the agent and its worker, keyed by `code`. */
export type WorkerMessage =
  | { code: 'block'; event: BlockEvent }
  | { code: 'warning'; key: string; warning: 'NO_INSPECTOR' | 'CAPTURE_FAILED' | 'LOG_DESTINATION' | 'WORKER_FAILED' | 'PROMETHEUS_ENDPOINT'; message: string };
