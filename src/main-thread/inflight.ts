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

/** A request as the ledger reads it: its socket tells whether the client went away. */
interface RequestLike {
  socket?: { destroyed?: unknown } | null;
}

/** What the capture reads of an entry, made at capture time (never per request). */
export interface LedgerEntry {
  /** The request (node:http's IncomingMessage), or a job's store. */
  key: object;
  store: ContextStore;
}

const now = performance.now.bind(performance);

/** Whole ms since the process started: a small integer, so storing it allocates nothing. */
function stamp(): number {
  return Math.floor(now());
}

/** Whether a request's client went away (its socket is destroyed); never true for a job. */
function gone(key: object): boolean {
  return (key as RequestLike).socket?.destroyed === true;
}

const LEDGER_KEY = Symbol.for('loopwatch.inflight.v1');

/**
 * One ledger per process, shared by the ESM and CJS copies of the package (the register
 * entry may be CJS while the app imports `loopwatch/koa` as ESM). The per-request path
 * (add, finish) allocates nothing: a map from request to its start stamp, and a ring of
 * parallel arrays for the finished ones. Stores are made when a capture or an integration
 * asks for one.
 */
export class Ledger {
  /** Work in flight: key → start stamp (ms). */
  readonly #started = new Map<object, number>();
  /** Stores of jobs, and of requests an integration or a capture asked about. */
  readonly #stores = new WeakMap<object, ContextStore>();
  readonly #recentKeys: (object | undefined)[] = new Array<object | undefined>(RECENT_MAX).fill(undefined);
  readonly #recentStart = new Float64Array(RECENT_MAX);
  readonly #recentEnd = new Float64Array(RECENT_MAX);
  #next = 0;
  /** performance.now() minus the loop clock of timers (`_idleStart`), or NaN if unknown. */
  readonly #timerClock = timerClockOffset();
  /** The job whose synchronous part is running (run() in this mode). */
  current: ContextStore | undefined;

  get size(): number {
    return this.#started.size;
  }

  add(key: object, store?: ContextStore): void {
    const started = this.#started;
    if (started.size >= LEDGER_MAX) this.#evict();
    started.set(key, stamp());
    if (store !== undefined) this.#stores.set(key, store);
  }

  /** The request or job is done: out of the ledger, into the ring of recent ones. */
  finish(key: object): void {
    const startedAt = this.#started.get(key);
    if (startedAt === undefined) return;
    this.#started.delete(key);
    const i = this.#next;
    this.#recentKeys[i] = key;
    this.#recentStart[i] = startedAt;
    this.#recentEnd[i] = stamp();
    this.#next = (i + 1) % RECENT_MAX;
  }

  /** Whether this request or job is in flight. */
  has(key: unknown): boolean {
    return typeof key === 'object' && key !== null && this.#started.has(key);
  }

  /** The store of a key in flight (a request's is made now, once), or undefined. */
  storeFor(key: unknown): ContextStore | undefined {
    if (!this.has(key)) return undefined;
    return this.#storeOf(key as object);
  }

  #storeOf(key: object): ContextStore {
    let store = this.#stores.get(key);
    if (store === undefined) {
      store = { kind: 'http', req: key as ContextStore['req'] };
      this.#stores.set(key, store);
    }
    return store;
  }

  /** The live entries, oldest first, at most LEDGER_SCAN of them, and how many are live in all. */
  live(): { entries: LedgerEntry[]; total: number } {
    const entries: LedgerEntry[] = [];
    let total = 0;
    for (const key of this.#started.keys()) {
      if (gone(key)) continue;
      total++;
      if (entries.length < LEDGER_SCAN) entries.push({ key, store: this.#storeOf(key) });
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
    for (const [key, startedAt] of this.#started) {
      if (startedAt <= at + CLOCK_SLACK_MS && !gone(key) && entries.length < LEDGER_SCAN) entries.push({ key, store: this.#storeOf(key) });
    }
    for (let i = 0; i < RECENT_MAX; i++) {
      const key = this.#recentKeys[i];
      if (key === undefined) continue;
      if (this.#recentStart[i] <= at + CLOCK_SLACK_MS && this.#recentEnd[i] >= at - CLOCK_SLACK_MS) entries.push({ key, store: this.#storeOf(key) });
    }
    return { entries, total: entries.length };
  }

  /**
   * Requests whose client went away never reach 'finish' and so stay in the map: a full
   * ledger first drops those, then the oldest entries.
   */
  #evict(): void {
    const started = this.#started;
    for (const key of started.keys()) {
      if (gone(key)) started.delete(key);
    }
    const excess = started.size - LEDGER_MAX + 1;
    if (excess <= 0) return;
    let n = 0;
    for (const key of started.keys()) {
      if (n++ >= excess) break;
      started.delete(key);
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
