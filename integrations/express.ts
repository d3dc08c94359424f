/**
 * The route template of an Express 4 or 5 request, read at capture time from what Express
 * leaves on `req` while routing. Runs inside the capture interrupt: plain property reads,
 * a bounded walk, no writes. Callers catch what a hostile getter might throw.
 */

/** What Express 4 and 5 leave on `req` while routing. */
export interface ExpressRequestLike {
  originalUrl?: unknown;
  baseUrl?: unknown;
  route?: { path?: unknown } | null;
  app?: ExpressAppLike;
}

interface ExpressAppLike {
  /** Express 4 */
  _router?: { stack?: unknown };
  /** Express 5 (a getter returning the router that is handling the request) */
  router?: { stack?: unknown };
  /** Where a sub-app is mounted in its parent, as given to `use()`. */
  mountpath?: unknown;
  parent?: ExpressAppLike;
}

interface LayerLike {
  route?: unknown;
  handle?: { stack?: unknown };
  /** Express 5 (router 2): the path given to `use()`. */
  rawPath?: unknown;
  /** Express 4: the compiled path and its parameter names. */
  regexp?: unknown;
  keys?: unknown;
}

/** Layers visited at most when looking for the route in the app's router tree. */
const MAX_LAYERS = 5000;
const MAX_APP_DEPTH = 16;

/**
 * An Express 4 mount pattern rebuilt from the part of `base` its RegExp matches: each
 * parameter's value becomes `:name`. Returns [pattern, matched length], or null. The
 * RegExp is recompiled with the `d` flag for the groups' exact positions (a value may
 * also appear in a literal part: `/orgs/orgs`).
 */
function express4Mount(layer: LayerLike, base: string): [string, number] | null {
  const { regexp, keys } = layer;
  if (!(regexp instanceof RegExp) || !Array.isArray(keys)) return null;
  const withIndices = keys.length === 0 ? regexp : new RegExp(regexp.source, `${regexp.flags.replace(/[gy]/g, '')}d`);
  const m = withIndices.exec(base);
  if (m === null || m.index !== 0) return null;
  // Express drops the trailing slash of a mount's match from baseUrl.
  const length = m[0].endsWith('/') ? m[0].length - 1 : m[0].length;
  if (keys.length === 0) return [base.slice(0, length), length];
  let out = '';
  let at = 0;
  for (let i = 0; i < keys.length; i++) {
    const span = m.indices?.[i + 1];
    if (span === undefined) continue;
    const name = (keys[i] as { name?: unknown } | null)?.name;
    if ((typeof name !== 'string' && typeof name !== 'number') || span[0] < at || span[1] > length) return null;
    out += `${base.slice(at, span[0])}:${name}`;
    at = span[1];
  }
  return [out + base.slice(at, length), length];
}

/** The pattern of the app's own mount point: sub-apps record it (`mountpath`) with their parent. */
function appMountPath(app: ExpressAppLike): string | null {
  let prefix = '';
  let a: ExpressAppLike | undefined = app;
  for (let depth = 0; a?.parent !== undefined && depth < MAX_APP_DEPTH; depth++) {
    const mp = a.mountpath;
    if (typeof mp !== 'string') return null;
    if (mp !== '/') prefix = mp + prefix;
    a = a.parent;
  }
  return prefix;
}

/** A pattern of literal and `:name` segments only: each matches exactly one segment. */
const SIMPLE_PATTERN = /^(\/(:?[\w.~-]+))+$/;

/**
 * Matches a simple pattern's segments against the start of `base` (literals compared
 * case-insensitively, as Express does by default). Returns the rest of `base`, or null
 * when it does not match. Patterns that are not simple give `undefined`: not checkable.
 */
function afterSimple(base: string, pattern: string): string | null | undefined {
  if (!SIMPLE_PATTERN.test(pattern)) return undefined;
  let at = 0;
  let from = 1;
  while (from <= pattern.length) {
    let to = pattern.indexOf('/', from);
    if (to === -1) to = pattern.length;
    if (base[at] !== '/') return null;
    let end = base.indexOf('/', at + 1);
    if (end === -1) end = base.length;
    const literal = pattern.charCodeAt(from) !== 58; // ':'
    if (literal ? base.slice(at + 1, end).toLowerCase() !== pattern.slice(from, to).toLowerCase() : end === at + 1) return null;
    at = end;
    from = to + 1;
  }
  return base.slice(at);
}

