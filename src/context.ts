import { AsyncLocalStorage, executionAsyncResource } from 'node:async_hooks';
import diagnosticsChannel from 'node:diagnostics_channel';
import type { IncomingMessage } from 'node:http';
import { describe, LoopwatchTypeError } from './errors.js';

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
}

/** The context as it appears in a block event. */
export interface BlockContext {
  kind: string | null;
  method: string | null;
  route: string | null;
  path: string | null;
  job: string | null;
  traceId: string | null;
  spanId: string | null;
}

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

const REQUEST_START = 'http.server.request.start';

/** Zero-code request context for node:http and every framework on top of it. */
export function subscribeHttp(): () => void {
  // Looked up once: this subscriber runs on every request.
  const als = contextStorage();
  const onRequestStart = (message: unknown): void => {
    const req = (message as { request?: IncomingMessage }).request;
    // enterWith: the subscriber runs synchronously right before the server emits 'request',
    // so the handler and everything it schedules inherit this store.
    if (req) als.enterWith({ kind: 'http', req });
  };
  diagnosticsChannel.subscribe(REQUEST_START, onRequestStart);
  return () => {
    diagnosticsChannel.unsubscribe(REQUEST_START, onRequestStart);
  };
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
  return contextStorage().run(store, fn);
}

function pathOf(url: string | undefined): string | null {
  if (typeof url !== 'string') return null;
  const q = url.search(/[?#]/);
  return q === -1 ? url : url.slice(0, q);
}

function fromRequest(kind: string, req: IncomingMessage | undefined, out: BlockContext): void {
  out.kind = kind;
  if (req) {
    out.method = typeof req.method === 'string' ? req.method : null;
    out.path = pathOf(req.url);
  }
}

/**
 * Reads the context of whatever is running now. Called inside the capture interrupt,
 * so it must be quick and must not throw.
 */
export function readContext(): BlockContext {
  const out: BlockContext = { kind: null, method: null, route: null, path: null, job: null, traceId: null, spanId: null };
  const store = (globalThis as GlobalWithAls)[ALS_KEY]?.getStore();
  if (store) {
    if (store.resolve) {
      try { store.resolve(store); } catch { /* an integration's resolver must not break capture */ }
    }
    fromRequest(store.kind, store.req, out);
    if (store.method !== undefined) out.method = store.method;
    if (store.path !== undefined) out.path = store.path;
    out.route = store.route ?? null;
    out.job = store.job ?? null;
    out.traceId = store.traceId ?? null;
    out.spanId = store.spanId ?? null;
    return out;
  }
  // Without a store, a block in synchronous handler code still runs inside the HTTP
  // parser's async resource, which holds the socket and so its current response/request.
  const resource = executionAsyncResource() as { socket?: { _httpMessage?: { req?: IncomingMessage } } } | undefined;
  const req = resource?.socket?._httpMessage?.req;
  if (req) fromRequest('http', req, out);
  return out;
}
