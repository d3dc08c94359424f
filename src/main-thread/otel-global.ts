/**
 * What loopwatch reads of OpenTelemetry without loading `@opentelemetry/api`: the global
 * where every 1.x copy of the API keeps what an SDK registered, and the shape of valid ids.
 */

/** Where every 1.x copy of `@opentelemetry/api` keeps its registered globals. */
export const OTEL_API_KEY = Symbol.for('opentelemetry.js.api.1');

export const TRACE_ID = /^[0-9a-f]{32}$/;
export const SPAN_ID = /^[0-9a-f]{16}$/;

/** The API's global object (providers, context manager), if any copy of the API set it. */
export function otelGlobal<T = Record<string, unknown>>(): T | undefined {
  return (globalThis as Record<symbol, T | undefined>)[OTEL_API_KEY];
}
