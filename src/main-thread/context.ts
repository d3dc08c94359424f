import { AsyncLocalStorage, executionAsyncResource } from 'node:async_hooks';
import diagnosticsChannel from 'node:diagnostics_channel';
import type { IncomingMessage } from 'node:http';
import { describe, LoopwatchTypeError } from '../errors.js';
import { expressRoute, type ExpressRequestLike } from '../../integrations/express.js';
import { FASTIFY_HANDLER_START, fastifyRoute } from '../../integrations/fastify.js';
import { type KoaContextLike, koaRoute } from '../../integrations/koa-route.js';
import { currentTest } from '../../integrations/test-runners.js';
import type { BlockContext } from '../shared/event.js';
import { splitNodeOptions } from '../node-options.js';
import { CANDIDATES_MAX, existingLedger, type LedgerEntry, ledger, runInLedger } from './inflight.js';
import { activeSpanRequest } from './otel-global.js';
import { pathOf } from './path.js';

/** What integrations and `run()` put into the context store. Mutable, so integrations can fill it in late. */
export interface ContextStore {
  kind: string;
  /** The request object; method and path are read from it only when a block is captured. */
  req?: IncomingMessage;
  method?: string;
  path?: string;
  route?: string;
  job?: string;
  traceId?: string;
  spanId?: string;
  /** Called at capture time to fill fields that are known only after routing. */
  resolve?: (store: ContextStore) => void;
  /** A Koa context (set by `loopwatch/koa`): @koa/router leaves the matched template on it. */
  koa?: KoaContextLike;
}

export type { KoaContextLike };

/** Accepted by `run()`. */
export interface RunContext {
  kind?: string;
  name?: string;
  route?: string;
  method?: string;
  traceId?: string;
  spanId?: string;
}

const ALS_KEY = Symbol.for('loopwatch.context.v1');
type GlobalWithAls = typeof globalThis & { [ALS_KEY]?: AsyncLocalStorage<ContextStore> };

/**
 * One store per process, shared by the ESM and CJS copies of the package. Creating it
 * costs nothing on Node 20/22 until it is first entered (that is when promise hooks
 * turn on), and nothing on Node >= 24 (AsyncContextFrame).
 */
export function contextStorage(): AsyncLocalStorage<ContextStore> {
  const g = globalThis as GlobalWithAls;
  return (g[ALS_KEY] ??= new AsyncLocalStorage<ContextStore>());
}

/**
 * How context is kept: `als`, an AsyncLocalStorage store per request and job (exact through
 * every `await`; free on Node >= 24 and on Node 22 with --experimental-async-context-frame,
 * promise hooks elsewhere); `inflight`, the ledger of work in flight (inflight.ts: no cost
 * per `await`); `off`, neither for requests (run() still names its jobs' synchronous part).
 */
export type ContextMode = 'als' | 'inflight' | 'off';

/** The `context` option: `true` picks `als` where it is free and `inflight` elsewhere. */
export type ContextOption = boolean | 'als' | 'inflight';

const MODE_KEY = Symbol.for('loopwatch.context.mode.v1');
type GlobalWithMode = typeof globalThis & { [MODE_KEY]?: ContextMode };

/** Whether this flag is on the command line or in NODE_OPTIONS. */
function nodeFlag(flag: string): boolean {
  if (process.execArgv.includes(flag)) return true;
  const options = process.env.NODE_OPTIONS;
  return options !== undefined && options.includes(flag) && splitNodeOptions(options).includes(flag);
}

/**
 * Whether an AsyncLocalStorage costs nothing per `await` here: Node keeps its stores in
 * V8's continuation-preserved embedder data (AsyncContextFrame) by default since Node 24,
 * and on Node 22 behind --experimental-async-context-frame; elsewhere it turns on promise
 * hooks (bench: 60 → 170-270 ns per await on Node 20).
 */
