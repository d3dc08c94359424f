/**
 * The receiver's protobuf decoder against the exporters' own serializers: the same spans
 * and metrics, serialized by @opentelemetry/otlp-transformer as protobuf and as JSON, must
 * read the same. If a field number in ./protobuf.ts were wrong, a field would go missing
 * or land in another one here.
 */
import { describe, expect, it } from 'vitest';
import { JsonMetricsSerializer, JsonTraceSerializer, ProtobufMetricsSerializer, ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { context, trace } from '@opentelemetry/api';
import { decodeMetricsRequest, decodeTraceRequest, fields } from './protobuf.js';
import { readMetrics, readSpans, type ReceivedMetric } from './receiver.js';

const json = (bytes: Uint8Array | undefined): Record<string, unknown> => JSON.parse(new TextDecoder().decode(bytes)) as Record<string, unknown>;
const buffer = (bytes: Uint8Array | undefined): Buffer => Buffer.from(bytes!);

class CollectingReader extends MetricReader {
  protected onForceFlush(): Promise<void> {
    return Promise.resolve();
  }
  protected onShutdown(): Promise<void> {
    return Promise.resolve();
  }
}

const resource = resourceFromAttributes({ 'service.name': 'decoder-test', 'host.cores': 2 });

describe('protobuf decoder of the test receiver', () => {
  it('reads spans as the JSON encoding has them: ids, parent, name, times, every attribute kind, resource, scope', () => {
    const exporter = new InMemorySpanExporter();
    const provider = new BasicTracerProvider({ resource, spanProcessors: [new SimpleSpanProcessor(exporter)] });
    const tracer = provider.getTracer('loopwatch', '1.2.3');
    const parent = tracer.startSpan('request');
    const child = tracer.startSpan('event_loop.block', {
      attributes: {
        'code.function.name': 'parseReport',
        'code.stacktrace': '    at parseReport (src/report.ts:42:7)\n    at handler (src/app.ts:9:3)',
        'code.line.number': 42,
        'thread.id': 0,
        negative: -5,
        big: 2 ** 40,
        'loopwatch.block.duration_ms': 212.4,
        ongoing: false,
        sampled: true,
        unicode: 'é—✓',
      },
    }, trace.setSpan(context.active(), parent));
    child.end();
    parent.end();
    const spans = exporter.getFinishedSpans();

    const fromProto = readSpans(decodeTraceRequest(buffer(ProtobufTraceSerializer.serializeRequest(spans))));
    const fromJson = readSpans(json(JsonTraceSerializer.serializeRequest(spans)));
    expect(fromProto).toEqual(fromJson);
    expect(fromProto).toHaveLength(2);
    const block = fromProto.find((s) => s.name === 'event_loop.block')!;
    const req = fromProto.find((s) => s.name === 'request')!;
    // What the JSON side has, spelled out, so that both cannot be wrong the same way.
    expect(block.parentSpanId).toBe(req.spanId);
    expect(block.traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(block.spanId).toMatch(/^[0-9a-f]{16}$/);
    expect(req.parentSpanId).toBe('');
    expect(block.attributes).toMatchObject({ 'code.line.number': 42, negative: -5, big: 2 ** 40, 'loopwatch.block.duration_ms': 212.4, ongoing: false, sampled: true, unicode: 'é—✓' });
    expect(block.resource).toMatchObject({ 'service.name': 'decoder-test', 'host.cores': 2 });
    expect(block.scope).toBe('loopwatch');
    expect(block.endMs).toBeGreaterThanOrEqual(block.startMs);
    expect(block.startMs).toBeGreaterThan(Date.UTC(2020, 0, 1));
  });

  it('reads metrics as the JSON encoding has them: gauge, counter, histogram, name, unit, points, attributes', async () => {
    const reader = new CollectingReader();
    const provider = new MeterProvider({ resource, readers: [reader] });
    const meter = provider.getMeter('loopwatch');
    meter.createHistogram('loopwatch.block.duration', { unit: 's', advice: { explicitBucketBoundaries: [0.05, 0.1, 0.25, 1] } }).record(0.2124, { route: '/users/:id', culprit: 'parseReport (src/report.ts)' });
    meter.createCounter('loopwatch.blocked.time', { unit: 's' }).add(0.2124, { route: '/users/:id', thread: 'main' });
    meter.createUpDownCounter('ints').add(-3, { n: 1 });
    meter.createObservableGauge('nodejs.eventloop.utilization', { unit: '1' }).addCallback((o) => o.observe(0.25));
    const { resourceMetrics } = await reader.collect();

    const normal = (list: ReceivedMetric[]) => list.map((m) => ({
      name: m.name,
      unit: m.unit,
      scope: m.scope,
      resource: m.resource,
      points: m.points.map((p) => ({
        attributes: p.attributes,
        value: p.asDouble ?? (p.asInt === undefined ? undefined : Number(p.asInt)),
        count: p.count === undefined ? undefined : Number(p.count),
        sum: p.sum,
        buckets: ((p.bucketCounts ?? []) as (number | string)[]).map(Number),
        bounds: p.explicitBounds ?? [],
        time: String(p.timeUnixNano),
      })),
    }));
    const fromProto = normal(readMetrics(decodeMetricsRequest(buffer(ProtobufMetricsSerializer.serializeRequest(resourceMetrics)))));
    const fromJson = normal(readMetrics(json(JsonMetricsSerializer.serializeRequest(resourceMetrics))));
    expect(fromProto).toEqual(fromJson);
    const byName = Object.fromEntries(fromProto.map((m) => [m.name, m]));
    expect(Object.keys(byName).sort()).toEqual(['ints', 'loopwatch.block.duration', 'loopwatch.blocked.time', 'nodejs.eventloop.utilization']);
    const duration = byName['loopwatch.block.duration'];
    expect(duration.unit).toBe('s');
    expect(duration.points[0]).toMatchObject({ attributes: { route: '/users/:id', culprit: 'parseReport (src/report.ts)' }, count: 1, sum: 0.2124, bounds: [0.05, 0.1, 0.25, 1], buckets: [0, 0, 1, 0, 0] });
    expect(byName['loopwatch.blocked.time'].points[0]).toMatchObject({ value: 0.2124, attributes: { thread: 'main' } });
    expect(byName.ints.points[0].value).toBe(-3);
    expect(byName['nodejs.eventloop.utilization'].points[0].value).toBe(0.25);
    expect(duration.resource['service.name']).toBe('decoder-test');
  });

  it('rejects a truncated message instead of reading garbage', () => {
    // Field 1, length-delimited, says 10 bytes, has 2.
    expect(() => fields(Buffer.from([0x0a, 0x0a, 0x01, 0x02]))).toThrow(/runs past the end/);
    // A varint whose continuation bit never clears.
    expect(() => fields(Buffer.from([0x08, 0xff, 0xff]))).toThrow(/varint runs past the end/);
  });
});
