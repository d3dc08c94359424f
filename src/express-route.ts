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
 * Express keeps only the *matched* mount path (`req.baseUrl`, e.g. `/orgs/42`), so the
 * mount patterns are found by locating the route in the app's router tree: the routers
 * on the way to it carry them (Express 5: `rawPath`; Express 4: a RegExp and its keys).
 */
function mountLayers(stack: unknown, target: object, path: LayerLike[], budget: { left: number }): boolean {
  if (!Array.isArray(stack)) return false;
  for (const layer of stack as LayerLike[]) {
    if (--budget.left < 0) return false;
    if (layer === null || typeof layer !== 'object') continue;
    if (layer.route === target) return true;
    const inner = layer.handle?.stack;
    if (layer.route === undefined && Array.isArray(inner)) {
      path.push(layer);
      if (mountLayers(inner, target, path, budget)) return true;
      path.pop();
    }
  }
  return false;
}

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

/**
 * `base` without as many leading segments as `pattern` has, when each of the pattern's
 * segments is a literal or a plain `:name` (one segment each); null otherwise.
 */
function stripSegments(base: string, pattern: string): string | null {
  if (!/^(\/(:?[\w.~-]+))+$/.test(pattern)) return null;
  let at = 0;
  for (let n = pattern.split('/').length - 1; n > 0; n--) {
    if (base[at] !== '/') return null;
    const next = base.indexOf('/', at + 1);
    at = next === -1 ? base.length : next;
  }
  return base.slice(at);
}

/** The mount patterns of `base`, or null when they cannot be known. */
function baseTemplate(req: ExpressRequestLike, route: object, base: string): string | null {
  const app = req.app;
  if (app === null || typeof app !== 'object' && typeof app !== 'function') return null;
  const appPrefix = appMountPath(app);
  if (appPrefix === null) return null;
  const router = app._router ?? app.router;
  const layers: LayerLike[] = [];
  if (!mountLayers(router?.stack, route, layers, { left: MAX_LAYERS })) return null;
  // The app's own mount point is the start of baseUrl; the routers' mount points follow.
  let out = appPrefix;
  let rest = appPrefix.includes(':') ? stripSegments(base, appPrefix) : base.slice(appPrefix.length);
  for (const layer of layers) {
    if (typeof layer.rawPath === 'string') {
      if (layer.rawPath !== '/') out += layer.rawPath.endsWith('/') ? layer.rawPath.slice(0, -1) : layer.rawPath;
      continue;
    }
    // Express 4: no pattern string is kept, only what it matched.
    if (rest === null) return null;
    const mount = express4Mount(layer, rest);
    if (mount === null) return null;
    out += mount[0];
    rest = rest.slice(mount[1]);
  }
  return out;
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
