/**
 * Koa: `app.use(koa())` before the router. Koa keeps its context apart from the Node
 * request, so the route template that @koa/router leaves on `ctx` (`_matchedRoute`) cannot
 * be found from `req` alone; this middleware links the two.
 */
import { requestStore } from '../src/main-thread/context.js';
import type { KoaContextLike } from './koa-route.js';

/** The part of a Koa middleware's signature this needs; Koa's own types fit it. */
export type KoaMiddleware = (ctx: KoaContextLike, next: () => Promise<unknown>) => Promise<unknown>;

/**
 * Returns a Koa middleware that makes blocks in later middleware and route handlers carry
 * the route template (`/api/users/:id/report`), or null when no route matched. Costs one
 * store lookup and one property write per request (an AsyncLocalStorage read, or a Map lookup in the in-flight ledger); the template is read only when a block
 * is captured. Does nothing when the agent keeps no context (`LOOPWATCH_CONTEXT=off`).
 */
export function koa(): KoaMiddleware {
  return function loopwatchKoa(ctx, next) {
    // Only the store of this very request (put there by the http.server.request.start subscriber).
    const store = requestStore(ctx.req);
    if (store !== undefined) store.koa = ctx;
    return next();
  };
}