/**
 * A router layer's mount pattern, checked against `rest` (what is left of baseUrl, or
 * null once that can no longer be followed). Returns [pattern, rest after it], or null
 * when the layer is not the one the request came through.
 */
function mountOf(layer: LayerLike, rest: string | null): [string, string | null] | null {
  const raw = layer.rawPath;
  if (typeof raw === 'string') {
    // Express 5 keeps the pattern as given to use().
    if (raw === '/') return ['', rest];
    const pattern = raw.endsWith('/') ? raw.slice(0, -1) : raw;
    if (rest === null) return [pattern, null];
    const after = afterSimple(rest, pattern);
    if (after === null) return null;
    return [pattern, after === undefined ? null : after];
  }
  // Express 4: only a RegExp and its keys, rebuilt from what they match.
  if (rest === null) return null;
  const mount = express4Mount(layer, rest);
  return mount === null ? null : [mount[0], rest.slice(mount[1])];
}

/**
 * Express keeps only the *matched* mount path (`req.baseUrl`, e.g. `/orgs/42`), so the
 * mount patterns are found by locating the route in the app's router tree, following the
 * routers whose mount matches baseUrl (one router may be mounted at several paths).
 * Returns the patterns of the mounts from `stack` down to the route, or null.
 */
function search(stack: unknown, target: object, rest: string | null, budget: { left: number }): string | null {
  if (!Array.isArray(stack)) return null;
  for (const layer of stack as LayerLike[]) {
    if (--budget.left < 0) return null;
    if (layer === null || typeof layer !== 'object') continue;
    // The route's own router: all of baseUrl must have been accounted for.
    if (layer.route === target && (rest === null || rest === '')) return '';
    const inner = layer.handle?.stack;
    if (layer.route !== undefined || !Array.isArray(inner)) continue;
    const mount = mountOf(layer, rest);
    if (mount === null) continue;
    const below = search(inner, target, mount[1], budget);
    if (below !== null) return mount[0] + below;
  }
  return null;
}

/** The mount patterns of `base`, or null when they cannot be known. */
function baseTemplate(req: ExpressRequestLike, route: object, base: string): string | null {
  const app = req.app;
  if (app === null || (typeof app !== 'object' && typeof app !== 'function')) return null;
  // Inside a sub-app, baseUrl starts with where the sub-app is mounted.
  const appPrefix = appMountPath(app);
  if (appPrefix === null) return null;
  const simple = afterSimple(base, appPrefix);
  const rest = appPrefix === '' ? base : simple === undefined ? null : simple;
  if (appPrefix !== '' && simple === null) return null;
  const router = app._router ?? app.router;
  const below = search(router?.stack, route, rest, { left: MAX_LAYERS });
  return below === null ? null : appPrefix + below;
}

/**
 * The template of the Express route whose handler is running: the mount patterns of the
 * routers (and sub-apps) it went through plus the route's own path. Express sets
 * `req.route` and `req.baseUrl` only while routing, which is why this runs at capture
 * time. Null when no route has matched yet (middleware, 404 handlers).
 */
export function expressRoute(req: ExpressRequestLike): string | null {
  const route = req.route;
  if (route === null || typeof route !== 'object') return null;
  const path = route.path;
  let own: string;
  if (typeof path === 'string') own = path;
  else if (path instanceof RegExp) own = String(path);
  // An array of paths: which one matched is not kept on the request.
  else return null;
  const base = req.baseUrl;
  if (typeof base !== 'string' || base === '') return own;
  // baseUrl is what the mounts matched, possibly with parameter values: when their
  // patterns cannot be found (a router called from a wrapper function), no route rather
  // than a path.
  const template = baseTemplate(req, route, base);
  if (template === null) return null;
  return own === '/' ? template || '/' : template + own;
}
