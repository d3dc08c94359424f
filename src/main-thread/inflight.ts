/**
 * Context without AsyncLocalStorage, for Node 20/22 where an ALS turns on promise hooks
 * (measured here: 60 → 170-270 ns per `await` on Node 20, 80 → 255-280 ns on Node 22).
 *
 * The ledger holds the requests and jobs in flight: an entry goes in when a request starts
 * (`http.server.request.start`) or `run()` is called, and comes out when the response
 * finishes or the job's promise settles. Nothing runs per `await`. When a block is
 * captured in code resumed from the microtask queue (after an `await`), the work in flight
 * is what it belongs to: one entry is the answer, several that share a route are too, and
 * otherwise the block names the candidates. Blocks in synchronous handler code keep reading
 * the request from the HTTP parser's async resource, as with `LOOPWATCH_CONTEXT=off`.
 */
import type { ContextStore } from './context.js';

/** How many entries the ledger holds; past it the oldest goes (an abandoned one, in practice). */
export const LEDGER_MAX = 4096;
/** Entries read at capture time; a larger in-flight set is counted, not read. */
export const LEDGER_SCAN = 256;
/** Candidates a block names when its work in flight is ambiguous. */
export const CANDIDATES_MAX = 5;
/** Finished entries kept, for timers a request scheduled and left behind (fire and forget). */
export const RECENT_MAX = 64;
/**
 * A timer's `_idleStart` is the loop's clock in whole ms when it was scheduled; mapped onto
 * performance.now() it lands within ~2 ms of the true time (measured on Node 20-26).
 */
const CLOCK_SLACK_MS = 3;

interface Destroyable {
  destroyed?: unknown;
}

export interface LedgerEntry {
  /** What the entry is keyed by: the request (node:http's IncomingMessage), or a job's store. */
  key: object;
  /** A job's store; a request's is made when first asked for (storeOf), not per request. */
  store: ContextStore | undefined;
  /** The response's socket, for requests: a destroyed one means the client went away. */
  socket?: Destroyable;
  /** performance.now() when the request or job started, and when it finished. */
  startedAt: number;
  endedAt?: number;
}

const now = performance.now.bind(performance);

const LEDGER_KEY = Symbol.for('loopwatch.inflight.v1');

/**
 * One ledger per process, shared by the ESM and CJS copies of the package (the register
 * entry may be CJS while the app imports `loopwatch/koa` as ESM).
 */
export class Ledger {
  readonly #entries = new Map<object, LedgerEntry>();
  readonly #recent: LedgerEntry[] = [];
  #next = 0;
  /** performance.now() minus the loop clock of timers (`_idleStart`), or NaN if unknown. */
  readonly #timerClock = timerClockOffset();
  /** The job whose synchronous part is running (run() in this mode). */
  current: ContextStore | undefined;

  get size(): number {
    return this.#entries.size;
  }

  add(key: object, store: ContextStore | undefined, socket?: Destroyable): void {
    const entries = this.#entries;
    if (entries.size >= LEDGER_MAX) this.#evict();
    entries.set(key, { key, store, socket, startedAt: now(), endedAt: undefined });
  }

  /** The request or job is done: out of the ledger, into the ring of recent ones. */
  finish(key: object): void {
    const entry = this.#entries.get(key);
    if (entry === undefined) return;
    this.#entries.delete(key);
    entry.endedAt = now();
    this.#recent[this.#next] = entry;
    this.#next = (this.#next + 1) % RECENT_MAX;
  }

  get(key: unknown): LedgerEntry | undefined {
    return typeof key === 'object' && key !== null ? this.#entries.get(key) : undefined;
  }

  /** The live entries, newest last, at most LEDGER_SCAN of them, and how many are live in all. */
  live(): { entries: LedgerEntry[]; total: number } {
    const entries: LedgerEntry[] = [];
    let total = 0;
    for (const entry of this.#entries.values()) {
      if (entry.socket?.destroyed === true) continue;
      total++;
      if (entries.length < LEDGER_SCAN) entries.push(entry);
    }
    return { entries, total };
  }

  /**
   * The entries that were in flight when a one-shot timer was scheduled (its `_idleStart`),
   * finished ones included: the work that scheduled it is among them. Empty when the
   * timer's clock is unknown.
   */
  scheduling(idleStart: number): { entries: LedgerEntry[]; total: number } {
    const at = idleStart + this.#timerClock;
    const entries: LedgerEntry[] = [];
    if (!Number.isFinite(at)) return { entries, total: 0 };
    const during = (e: LedgerEntry): boolean =>
      e.startedAt <= at + CLOCK_SLACK_MS && (e.endedAt === undefined ? e.socket?.destroyed !== true : e.endedAt >= at - CLOCK_SLACK_MS);
    for (const entry of this.#entries.values()) {
      if (during(entry) && entries.length < LEDGER_SCAN) entries.push(entry);
    }
    for (const entry of this.#recent) {
      if (during(entry)) entries.push(entry);
    }
    return { entries, total: entries.length };
  }

