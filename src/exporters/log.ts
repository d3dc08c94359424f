import { openSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Logger } from 'pino';
import type { BlockEvent } from '../shared/event.js';

/** Where block lines go: 'stderr', 'stdout', 'off' or a file path (appended JSONL). */
export type LogDestination = 'stderr' | 'stdout' | 'off' | (string & {});

export const LOG_MESSAGE = 'event loop blocked';

/**
 * Opens the destination at once, so a bad path is reported when the agent starts: a file
 * descriptor, or null for 'off'. Throws with the reason. The folder must exist: a recursive
 * mkdir spins forever on some paths (under /proc it alternates ENOENT and EEXIST, measured
 * on Node 20), and a watchdog must never spin.
 */
export function openDestination(destination: LogDestination): number | null {
  if (destination === 'off') return null;
  if (destination === 'stderr') return 2;
  if (destination === 'stdout') return 1;
  return openSync(destination, 'a');
}

/** The fallback when a file destination cannot be opened or written: a monitor must not go silent. */
export const FALLBACK_FD = 2;

/**
 * The watchdog's logger, created during the first block (after its first stack sample) or at
 * its first line: loading pino costs ~15-20 ms and 3-5 MB, which a process that never blocks
 * should not pay, and which would delay the first line if done after the block. Synchronous writes: the line
 * must be out before the worker tells an exiting process it may go, and it is written from
 * the worker so it appears even while the main thread is stuck.
 *
 * A file that fails a write (disk full, a file system gone read-only, a path like /proc that
 * opens but takes no writes) is given up for stderr, with `onFallback` called once, and the
 * line is written again there: dropping every later line, ongoing ones included, would hide
 * exactly the blocks the log is for (issue 13).
 */
export class BlockLog {
  #logger: Logger | undefined;
  #fd: number | null;

  constructor(fd: number | null, private readonly onFallback: (reason: string) => void = () => undefined) {
    this.#fd = fd;
  }

  /** Loads pino and opens the logger, once; null when the destination is 'off'. */
  prepare(): Logger | null {
    if (this.#fd === null) return null;
    if (this.#logger) return this.#logger;
    const pino = createRequire(__filename)('pino') as typeof import('pino');
    this.#logger = pino.pino({ name: 'loopwatch', level: 'warn' }, pino.destination({ dest: this.#fd, sync: true }));
    return this.#logger;
  }

  write(event: BlockEvent): void {
    try {
      this.prepare()?.warn({ block: event }, LOG_MESSAGE);
    } catch (err) {
      if (this.#fd === FALLBACK_FD || this.#fd === 1) throw err;
      this.#fd = FALLBACK_FD;
      this.#logger = undefined;
      this.onFallback((err as Error)?.message ?? String(err));
      this.prepare()?.warn({ block: event }, LOG_MESSAGE);
    }
  }
}
