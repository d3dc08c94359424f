/**
 * A small protobuf wire-format decoder for the OTLP requests the tests receive. The 0.223
 * exporter packages ship no .proto files and no request decoder (otlp-transformer only
 * writes requests and reads responses), so this reads the fields the tests look at and
 * turns them into the OTLP/JSON shape (camelCase names, ids in hex, 64-bit integers as
 * decimal strings), which the receiver then handles like a JSON body.
 *
 * Field numbers as written by @opentelemetry/otlp-transformer 0.223
 * (build/src/{trace,metrics}/protobuf/*-serializer.js, common/protobuf/common-serializer.js),
 * which follow opentelemetry-proto v1.
 */

type Wire = 0 | 1 | 2 | 5;

interface Field {
  no: number;
  wire: Wire;
  /** varint (wire 0) */
  int: bigint;
  /** fixed64/fixed32 (wire 1, 5) or length-delimited (wire 2) bytes */
  bytes: Buffer;
}

/** The fields of one message, in order (repeated fields appear once per element). */
export function fields(buf: Buffer): Field[] {
  const out: Field[] = [];
  let pos = 0;
  const varint = (): bigint => {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      if (pos >= buf.length) throw new Error(`protobuf: varint runs past the end (${buf.length} bytes)`);
      const b = buf[pos++];
      result |= BigInt(b & 0x7f) << shift;
      if ((b & 0x80) === 0) return result;
      shift += 7n;
      if (shift > 63n) throw new Error('protobuf: varint longer than 10 bytes');
    }
  };
  const take = (n: number): Buffer => {
    if (pos + n > buf.length) throw new Error(`protobuf: field of ${n} bytes at ${pos} runs past the end (${buf.length} bytes)`);
    const slice = buf.subarray(pos, pos + n);
    pos += n;
    return slice;
  };
  while (pos < buf.length) {
    const tag = Number(varint());
    const no = tag >>> 3;
    const wire = tag & 7;
    if (no === 0) throw new Error(`protobuf: field number 0 at ${pos}`);
    switch (wire) {
      case 0:
        out.push({ no, wire, int: varint(), bytes: Buffer.alloc(0) });
        break;
      case 1:
        out.push({ no, wire, int: 0n, bytes: take(8) });
        break;
      case 2:
        out.push({ no, wire, int: 0n, bytes: take(Number(varint())) });
        break;
      case 5:
        out.push({ no, wire, int: 0n, bytes: take(4) });
        break;
      default:
        // Groups (3, 4) are not used by OTLP.
        throw new Error(`protobuf: wire type ${wire} of field ${no} is not supported`);
    }
  }
  return out;
}

const all = (fs: Field[], no: number): Field[] => fs.filter((f) => f.no === no);
const one = (fs: Field[], no: number): Field | undefined => fs.findLast((f) => f.no === no);
const str = (f: Field | undefined): string | undefined => f?.bytes.toString('utf8');
const hex = (f: Field | undefined): string => f?.bytes.toString('hex') ?? '';
const fixed64 = (f: Field | undefined): string | undefined => f && f.bytes.readBigUInt64LE(0).toString();
const double = (f: Field | undefined): number | undefined => f && f.bytes.readDoubleLE(0);

/** A repeated scalar, packed (wire 2) or one element per field. */
function repeated(fs: Field[], no: number, size: 8, read: (b: Buffer, at: number) => number | bigint): (number | string)[] {
  const out: (number | string)[] = [];
  for (const f of all(fs, no)) {
    const step = f.wire === 2 ? size : f.bytes.length;
    for (let at = 0; at + step <= f.bytes.length; at += step) {
      const v = read(f.bytes, at);
      out.push(typeof v === 'bigint' ? v.toString() : v);
    }
  }
  return out;
}

/** AnyValue: string_value 1, bool_value 2, int_value 3 (int64 varint), double_value 4, array_value 5. */
function anyValue(buf: Buffer): Record<string, unknown> {
  const fs = fields(buf);
  const f = fs.at(-1);
  if (!f) return {};
  switch (f.no) {
    case 1: return { stringValue: str(f) };
    case 2: return { boolValue: f.int !== 0n };
    case 3: return { intValue: BigInt.asIntN(64, f.int).toString() };
    case 4: return { doubleValue: double(f) };
    case 5: return { arrayValue: { values: all(fields(f.bytes), 1).map((v) => anyValue(v.bytes)) } };
    default: return {};
  }
}

/** repeated KeyValue { key 1, value 2 (AnyValue) } under field `no`. */
function attributes(fs: Field[], no: number): { key: string; value: Record<string, unknown> }[] {
  return all(fs, no).map((kv) => {
    const k = fields(kv.bytes);
    const value = one(k, 2);
    return { key: str(one(k, 1)) ?? '', value: value ? anyValue(value.bytes) : {} };
  });
}

/** Resource { attributes 1 }, InstrumentationScope { name 1, version 2 }. */
const resource = (f: Field | undefined): { attributes: ReturnType<typeof attributes> } => ({ attributes: f ? attributes(fields(f.bytes), 1) : [] });
function scope(f: Field | undefined): { name: string; version?: string } {
  const fs = f ? fields(f.bytes) : [];
  return { name: str(one(fs, 1)) ?? '', version: str(one(fs, 2)) };
}