export function asyncContextFrame(version: string = process.versions.node): boolean {
  const major = Number(version.split('.')[0]);
  if (major >= 24) return !nodeFlag('--no-async-context-frame');
  if (major === 22) return nodeFlag('--experimental-async-context-frame');
  return false;
}

/** The mode an option value means on this Node. */
export function contextModeFor(option: ContextOption): ContextMode {
  if (option === false) return 'off';
  if (option === true) return asyncContextFrame() ? 'als' : 'inflight';
  return option;
}

/** What the default means here: the flags cannot change while the process runs. */
let defaultMode: ContextMode | undefined;

/** The mode in use: the started agent's, or what the default means here before one starts. */
export function contextMode(): ContextMode {
  return (globalThis as GlobalWithMode)[MODE_KEY] ?? (defaultMode ??= contextModeFor(true));
}

function setContextMode(mode: ContextMode): void {
  (globalThis as GlobalWithMode)[MODE_KEY] = mode;
}

const REQUEST_START = 'http.server.request.start';
const RESPONSE_FINISH = 'http.server.response.finish';

interface RequestMessage {
  request?: IncomingMessage;
}

/**
 * Sets the process's context mode, and for 'als' and 'inflight' subscribes the zero-code
 * request context for node:http and every framework on top of it, with the route template
 * of Fastify requests (Express's is read from `req` when a block is captured). Returns the
 * unsubscribe.
 */
export function startContext(mode: ContextMode): () => void {
  setContextMode(mode);
  if (mode === 'off') return () => undefined;
  const subscriptions = mode === 'als' ? alsSubscribers() : inflightSubscribers();
  for (const [channel, fn] of subscriptions) diagnosticsChannel.subscribe(channel, fn);
  return () => {
    for (const [channel, fn] of subscriptions) diagnosticsChannel.unsubscribe(channel, fn);
  };
}

type Subscriber = (message: unknown) => void;

function alsSubscribers(): Array<[string, Subscriber]> {
  // Looked up once: these subscribers run on every request.
  const als = contextStorage();
  const onRequestStart: Subscriber = (message) => {
    const req = (message as RequestMessage).request;
    // enterWith: the subscriber runs synchronously right before the server emits 'request',
    // so the handler and everything it schedules inherit this store.
    if (req) als.enterWith({ kind: 'http', req });
  };
  const onFastifyHandler: Subscriber = (message) => {
    const store = als.getStore();
    if (store === undefined || store.req === undefined) return;
    const route = fastifyRoute(message, store.req);
    if (route !== undefined) store.route = route;
  };
  return [[REQUEST_START, onRequestStart], [FASTIFY_HANDLER_START, onFastifyHandler]];
}

function inflightSubscribers(): Array<[string, Subscriber]> {
  const l = ledger();
  const onRequestStart: Subscriber = (message) => {
    const req = (message as RequestMessage).request;
    if (req) l.add(req);
  };
  // 'finish' only: a request whose client went away stays until the ledger drops it
  // (its socket is destroyed, which the capture and the ledger's eviction both check).
  const onResponseFinish: Subscriber = (message) => {
    const req = (message as RequestMessage).request;
    if (req) l.finish(req);
  };
  const onFastifyHandler: Subscriber = (message) => {
    const store = l.storeFor((message as { request?: { raw?: unknown } }).request?.raw);
    if (store === undefined) return;
    const route = fastifyRoute(message, store.req);
    if (route !== undefined) store.route = route;
  };
  return [[REQUEST_START, onRequestStart], [RESPONSE_FINISH, onResponseFinish], [FASTIFY_HANDLER_START, onFastifyHandler]];
}

/**
 * The store a Koa context's request has, in either mode (loopwatch/koa links the two):
 * only this very request's store, never an outer one.
 */
export function requestStore(req: unknown): ContextStore | undefined {
  // The ledger's store of a request is that request's own.
  if (contextMode() !== 'als') return existingLedger()?.storeFor(req);
  // The active store may be an outer one (a job's, or another request's).
  const store = contextStorage().getStore();
  return store?.req !== undefined && store.req === req ? store : undefined;
}

