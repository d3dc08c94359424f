/**
 * Waiting on things outside the test process: a free loopback port, and an asynchronous
 * check (an HTTP query) polled to a deadline.
 */
import { once } from 'node:events';
import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

/** A port nobody listens on right now (bound on 127.0.0.1 and released). */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  await once(server, 'close');
  return port;
}

/**
 * Polls an asynchronous check (an HTTP query) until it returns something other than
 * undefined/false, or throws past the deadline saying what it waited for. Errors of a
 * single attempt (a query before the first scrape) count as "not yet".
 */
export async function pollUntil<T>(
  check: () => Promise<T | undefined | false>,
  opts: { timeoutMs: number; what: string; intervalMs?: number },
  diagnose?: () => string,
): Promise<T> {
  const deadline = performance.now() + opts.timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value;
    } catch (err) {
      lastError = err;
    }
    if (performance.now() >= deadline) {
      const why = lastError ? `\nlast error: ${(lastError as Error).message}` : '';
      throw new Error(`timed out after ${opts.timeoutMs} ms waiting for ${opts.what}${why}${diagnose ? `\n${diagnose()}` : ''}`);
    }
    await sleep(opts.intervalMs ?? 250);
  }
}

