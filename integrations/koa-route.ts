/**
 * Koa: what the capture reads of the context `loopwatch/koa` keeps in the request's store.
 * Runs inside the capture interrupt: plain property reads, never getters of our own; callers
 * catch what a hostile getter might throw.
 */

/** What the capture reads of a Koa context. */
export interface KoaContextLike {
  req?: unknown;
  originalUrl?: unknown;
  _matchedRoute?: unknown;
}

/**
 * @koa/router leaves the matched layer's path (prefixes included) on the context; koa-mount
 * and the like rewrite ctx.url, so the request's own URL is originalUrl.
 */
export function koaRoute(ctx: KoaContextLike): { route: string | null; url: string | undefined } {
  const route = ctx._matchedRoute;
  const url = ctx.originalUrl;
  return { route: typeof route === 'string' ? route : null, url: typeof url === 'string' ? url : undefined };
}
