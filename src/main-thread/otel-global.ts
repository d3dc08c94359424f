/**
 * What loopwatch reads of OpenTelemetry without loading `@opentelemetry/api`: the global
 * where every 1.x copy of the API keeps what an SDK registered, and the shape of valid ids.
 */
import { pathOf } from './path.js';

/** Where every 1.x copy of `@opentelemetry/api` keeps its registered globals. */
export const OTEL_API_KEY = Symbol.for('opentelemetry.js.api.1');

export const TRACE_ID = /^[0-9a-f]{32}$/;
export const SPAN_ID = /^[0-9a-f]{16}$/;

/** The API's global object (providers, context manager), if any copy of the API set it. */
export function otelGlobal<T = Record<string, unknown>>(): T | undefined {
  return (globalThis as Record<symbol, T | undefined>)[OTEL_API_KEY];
}

/** The context key under which OpenTelemetry keeps the active span. */
const OTEL_SPAN_KEY = Symbol.for('OpenTelemetry Context Key SPAN');

interface OtelApiGlobal {
  version?: unknown;
  context?: { active?: () => { getValue?: (key: symbol) => unknown } | undefined };
}

/** What loopwatch reads of a span: its ids, and (SDK spans) its attributes. */
export interface SpanLike {
  spanContext?: () => unknown;
  attributes?: unknown;
  kind?: unknown;
}

/** SpanKind.SERVER in @opentelemetry/api. */
const SERVER = 1;

/**
 * The span active in the running code, read without loading `@opentelemetry/api`: the
 * context manager sits under the global's `context`, and spans are stored in a context
 * under `Symbol.for('OpenTelemetry Context Key SPAN')` (`trace/context-utils`;
 * `createContextKey` uses Symbol.for since 1.0). A later major registers under another
 * symbol with a layout we do not know, so only 1.x is read, and every step checks its type.
 * The manager's `active()` is an AsyncLocalStorage getStore in the SDK. Throws nothing.
 */
export function activeSpan(): SpanLike | undefined {
  try {
    const api = otelGlobal<OtelApiGlobal>();
    if (!api || typeof api.version !== 'string' || !api.version.startsWith('1.')) return undefined;
    const ctx = typeof api.context?.active === 'function' ? api.context.active() : undefined;
    const span = typeof ctx?.getValue === 'function' ? ctx.getValue(OTEL_SPAN_KEY) : undefined;
    return typeof span === 'object' && span !== null ? (span as SpanLike) : undefined;
  } catch {
    // A foreign object under the API's key must not break the capture.
    return undefined;
  }
}

/** The request an active span describes, from its HTTP attributes (old and stable names). */
export interface SpanRequest {
  method: string | null;
  path: string | null;
  route: string | null;
}

function attr(attributes: Record<string, unknown>, ...names: string[]): string | null {
  for (const name of names) {
    const v = attributes[name];
    if (typeof v === 'string' && v !== '') return v;
  }
  return null;
}

/**
 * The HTTP request of the active span, if it has HTTP server attributes (the server span of
 * @opentelemetry/instrumentation-http, or a framework's span with `http.route`); null
 * otherwise. The path has no query.
 */
export function activeSpanRequest(): SpanRequest | null {
  try {
    const span = activeSpan();
    const attributes = span?.attributes;
    if (typeof attributes !== 'object' || attributes === null) return null;
    const a = attributes as Record<string, unknown>;
    const route = attr(a, 'http.route');
    // A client span's method and target are those of the outgoing call: only a server
    // span's (or a span of unknown kind) describe the request being served.
    if (typeof span?.kind === 'number' && span.kind !== SERVER) return route === null ? null : { method: null, path: null, route };
    const method = attr(a, 'http.request.method', 'http.method');
    const path = pathOf(attr(a, 'url.path', 'http.target'));
    return path === null && route === null ? null : { method, path, route };
  } catch {
    return null;
  }
}