/**
 * Runs `fn` with a context, for jobs, queue consumers and cron tasks:
 * `run({ kind: 'job', name: 'send-invoices' }, () => sendInvoices())`.
 * Works whether or not the agent has started.
 */
export function run<R>(context: RunContext, fn: () => R): R {
  if (context === null || typeof context !== 'object') {
    throw new LoopwatchTypeError(`context must be an object, got ${describe(context)}`);
  }
  if (typeof fn !== 'function') {
    throw new LoopwatchTypeError(`fn must be a function, got ${describe(fn)}`);
  }
  for (const key of ['kind', 'name', 'route', 'method', 'traceId', 'spanId'] as const) {
    const v = context[key];
    if (v !== undefined && typeof v !== 'string') {
      throw new LoopwatchTypeError(`context.${key} must be a string, got ${describe(v)}`);
    }
  }
  const store: ContextStore = { kind: context.kind ?? 'job' };
  if (context.name !== undefined) store.job = context.name;
  if (context.route !== undefined) store.route = context.route;
  if (context.method !== undefined) store.method = context.method;
  if (context.traceId !== undefined) store.traceId = context.traceId;
  if (context.spanId !== undefined) store.spanId = context.spanId;
  return contextMode() === 'als' ? contextStorage().run(store, fn) : runInLedger(store, fn);
}

function fromRequest(kind: string, req: IncomingMessage | undefined, out: BlockContext): void {
  out.kind = kind;
  if (req) {
    out.method = typeof req.method === 'string' ? req.method : null;
    out.path = pathOf(req.url);
    try {
      const r = req as IncomingMessage & ExpressRequestLike;
      // Express strips the mount path from req.url inside routers and keeps the original.
      if (typeof r.originalUrl === 'string') out.path = pathOf(r.originalUrl);
      out.route = expressRoute(r);
    } catch {
      // A getter or proxy on a framework's request threw: what was read stays.
    }
  }
}

function fromKoa(ctx: KoaContextLike, out: BlockContext): void {
  try {
    const { route, url } = koaRoute(ctx);
    out.route = route;
    if (url !== undefined) out.path = pathOf(url);
  } catch {
    // A getter or proxy threw: what was read stays.
  }
}

/**
 * A Node timer object (`Timeout`): what a setTimeout/setInterval callback runs in. Tested
 * by its own fields' presence, not their values: clearInterval() inside the callback
 * nulls `_onTimeout` and sets `_idleTimeout` to -1.
 */
function isTimer(resource: object | undefined): boolean {
  return resource !== undefined && '_onTimeout' in resource && '_idleTimeout' in resource && '_repeat' in resource;
}

function fromStore(store: ContextStore, out: BlockContext): void {
  if (store.resolve) {
    try { store.resolve(store); } catch { /* an integration's resolver must not break capture */ }
  }
  fromRequest(store.kind, store.req, out);
  if (store.koa) fromKoa(store.koa, out);
  if (store.method !== undefined) out.method = store.method;
  if (store.path !== undefined) out.path = store.path;
  if (store.route !== undefined) out.route = store.route;
  out.job = store.job ?? null;
  out.traceId = store.traceId ?? null;
  out.spanId = store.spanId ?? null;
}

function emptyContext(): BlockContext {
  return { kind: null, method: null, route: null, path: null, job: null, traceId: null, spanId: null };
}

/** What a candidate is called in `context.candidates`: "GET /users/:id", "job send-invoices". */
function candidateName(c: BlockContext): string {
  const what = c.route ?? c.job ?? c.path ?? '?';
  return c.method ? `${c.method} ${what}` : `${c.kind ?? '?'} ${what}`;
}

