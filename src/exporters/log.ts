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
 * The watchdog's logger, created on the first block: loading pino costs ~15 ms of the
 * worker's start-up, during which a block would go unsampled. Synchronous writes: the line
 * must be out before the worker tells an exiting process it may go, and it is written from
 * the worker so it appears even while the main thread is stuck.
 */
export class BlockLog {
  #logger: Logger | null | undefined;
  constructor(private readonly fd: number | null) {}

  write(event: BlockEvent): void {
    if (this.fd === null) return;
    if (this.#logger === undefined) {
      const pino = createRequire(__filename)('pino') as typeof import('pino');
      this.#logger = pino.pino({ name: 'loopwatch', level: 'warn' }, pino.destination({ dest: this.fd, sync: true }));
    }
    this.#logger?.warn({ block: event }, LOG_MESSAGE);
  }
}
