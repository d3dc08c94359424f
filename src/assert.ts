/**
 * `assertNoBlock(fn, { budgetMs })`, for test authors: runs `fn` (sync or async) and
 * rejects with the culprit and stack of every block of at least `budgetMs` that overlapped
 * the call. Uses the running agent, or starts one (log off) whose threshold is the budget.
 */
import { isMainThread } from 'node:worker_threads';
import { current, type Monitor, SETTLE, start, WATCHING } from './agent.js';
import { checkNumber, LIMITS } from './config.js';
import { describe, ERROR_CODES, LoopwatchError, LoopwatchRangeError, LoopwatchTypeError } from './errors.js';
import type { BlockEvent } from './shared/event.js';

export interface NoBlockOptions {
  /** Longest block allowed, in ms. Default: the running agent's threshold (50 without one). */
  budgetMs?: number;
}

/** What assertNoBlock rejects with: `blocks` are the events over budget, longest first. */
export class LoopwatchBlockedError extends LoopwatchError {
  static override readonly brand: string = 'LoopwatchBlockedError';
  readonly blocks: BlockEvent[];
  readonly budgetMs: number;
  constructor(blocks: BlockEvent[], budgetMs: number) {
    super(ERROR_CODES.BLOCKED, blockedMessage(blocks, budgetMs));
    this.name = 'LoopwatchBlockedError';
    this.blocks = blocks;
    this.budgetMs = budgetMs;
  }
}

const STACK_FRAMES = 8;

function blockedMessage(blocks: BlockEvent[], budgetMs: number): string {
  const worst = blocks[0];
  const c = worst.culprit;
  const lines = [
    `blocked the event loop for ${worst.durationMs.toFixed(1)} ms (budget ${budgetMs} ms)${c ? ` in ${c.function} (${c.file}:${c.line})` : ', no stack captured'}` +
      (blocks.length > 1 ? `; ${blocks.length - 1} more block${blocks.length > 2 ? 's' : ''} over budget` : ''),
  ];
  if (worst.hint) lines.push(`hint: ${worst.hint}`);
  for (const f of worst.stack.slice(0, STACK_FRAMES)) lines.push(`    at ${f.function} (${f.file}:${f.line}:${f.column})`);
  return lines.join('\n');
}

function monitorFor(budgetMs: number | undefined): Monitor {
  const running = current();
  if (running) {
    if (budgetMs !== undefined && budgetMs < running.config.thresholdMs) {
      throw new LoopwatchRangeError(
        `options.budgetMs must be >= the running agent's threshold (${running.config.thresholdMs} ms), got ${budgetMs}: blocks shorter than the threshold are not detected (lower LOOPWATCH_THRESHOLD_MS or start({ thresholdMs }))`,
      );
    }
    return running;
  }
  if (!isMainThread) {
    throw new LoopwatchError(ERROR_CODES.NOT_STARTED, 'assertNoBlock in a worker thread needs the agent running there (LOOPWATCH_WORKER_THREADS=on with loopwatch/register)');
  }
  return start({ thresholdMs: budgetMs ?? 50, log: 'off' });
}

/**
 * Runs `fn` and resolves with its result, or rejects with a LoopwatchBlockedError when a
 * block of at least `budgetMs` overlapped the call (including the synchronous code around
 * the call in the same tick). An error thrown by `fn` is passed on as it is.
 */
export async function assertNoBlock<T>(fn: () => T | PromiseLike<T>, options: NoBlockOptions = {}): Promise<Awaited<T>> {
  if (typeof fn !== 'function') throw new LoopwatchTypeError(`fn must be a function, got ${describe(fn)}`);
  if (options === null || typeof options !== 'object') throw new LoopwatchTypeError(`options must be an object, got ${describe(options)}`);
  const budgetMs = options.budgetMs === undefined ? undefined : checkNumber('budgetMs', options.budgetMs, LIMITS.thresholdMs.min, LIMITS.thresholdMs.max, false);
  const monitor = monitorFor(budgetMs);
  const budget = budgetMs ?? monitor.config.thresholdMs;
  const seen: BlockEvent[] = [];
  const listener = (event: BlockEvent): void => {
    seen.push(event);
  };
  monitor.on('block', listener);
  const internals = monitor as Monitor & { [SETTLE]?: () => Promise<void>; [WATCHING]?: () => Promise<void> };
  // A watchdog just started has no thread yet: a block before it runs would have no stack.
  await internals[WATCHING]?.();
  const wall = (): number => performance.timeOrigin + performance.now();
  const from = wall();
  try {
    const result = await fn();
    const to = wall();
    await internals[SETTLE]?.();
    const over = seen
      .filter((e) => {
        const began = Date.parse(e.startedAt);
        return e.durationMs >= budget && began <= to && began + e.durationMs >= from;
      })
      .sort((a, b) => b.durationMs - a.durationMs);
    if (over.length) throw new LoopwatchBlockedError(over, budget);
    return result;
  } finally {
    monitor.off('block', listener);
  }
}