  /**
   * Requests whose client went away never reach 'finish' and so stay in the map: a full
   * ledger first drops those, then the oldest entries.
   */
  #evict(): void {
    const entries = this.#entries;
    for (const [key, entry] of entries) {
      if (entry.socket?.destroyed === true) entries.delete(key);
    }
    const excess = entries.size - LEDGER_MAX + 1;
    if (excess <= 0) return;
    let n = 0;
    for (const key of entries.keys()) {
      if (n++ >= excess) break;
      entries.delete(key);
    }
  }
}

/** performance.now() minus a timer's `_idleStart` scheduled at the same moment. */
function timerClockOffset(): number {
  const timer = setTimeout(() => undefined, 1) as unknown as { _idleStart?: unknown; unref?: () => void };
  const at = now();
  clearTimeout(timer as unknown as ReturnType<typeof setTimeout>);
  return typeof timer._idleStart === 'number' ? at - timer._idleStart : NaN;
}

/** The entry's store: a job's own, or for a request `{ kind: 'http', req }`, made once. */
export function storeOf(entry: LedgerEntry): ContextStore {
  return (entry.store ??= { kind: 'http', req: entry.key as ContextStore['req'] });
}

type GlobalWithLedger = typeof globalThis & { [LEDGER_KEY]?: Ledger };

export function ledger(): Ledger {
  const g = globalThis as GlobalWithLedger;
  return (g[LEDGER_KEY] ??= new Ledger());
}

/** The ledger if one was made, without making it (the capture reads, never creates). */
export function existingLedger(): Ledger | undefined {
  return (globalThis as GlobalWithLedger)[LEDGER_KEY];
}

/**
 * Runs `fn` as a job in the ledger: its synchronous part is `current`, and the job stays in
 * flight until the promise it returns settles. A rejection passes through unchanged (the
 * returned promise rejects as fn's did, so an unhandled one is still reported as such).
 */
export function runInLedger<R>(store: ContextStore, fn: () => R): R {
  const l = ledger();
  const key = store;
  l.add(key, store);
  const previous = l.current;
  l.current = store;
  let result: R;
  try {
    result = fn();
  } catch (err) {
    l.finish(key);
    throw err;
  } finally {
    l.current = previous;
  }
  if (result instanceof Promise) {
    return result.then(
      (value: unknown) => { l.finish(key); return value; },
      (err: unknown) => { l.finish(key); throw err; },
    ) as R;
  }
  const then = (result as { then?: unknown } | null)?.then;
  if (typeof then === 'function') {
    // A foreign thenable: followed by a promise of ours, which nobody else sees.
    Promise.resolve(result).then(() => l.finish(key), () => l.finish(key));
  } else {
    l.finish(key);
  }
  return result;
}

interface CallSiteLike {
  getFileName(): string | null | undefined;
  getFunctionName(): string | null;
  isAsync?(): boolean;
}

/** Node's functions that run queued microtasks and nextTick callbacks. */
const QUEUE_RUNNERS = new Set(['processTicksAndRejections', 'runNextTicks', 'runMicrotasks']);

/**
 * Whether the blocked code was resumed from the microtask or nextTick queue (after an
 * `await`, in a `.then` callback) rather than called by a callback of Node's own (a timer,
 * an immediate, an I/O event, a request's parser), told from the synchronous part of its
 * stack: below the outermost frame of app (or library) code there is nothing, or only Node's
 * queue runner. null when the stack was cut off before its bottom (`limit` frames).
 */
export function resumedFromQueue(sites: readonly CallSiteLike[], limit: number): boolean | null {
  let sync = 0;
  let outermost = -1;
  for (const cs of sites) {
    if (cs.isAsync?.() === true) break;
    const file = cs.getFileName() ?? '';
    if (file !== '' && !file.startsWith('node:')) outermost = sync;
    sync++;
  }
  if (outermost === -1) return false;
  if (outermost === sync - 1) return sync === sites.length && sites.length >= limit ? null : true;
  return QUEUE_RUNNERS.has(sites[outermost + 1].getFunctionName() ?? '');
}