/**
 * Span: trace_id 1, span_id 2, parent_span_id 4, name 5, kind 6, start_time_unix_nano 7
 * and end_time_unix_nano 8 (fixed64), attributes 9.
 */
function span(buf: Buffer): Record<string, unknown> {
  const fs = fields(buf);
  return {
    traceId: hex(one(fs, 1)),
    spanId: hex(one(fs, 2)),
    parentSpanId: hex(one(fs, 4)),
    name: str(one(fs, 5)) ?? '',
    kind: Number(one(fs, 6)?.int ?? 0n),
    startTimeUnixNano: fixed64(one(fs, 7)),
    endTimeUnixNano: fixed64(one(fs, 8)),
    attributes: attributes(fs, 9),
  };
}

/** ExportTraceServiceRequest → resource_spans 1 → resource 1, scope_spans 2 → scope 1, spans 2. */
export function decodeTraceRequest(buf: Buffer): { resourceSpans: Record<string, unknown>[] } {
  return {
    resourceSpans: all(fields(buf), 1).map((rs) => {
      const r = fields(rs.bytes);
      return {
        resource: resource(one(r, 1)),
        scopeSpans: all(r, 2).map((ss) => {
          const s = fields(ss.bytes);
          return { scope: scope(one(s, 1)), spans: all(s, 2).map((sp) => span(sp.bytes)) };
        }),
      };
    }),
  };
}

/** NumberDataPoint: start 2, time 3, as_double 4 (double), as_int 6 (sfixed64), attributes 7. */
function numberPoint(buf: Buffer): Record<string, unknown> {
  const fs = fields(buf);
  const asInt = one(fs, 6);
  return {
    startTimeUnixNano: fixed64(one(fs, 2)),
    timeUnixNano: fixed64(one(fs, 3)),
    ...(asInt ? { asInt: asInt.bytes.readBigInt64LE(0).toString() } : { asDouble: double(one(fs, 4)) ?? 0 }),
    attributes: attributes(fs, 7),
  };
}

/**
 * HistogramDataPoint: start 2, time 3, count 4 (fixed64), sum 5, bucket_counts 6 (packed
 * fixed64), explicit_bounds 7 (packed double), attributes 9, min 11, max 12.
 */
function histogramPoint(buf: Buffer): Record<string, unknown> {
  const fs = fields(buf);
  return {
    startTimeUnixNano: fixed64(one(fs, 2)),
    timeUnixNano: fixed64(one(fs, 3)),
    count: fixed64(one(fs, 4)),
    sum: double(one(fs, 5)),
    bucketCounts: repeated(fs, 6, 8, (b, at) => b.readBigUInt64LE(at)),
    explicitBounds: repeated(fs, 7, 8, (b, at) => b.readDoubleLE(at)),
    min: double(one(fs, 11)),
    max: double(one(fs, 12)),
    attributes: attributes(fs, 9),
  };
}

/** ExponentialHistogramDataPoint: attributes 1, the rest is not read by the tests. */
const exponentialPoint = (buf: Buffer): Record<string, unknown> => ({ attributes: attributes(fields(buf), 1) });

/** Gauge/Sum/Histogram/ExponentialHistogram { data_points 1, aggregation_temporality 2, is_monotonic 3 }. */
function data(f: Field, point: (b: Buffer) => Record<string, unknown>): Record<string, unknown> {
  const fs = fields(f.bytes);
  return {
    dataPoints: all(fs, 1).map((p) => point(p.bytes)),
    aggregationTemporality: Number(one(fs, 2)?.int ?? 0n),
    isMonotonic: one(fs, 3) ? one(fs, 3)!.int !== 0n : undefined,
  };
}

/** Metric: name 1, description 2, unit 3, gauge 5, sum 7, histogram 9, exponential_histogram 10. */
function metric(buf: Buffer): Record<string, unknown> {
  const fs = fields(buf);
  const out: Record<string, unknown> = { name: str(one(fs, 1)) ?? '', description: str(one(fs, 2)) ?? '', unit: str(one(fs, 3)) ?? '' };
  const gauge = one(fs, 5);
  const sum = one(fs, 7);
  const histogram = one(fs, 9);
  const exponential = one(fs, 10);
  if (gauge) out.gauge = data(gauge, numberPoint);
  if (sum) out.sum = data(sum, numberPoint);
  if (histogram) out.histogram = data(histogram, histogramPoint);
  if (exponential) out.exponentialHistogram = data(exponential, exponentialPoint);
  return out;
}

/** ExportMetricsServiceRequest → resource_metrics 1 → resource 1, scope_metrics 2 → scope 1, metrics 2. */
export function decodeMetricsRequest(buf: Buffer): { resourceMetrics: Record<string, unknown>[] } {
  return {
    resourceMetrics: all(fields(buf), 1).map((rm) => {
      const r = fields(rm.bytes);
      return {
        resource: resource(one(r, 1)),
        scopeMetrics: all(r, 2).map((sm) => {
          const s = fields(sm.bytes);
          return { scope: scope(one(s, 1)), metrics: all(s, 2).map((m) => metric(m.bytes)) };
        }),
      };
    }),
  };
}
