/**
 * Blocks the main thread reports by itself. Its heartbeat sees every block end (the busy
 * time between two beats), but the line and the event come from the watchdog thread, which
 * a process starting among many on a busy machine may not have running yet when it blocks,
 * nor even when it exits: 18 copies started at once on 2 cores, each blocking 150 ms 20 ms
 * after start and then exiting, had their watchdog's first instruction run after the
 * process's exit handler in most copies, and 0-7 of 18 blocks were reported (issue 13).
 * The exiting main thread therefore reports the records nobody claimed, from its own
 * memory: duration, start time and context kind, the same event the watchdog would have
 * made of them (there is no stack to take once a block is over).
 */
import { randomBytes } from 'node:crypto';
import { appendFileSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { fingerprint } from '../attribution/fingerprint.js';
import type { BlockContext, BlockEvent } from '../shared/event.js';
import { LOG_MESSAGE, type LogDestination } from '../exporters/log.js';
import { busyMs, F64, type SharedState, STARTUP_BEAT, type UntrackedRecord } from '../shared/shared-state.js';

export interface UntrackedEventOptions {
  thread: { id: number; name: string };
  thresholdMs: number;
}

/**
 * The event of an untracked block: busy time between the beat before and the beat after,
 * context kind "startup" when it began before the loop turned or before the watchdog ran.
 */
export function untrackedEvent(state: SharedState, r: UntrackedRecord, opts: UntrackedEventOptions): BlockEvent {
  const durationMs = busyMs(r.fromAt, r.fromIdle, r.toAt, r.toIdle);
  const startup = r.toBeat - 1 === STARTUP_BEAT || r.early;
  const context: BlockContext = { kind: startup ? 'startup' : null, method: null, route: null, path: null, job: null, traceId: null, spanId: null };
  return {
    id: randomBytes(8).toString('hex'),
    thread: opts.thread,
    startedAt: new Date(state.f64[F64.TIME_ORIGIN_MS] + r.toAt - durationMs).toISOString(),
    durationMs: Math.round(durationMs * 10) / 10,
    ongoing: false,
    thresholdMs: opts.thresholdMs,
    context,
    culprit: null,
    stack: [],
    hint: null,
    fingerprint: fingerprint(null, context.kind),
    profile: [],
    // Nothing was measured while it lasted: no scheduler or GC readings (watchdog/cause.ts
    // calls a block without them code).
    cause: 'code',
    cpuMs: null,
    gcMs: null,
  };
}

/** The watchdog's line for `event`, byte for byte as its pino logger writes it (tested against pino). */
export function formatBlockLine(event: BlockEvent, time = Date.now()): string {
  return `${JSON.stringify({ level: 40, time, pid: process.pid, hostname: hostname(), name: 'loopwatch', block: event, msg: LOG_MESSAGE })}\n`;
}

/**
 * Writes a line synchronously (the process is exiting) to the destination; a file that
 * cannot take it falls back to stderr, as in the watchdog. Never throws.
 */
export function writeBlockLine(destination: LogDestination, line: string): void {
  if (destination === 'off') return;
  try {
    if (destination === 'stderr' || destination === 'stdout') {
      writeSync(destination === 'stderr' ? 2 : 1, line);
      return;
    }
    try {
      appendFileSync(destination, line);
    } catch {
      writeSync(2, line);
    }
  } catch {
    // stderr itself is gone: nothing left to tell.
  }
}
