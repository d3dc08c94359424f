import { AsyncLocalStorage, executionAsyncResource } from 'node:async_hooks';
import diagnosticsChannel from 'node:diagnostics_channel';
import type { IncomingMessage } from 'node:http';
import { describe, LoopwatchTypeError } from '../errors.js';
import { expressRoute, type ExpressRequestLike } from '../../integrations/express.js';
import { FASTIFY_HANDLER_START, fastifyRoute } from '../../integrations/fastify.js';
import { type KoaContextLike, koaRoute } from '../../integrations/koa-route.js';
import { currentTest } from '../../integrations/test-runners.js';
import type { BlockContext } from '../shared/event.js';

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

const REQUEST_START = 'http.server.request.start';

/**
 * Zero-code request context for node:http and every framework on top of it, and the route
 * template of Fastify requests (Express's is read from `req` when a block is captured).
 */
export function subscribeHttp(): () => void {
  // Looked up once: these subscribers run on every request.
  const als = contextStorage();
  const onRequestStart = (message: unknown): void => {
    const req = (message as { request?: IncomingMessage }).request;
    // enterWith: the subscriber runs synchronously right before the server emits 'request',
    // so the handler and everything it schedules inherit this store.
    if (req) als.enterWith({ kind: 'http', req });
  };
  const onFastifyHandler = (message: unknown): void => {
    const store = als.getStore();
    if (store === undefined || store.req === undefined) return;
    const route = fastifyRoute(message, store.req);
    if (route !== undefined) store.route = route;
  };
  diagnosticsChannel.subscribe(REQUEST_START, onRequestStart);
  diagnosticsChannel.subscribe(FASTIFY_HANDLER_START, onFastifyHandler);
  return () => {
    diagnosticsChannel.unsubscribe(REQUEST_START, onRequestStart);
    diagnosticsChannel.unsubscribe(FASTIFY_HANDLER_START, onFastifyHandler);
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

function pathOf(url: unknown): string | null {
  if (typeof url !== 'string') return null;
  const q = url.search(/[?#]/);
  return q === -1 ? url : url.slice(0, q);
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
    if (store.koa) fromKoa(store.koa, out);
    if (store.method !== undefined) out.method = store.method;
    if (store.path !== undefined) out.path = store.path;
    if (store.route !== undefined) out.route = store.route;
    out.job = store.job ?? null;
    out.traceId = store.traceId ?? null;
    out.spanId = store.spanId ?? null;
  } else {
    // Without a store, a block in synchronous handler code still runs inside the HTTP
    // parser's async resource, which holds the socket and so its current response/request.
    // A timer's callback runs inside its Timeout object: no per-timer cost, Node tracks the
    // executing resource anyway.
    const resource = executionAsyncResource() as { socket?: { _httpMessage?: { req?: IncomingMessage } } } | undefined;
    const req = resource?.socket?._httpMessage?.req;
    if (req) fromRequest('http', req, out);
    else if (isTimer(resource)) out.kind = 'timer';
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
