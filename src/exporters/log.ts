import { openSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Logger } from 'pino';
import type { LogDestination } from '../config.js';
import type { BlockEvent } from '../event.js';

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

/**
 * The watchdog's logger, created during the first block (after its first stack sample) or at
 * its first line: loading pino costs ~15-20 ms and 3-5 MB, which a process that never blocks
 * should not pay, and which would delay the first line if done after the block. Synchronous writes: the line
 * must be out before the worker tells an exiting process it may go, and it is written from
 * the worker so it appears even while the main thread is stuck.
 */
export class BlockLog {
  #logger: Logger | null | undefined;
  constructor(private readonly fd: number | null) {}

  /** Loads pino and opens the logger, once; a no-op when the destination is 'off'. */
  prepare(): void {
    if (this.fd === null || this.#logger !== undefined) return;
    const pino = createRequire(__filename)('pino') as typeof import('pino');
    this.#logger = pino.pino({ name: 'loopwatch', level: 'warn' }, pino.destination({ dest: this.fd, sync: true }));
  }

  write(event: BlockEvent): void {
    this.prepare();
    this.#logger?.warn({ block: event }, LOG_MESSAGE);
  }
}
