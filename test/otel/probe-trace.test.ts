/**
 * The probe's OpenTelemetry part, in this process with the real SDK's context manager:
 * the active span's ids and flags land in the context; anything odd under the API's global
 * is ignored without an exception.
 */
import { context, SpanKind, trace, TraceFlags } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { BasicTracerProvider } from '@opentelemetry/sdk-trace-base';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../../src/main-thread/context.js';
import { activeSpanRequest } from '../../src/main-thread/otel-global.js';
import { probe, type TraceFields } from '../../src/main-thread/probe.js';
import type { ProbeResult } from '../../src/shared/probe-protocol.js';

const KEY = Symbol.for('opentelemetry.js.api.1');
type G = Record<symbol, unknown>;

function probeContext(): ProbeResult['context'] & TraceFields {
  return (JSON.parse(probe()) as ProbeResult).context as ProbeResult['context'] & TraceFields;
}

const manager = new AsyncLocalStorageContextManager();
const tracer = new BasicTracerProvider().getTracer('test');

beforeAll(() => {
  manager.enable();
  context.setGlobalContextManager(manager);
});
afterAll(() => {
  context.disable();
});

describe('probe: active OpenTelemetry span', () => {
  it('reads trace id, span id and flags of the span active in the running code', () => {
    const span = tracer.startSpan('request');
    const got = context.with(trace.setSpan(context.active(), span), () => probeContext());
    span.end();
    expect(got.traceId).toBe(span.spanContext().traceId);
    expect(got.spanId).toBe(span.spanContext().spanId);
    expect(got.traceFlags).toBe(TraceFlags.SAMPLED);
  });

  it('reads the span after an await, through the context manager', async () => {
    const span = tracer.startSpan('request');
    const got = await context.with(trace.setSpan(context.active(), span), async () => {
      await new Promise((resolve) => setTimeout(resolve, 1));
      return probeContext();
    });
    span.end();
    expect(got.spanId).toBe(span.spanContext().spanId);
  });

  it('has no ids outside any span, and none for the invalid (all-zero) span context', () => {
    expect(probeContext().traceId).toBeNull();
    const invalid = trace.wrapSpanContext({ traceId: '0'.repeat(32), spanId: '0'.repeat(16), traceFlags: 0 });
    const got = context.with(trace.setSpan(context.active(), invalid), () => probeContext());
    expect(got.traceId).toBeNull();
    expect(got.traceFlags).toBeUndefined();
  });

  it('keeps ids given to run() explicitly', () => {
    const span = tracer.startSpan('request');
    const got = context.with(trace.setSpan(context.active(), span), () =>
      run({ kind: 'job', name: 'sync', traceId: 'a'.repeat(32), spanId: 'b'.repeat(16) }, () => probeContext()));
    span.end();
    expect(got).toMatchObject({ traceId: 'a'.repeat(32), spanId: 'b'.repeat(16), job: 'sync' });
  });
});

describe('probe: a foreign or broken global under the API key', () => {
  let saved: unknown;
  beforeAll(() => {
    saved = (globalThis as G)[KEY];
  });
  afterEach(() => {
    (globalThis as G)[KEY] = saved;
  });

  const cases: [string, unknown][] = [
    ['a context manager that throws', { version: '1.9.0', context: { active: () => { throw new Error('boom'); } } }],
    ['a context without getValue', { version: '1.9.0', context: { active: () => ({}) } }],
    ['a span whose spanContext throws', { version: '1.9.0', context: { active: () => ({ getValue: () => ({ spanContext: () => { throw new Error('x'); } }) }) } }],
    ['ids that are not hex', { version: '1.9.0', context: { active: () => ({ getValue: () => ({ spanContext: () => ({ traceId: 'x'.repeat(32), spanId: 'y'.repeat(16), traceFlags: 1 }) }) }) } }],
    ['another major version', { version: '2.0.0', context: { active: () => ({ getValue: () => ({ spanContext: () => ({ traceId: 'a'.repeat(32), spanId: 'b'.repeat(16), traceFlags: 1 }) }) }) } }],
    ['a getter that throws', Object.defineProperty({}, 'version', { get() { throw new Error('no'); } })],
  ];
  it.each(cases)('%s: no ids, no exception, the stack is still captured', (_, value) => {
    (globalThis as G)[KEY] = value;
    const result = JSON.parse(probe()) as ProbeResult;
    expect(result.context?.traceId ?? null).toBeNull();
    expect(result.frames.length).toBeGreaterThan(0);
  });
});

describe('activeSpanRequest: the HTTP request an active span describes', () => {
  const inSpan = (attributes: Record<string, string>, kind = SpanKind.SERVER) => {
    const span = tracer.startSpan('GET', { attributes, kind });
    const got = context.with(trace.setSpan(context.active(), span), () => activeSpanRequest());
    span.end();
    return got;
  };

  it('stable names: method, path and route', () => {
    expect(inSpan({ 'http.request.method': 'GET', 'url.path': '/users/7', 'http.route': '/users/:id' })).toEqual({ method: 'GET', path: '/users/7', route: '/users/:id' });
  });

  it('the older names, the query cut off the target', () => {
    expect(inSpan({ 'http.method': 'POST', 'http.target': '/orders?page=2' })).toEqual({ method: 'POST', path: '/orders', route: null });
  });

  it('an outgoing call\'s client span gives nothing of its own request; a framework span gives its route', () => {
    expect(inSpan({ 'http.request.method': 'GET', 'url.path': '/upstream', 'url.full': 'http://10.0.0.2/upstream' }, SpanKind.CLIENT)).toBeNull();
    expect(inSpan({ 'http.route': '/users/:id' }, SpanKind.INTERNAL)).toEqual({ method: null, path: null, route: '/users/:id' });
  });

  it('null for a span with no HTTP attributes, and with no span active', () => {
    expect(inSpan({ 'db.system': 'postgresql' })).toBeNull();
    expect(activeSpanRequest()).toBeNull();
  });
});
