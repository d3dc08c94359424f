/**
 * A block event as a span, on the real SDK (in-memory exporter): name, parent, times and
 * attributes; the parent's sampling flag is honoured.
 */
import * as api from '@opentelemetry/api';
import { BasicTracerProvider, InMemorySpanExporter, ParentBasedSampler, AlwaysOnSampler, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { describe, expect, it } from 'vitest';
import type { BlockEvent } from '../../src/shared/event.js';
import { BLOCK_SPAN_NAME, emitBlockSpan, stackText } from '../../src/exporters/otel-spans.js';

function event(over: Partial<BlockEvent['context']> & { traceFlags?: number } = {}): BlockEvent {
  return {
    id: '0123456789abcdef',
    thread: { id: 0, name: 'main' },
    startedAt: '2026-11-26T01:00:00.123Z',
    durationMs: 212.4,
    ongoing: false,
    thresholdMs: 50,
    context: { kind: 'http', method: 'GET', route: '/users/:id', path: '/users/42', job: null, traceId: null, spanId: null, ...over },
    culprit: { function: 'parseReport', file: 'src/report.ts', line: 42, column: 7 },
    stack: [
      { function: 'parseReport', file: 'src/report.ts', line: 42, column: 7, inApp: true },
      { function: 'handler', file: 'src/app.ts', line: 10, column: 3, inApp: true },
    ],
    hint: null,
    fingerprint: 'b1946ac92492d234',
  } as BlockEvent;
}

function setup() {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({
    sampler: new ParentBasedSampler({ root: new AlwaysOnSampler() }),
    spanProcessors: [new SimpleSpanProcessor(exporter)],
  });
  return { exporter, tracer: provider.getTracer('loopwatch') };
}

const ms = (t: api.HrTime): number => t[0] * 1e3 + t[1] / 1e6;

describe('emitBlockSpan', () => {
  it('makes a child of the span whose ids the probe read, with the real start and end', () => {
    const { exporter, tracer } = setup();
    emitBlockSpan(api, tracer, event({ traceId: 'a'.repeat(32), spanId: 'b'.repeat(16), traceFlags: 1 }));
    const [span] = exporter.getFinishedSpans();
    expect(span.name).toBe(BLOCK_SPAN_NAME);
    expect(span.spanContext().traceId).toBe('a'.repeat(32));
    expect(span.parentSpanContext?.spanId).toBe('b'.repeat(16));
    expect(span.kind).toBe(api.SpanKind.INTERNAL);
    expect(ms(span.startTime)).toBeCloseTo(Date.parse('2026-11-26T01:00:00.123Z'), 3);
    expect(ms(span.endTime) - ms(span.startTime)).toBeCloseTo(212.4, 3);
    expect(span.attributes).toMatchObject({
      'code.function.name': 'parseReport',
      'code.file.path': 'src/report.ts',
      'code.line.number': 42,
      'code.column.number': 7,
      'code.stacktrace': '    at parseReport (src/report.ts:42:7)\n    at handler (src/app.ts:10:3)',
      'http.route': '/users/:id',
      'http.request.method': 'GET',
      'thread.id': 0,
      'thread.name': 'main',
      'loopwatch.block.fingerprint': 'b1946ac92492d234',
      'loopwatch.block.id': '0123456789abcdef',
    });
  });

  it('carries the cause and the measured on-CPU and GC time; an event without them (an older agent copy) has none', () => {
    const { exporter, tracer } = setup();
    emitBlockSpan(api, tracer, { ...event(), cause: 'starved', cpuMs: 31.5, gcMs: null, culprit: null });
    emitBlockSpan(api, tracer, event());
    const [measured, older] = exporter.getFinishedSpans();
    expect(measured.attributes).toMatchObject({ 'loopwatch.block.cause': 'starved', 'loopwatch.block.cpu_ms': 31.5 });
    expect(measured.attributes).not.toHaveProperty('loopwatch.block.gc_ms');
    expect(measured.attributes).not.toHaveProperty('code.function.name');
    expect(Object.keys(older.attributes).filter((k) => /cause|cpu_ms|gc_ms/.test(k))).toEqual([]);
  });

  it('is a root span when no span was active, even if one is active where it is emitted', () => {
    const { exporter, tracer } = setup();
    const outer = tracer.startSpan('unrelated');
    api.context.with(api.trace.setSpan(api.ROOT_CONTEXT, outer), () => emitBlockSpan(api, tracer, event()));
    outer.end();
    const block = exporter.getFinishedSpans().find((s) => s.name === BLOCK_SPAN_NAME)!;
    expect(block.parentSpanContext).toBeUndefined();
    expect(block.spanContext().traceId).not.toBe(outer.spanContext().traceId);
  });

  it('follows the parent\'s sampling decision: an unsampled request gives no block span', () => {
    const { exporter, tracer } = setup();
    emitBlockSpan(api, tracer, event({ traceId: 'a'.repeat(32), spanId: 'b'.repeat(16), traceFlags: 0 }));
    expect(exporter.getFinishedSpans()).toEqual([]);
  });

  it('renders the stack like V8', () => {
    expect(stackText(event())).toMatch(/^ {4}at parseReport \(src\/report\.ts:42:7\)\n {4}at handler/);
  });
});
