import type * as Api from '@opentelemetry/api';
import type { BlockEvent } from '../shared/event.js';
import type { TraceFields } from '../main-thread/probe.js';
import { SPAN_ID, TRACE_ID } from '../main-thread/otel-global.js';

/** Contract (README, "OpenTelemetry"): the name of the span each block becomes. */
export const BLOCK_SPAN_NAME = 'event_loop.block';

/** Attribute keys of a block span: semantic conventions where one exists, `loopwatch.block.*` otherwise. */
export const BLOCK_SPAN_ATTRIBUTES = Object.freeze({
  function: 'code.function.name',
  file: 'code.file.path',
  line: 'code.line.number',
  column: 'code.column.number',
  stacktrace: 'code.stacktrace',
  route: 'http.route',
  method: 'http.request.method',
  threadId: 'thread.id',
  threadName: 'thread.name',
  fingerprint: 'loopwatch.block.fingerprint',
  id: 'loopwatch.block.id',
  duration: 'loopwatch.block.duration_ms',
  hint: 'loopwatch.block.hint',
  job: 'loopwatch.job',
  cause: 'loopwatch.block.cause',
  cpu: 'loopwatch.block.cpu_ms',
  gc: 'loopwatch.block.gc_ms',
});


/** Epoch milliseconds (fractional) as OpenTelemetry's [seconds, nanoseconds]. */
function hrTime(ms: number): Api.HrTime {
  const seconds = Math.floor(ms / 1e3);
  return [seconds, Math.round((ms - seconds * 1e3) * 1e6)];
}

/** The stack in V8's text form, as `code.stacktrace` expects. */
export function stackText(event: BlockEvent): string {
  return event.stack.map((f) => `    at ${f.function} (${f.file}:${f.line}:${f.column})`).join('\n');
}

export function blockAttributes(event: BlockEvent): Api.Attributes {
  const a = BLOCK_SPAN_ATTRIBUTES;
  const attrs: Api.Attributes = {
    [a.threadId]: event.thread.id,
    [a.threadName]: event.thread.name,
    [a.fingerprint]: event.fingerprint,
    [a.id]: event.id,
    [a.duration]: event.durationMs,
  };
  if (event.culprit) {
    attrs[a.function] = event.culprit.function;
    attrs[a.file] = event.culprit.file;
    attrs[a.line] = event.culprit.line;
    attrs[a.column] = event.culprit.column;
  }
  if (event.stack.length > 0) attrs[a.stacktrace] = stackText(event);
  if (event.context.route) attrs[a.route] = event.context.route;
  if (event.context.method) attrs[a.method] = event.context.method;
  if (event.context.job) attrs[a.job] = event.context.job;
  if (event.hint) attrs[a.hint] = event.hint;
  // Absent on events from an older agent copy; the ms only where measured (README, the block event).
  if (event.cause) attrs[a.cause] = event.cause;
  if (typeof event.cpuMs === 'number') attrs[a.cpu] = event.cpuMs;
  if (typeof event.gcMs === 'number') attrs[a.gc] = event.gcMs;
  return attrs;
}

/**
 * Emits one `event_loop.block` span with the block's real start and end, as a child of the
 * span that was active in the blocked code (ids read by the probe), or as a root span.
 * Called on the main thread after the loop recovered.
 */
export function emitBlockSpan(api: typeof Api, tracer: Api.Tracer, event: BlockEvent): void {
  const ctx = event.context as BlockEvent['context'] & TraceFields;
  const start = Date.parse(event.startedAt);
  if (!Number.isFinite(start)) return;
  let parent = api.ROOT_CONTEXT;
  const hasParent = typeof ctx.traceId === 'string' && TRACE_ID.test(ctx.traceId) && typeof ctx.spanId === 'string' && SPAN_ID.test(ctx.spanId);
  if (hasParent) {
    parent = api.trace.setSpanContext(api.ROOT_CONTEXT, {
      traceId: ctx.traceId!,
      spanId: ctx.spanId!,
      // Ids given to run() by hand carry no flags: treat that trace as sampled.
      traceFlags: typeof ctx.traceFlags === 'number' ? ctx.traceFlags : api.TraceFlags.SAMPLED,
      // Same process; a local parent, so a parent-based sampler follows its decision as is.
      isRemote: false,
    });
  }
  const span = tracer.startSpan(BLOCK_SPAN_NAME, {
    kind: api.SpanKind.INTERNAL,
    startTime: hrTime(start),
    attributes: blockAttributes(event),
    root: !hasParent,
  }, parent);
  span.end(hrTime(start + event.durationMs));
}