/** The fields all of `read` agree on (the others null): one request, or one route. */
function shared(read: BlockContext[], out: BlockContext): true {
  const [first] = read;
  for (const key of ['kind', 'method', 'route', 'path', 'job', 'traceId', 'spanId'] as const) {
    out[key] = read.every((c) => c[key] === first[key]) ? first[key] : null;
  }
  return true;
}

/**
 * The work in flight a block belongs to (of those given: in flight now, or when its timer
 * was scheduled): the one entry,
 * or the one route all entries share (fields they differ in are left null), or else the
 * candidates' names. False when nothing is in flight.
 */
function fromLedger({ entries, total }: { entries: LedgerEntry[]; total: number }, out: BlockContext): boolean {
  if (total === 0) return false;
  const read = entries.map((entry: LedgerEntry) => {
    const c = emptyContext();
    fromStore(entry.store, c);
    return c;
  });
  const names = new Set(read.map(candidateName));
  out.inFlight = total;
  if (names.size === 1 && read.length === total) return shared(read, out);
  // An OpenTelemetry context manager the app already runs (an AsyncLocalStorage it pays
  // for) knows the request: its active span's HTTP attributes pick one of the candidates.
  const span = names.size > 1 ? activeSpanRequest() : null;
  if (span) {
    const match = read.filter((c) => c.kind === 'http' && (span.method === null || c.method === span.method)
      && (span.path !== null ? c.path === span.path : c.route === span.route));
    if (match.length > 0 && new Set(match.map(candidateName)).size === 1) return shared(match, out);
  }
  const kinds = new Set(read.map((c) => c.kind));
  out.kind = kinds.size === 1 ? read[0].kind : null;
  out.candidates = [...names].slice(0, CANDIDATES_MAX);
  return true;
}

/**
 * Reads the context of whatever is running now. Called inside the capture interrupt,
 * so it must be quick and must not throw. `resumed`: whether the blocked code was resumed
 * from the microtask queue (inflight.ts, resumedFromQueue), null when not known.
 */
export function readContext(resumed: boolean | null = null): BlockContext {
  const out = emptyContext();
  const l = existingLedger();
  const store = (globalThis as GlobalWithAls)[ALS_KEY]?.getStore() ?? l?.current;
  if (store) {
    fromStore(store, out);
  } else {
    // Without a store, a block in synchronous handler code still runs inside the HTTP
    // parser's async resource, which holds the socket and so its current response/request.
    // A timer's callback runs inside its Timeout object: no per-timer cost, Node tracks the
    // executing resource anyway.
    const resource = executionAsyncResource() as { socket?: { _httpMessage?: { req?: IncomingMessage } } } | undefined;
    const req = resource?.socket?._httpMessage?.req;
    const known = l?.storeFor(req);
    if (known) fromStore(known, out);
    else if (req) fromRequest('http', req, out);
    // Code resumed after an `await` runs in whatever resource drained the queue (often a
    // timer's or a socket's): the ledger knows better.
    else if (resumed !== false && l !== undefined && contextMode() === 'inflight' && fromLedger(l.live(), out)) { /* read */ }
    else if (isTimer(resource)) {
      // A one-shot timer (setInterval's repeat, background work, is left alone) belongs to
      // the request or job that was in flight when it was scheduled, if that is one.
      const idleStart = (resource as { _idleStart?: unknown })._idleStart;
      const oneShot = (resource as { _repeat?: unknown })._repeat == null;
      const found = oneShot && typeof idleStart === 'number' && l !== undefined && contextMode() === 'inflight' && fromLedger(l.scheduling(idleStart), out);
      // Several different candidates: it stays a timer's block, naming them.
      if (!found || out.candidates !== undefined) out.kind = 'timer';
    }
  }
  // In a test runner's process: the running test, or the runner's own work. A request or
  // job the test started keeps its kind and gains the test.
  const test = currentTest();
  if (test !== undefined) {
    if (test) out.test = test;
    if (out.kind === null || out.kind === 'timer') out.kind = test ? 'test' : 'runner';
  }
  return out;
}
