import pino, { type Logger } from 'pino';
import type { LogDestination } from '../config.js';
import type { BlockEvent } from '../event.js';

export const LOG_MESSAGE = 'event loop blocked';

/**
 * The watchdog's own logger. Synchronous writes: the line must be on disk or on the pipe
 * before the worker tells an exiting process it may go, and it is written from the worker
 * so it appears even while the main thread is stuck.
 */
export function createBlockLogger(destination: LogDestination): Logger | null {
  if (destination === 'off') return null;
  const dest =
    destination === 'stderr'
      ? pino.destination({ dest: 2, sync: true })
      : destination === 'stdout'
        ? pino.destination({ dest: 1, sync: true })
        : pino.destination({ dest: destination, sync: true, append: true, mkdir: true });
  return pino({ name: 'loopwatch', level: 'warn' }, dest);
}

export function logBlock(logger: Logger | null, event: BlockEvent): void {
  logger?.warn({ block: event }, LOG_MESSAGE);
}
