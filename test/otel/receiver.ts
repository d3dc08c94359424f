/**
 * A small OTLP receiver on 127.0.0.1 for the tests, for the three protocols of the OTLP
 * exporters: OTLP/HTTP on /v1/traces and /v1/metrics with JSON bodies (the -otlp-http
 * packages) or protobuf bodies (-otlp-proto), and OTLP/gRPC (-otlp-grpc) on a real gRPC
 * server. It decodes the requests (protobuf with ./protobuf.ts) and keeps the spans and
 * metrics with their resource attributes, and how each request came.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { Server as GrpcServer, ServerCredentials, status as grpcStatus, type MethodDefinition, type sendUnaryData, type ServerUnaryCall } from '@grpc/grpc-js';
import { decodeMetricsRequest, decodeTraceRequest } from './protobuf.js';

type AnyValue = { stringValue?: string; intValue?: number | string; doubleValue?: number; boolValue?: boolean };
type KeyValue = { key: string; value: AnyValue };

export interface ReceivedSpan {
  name: string;
  traceId: string;
  spanId: string;
  parentSpanId: string;
  startMs: number;
  endMs: number;
  attributes: Record<string, unknown>;
  resource: Record<string, unknown>;
  scope: string;
}

export interface ReceivedMetric {
  name: string;
  unit: string;
  scope: string;
  resource: Record<string, unknown>;
  /** The data points of whichever kind the metric is (gauge, sum, histogram). */
  points: { attributes: Record<string, unknown>; [k: string]: unknown }[];
}

function value(v: AnyValue): unknown {
  if (v.stringValue !== undefined) return v.stringValue;
  if (v.intValue !== undefined) return Number(v.intValue);
  if (v.doubleValue !== undefined) return v.doubleValue;
  if (v.boolValue !== undefined) return v.boolValue;
  return v;
}

export function attrs(list: KeyValue[] | undefined): Record<string, unknown> {
  return Object.fromEntries((list ?? []).map((kv) => [kv.key, value(kv.value)]));
}

/** How a request came: its encoding as OTEL_EXPORTER_OTLP_PROTOCOL names it. */
export type ReceivedProtocol = 'http/json' | 'http/protobuf' | 'grpc';

export interface ReceivedRequest {
  /** /v1/traces, /v1/metrics, or the gRPC method path. */
  path: string;
  signal: 'traces' | 'metrics' | 'unknown';
  contentType: string;
  protocol: ReceivedProtocol | 'unknown';
  /** content-encoding of an HTTP body ('gzip' with OTEL_EXPORTER_OTLP_COMPRESSION=gzip), '' if none. */
  encoding: string;
}

/** The gRPC methods of the OTLP collector services (opentelemetry-proto, collector/{trace,metrics}/v1). */
export const GRPC_PATHS = Object.freeze({
  traces: '/opentelemetry.proto.collector.trace.v1.TraceService/Export',
  metrics: '/opentelemetry.proto.collector.metrics.v1.MetricsService/Export',
});

const HTTP_PATHS: Partial<Record<string, 'traces' | 'metrics'>> = { '/v1/traces': 'traces', '/v1/metrics': 'metrics' };

/** Raw bytes both ways: the receiver decodes the requests itself, and an empty Export*ServiceResponse is zero bytes. */
const rawMethod = (path: string): MethodDefinition<Buffer, Buffer> => ({
  path,
  requestStream: false,
  responseStream: false,
  requestSerialize: (b: Buffer) => b,
  requestDeserialize: (b: Buffer) => b,
  responseSerialize: (b: Buffer) => b,
  responseDeserialize: (b: Buffer) => b,
});

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

const nanosToMs = (n: string | number): number => Number(BigInt(n) / 1000n) / 1e3;

/** The spans of an ExportTraceServiceRequest in the OTLP/JSON shape. */
export function readSpans(json: Record<string, unknown>): ReceivedSpan[] {
  const out: ReceivedSpan[] = [];
  for (const rs of (json.resourceSpans ?? []) as { resource?: { attributes?: KeyValue[] }; scopeSpans?: { scope?: { name?: string }; spans?: Record<string, unknown>[] }[] }[]) {
    const resource = attrs(rs.resource?.attributes);
    for (const ss of rs.scopeSpans ?? []) {
      for (const s of ss.spans ?? []) {
        out.push({
          name: s.name as string,
          traceId: s.traceId as string,
          spanId: s.spanId as string,
          parentSpanId: (s.parentSpanId as string) ?? '',
          startMs: nanosToMs(s.startTimeUnixNano as string),
          endMs: nanosToMs(s.endTimeUnixNano as string),
          attributes: attrs(s.attributes as KeyValue[]),
          resource,
          scope: ss.scope?.name ?? '',
        });
      }
    }
  }
  return out;
}

/** The metrics of an ExportMetricsServiceRequest in the OTLP/JSON shape. */
export function readMetrics(json: Record<string, unknown>): ReceivedMetric[] {
  const out: ReceivedMetric[] = [];
  for (const rm of (json.resourceMetrics ?? []) as { resource?: { attributes?: KeyValue[] }; scopeMetrics?: { scope?: { name?: string }; metrics?: Record<string, unknown>[] }[] }[]) {
    const resource = attrs(rm.resource?.attributes);
    for (const sm of rm.scopeMetrics ?? []) {
      for (const m of sm.metrics ?? []) {
        const data = (m.gauge ?? m.sum ?? m.histogram ?? {}) as { dataPoints?: (Record<string, unknown> & { attributes?: KeyValue[] })[] };
        out.push({
          name: m.name as string,
          unit: (m.unit as string) ?? '',
          scope: sm.scope?.name ?? '',
          resource,
          points: (data.dataPoints ?? []).map((p) => ({ ...p, attributes: attrs(p.attributes) })),
        });
      }
    }
  }
  return out;
}

export class OtlpReceiver {
  readonly spans: ReceivedSpan[] = [];
  readonly metrics: ReceivedMetric[] = [];
  readonly requests: ReceivedRequest[] = [];
  /** Bodies that could not be decoded, with the reason (a test failure names them). */
  readonly errors: string[] = [];
  /** When false, requests are accepted and never answered (a collector that hangs). */
  respond = true;
  #server: Server | undefined;
  #grpc: GrpcServer | undefined;

  /** Starts the OTLP/HTTP side (JSON and protobuf bodies); resolves to its port. */
  async start(): Promise<number> {
    this.#server = createServer((req, res) => {
      readBody(req).then((raw) => {
        const path = req.url ?? '';
        const contentType = String(req.headers['content-type']);
        const protocol = contentType.startsWith('application/json') ? 'http/json' : contentType.startsWith('application/x-protobuf') ? 'http/protobuf' : 'unknown';
        const signal = HTTP_PATHS[path] ?? 'unknown';
        const encoding = req.headers['content-encoding'] ?? '';
        this.requests.push({ path, signal, contentType, protocol, encoding });
        try {
          const body = encoding === 'gzip' ? gunzipSync(raw) : raw;
          if (protocol === 'unknown' || signal === 'unknown') throw new Error(`unexpected ${contentType} request on ${path}`);
          this.#accept(signal, protocol === 'http/json' ? (JSON.parse(body.toString('utf8')) as Record<string, unknown>) : body);
        } catch (err) {
          this.errors.push(`${path} (${contentType}): ${(err as Error).message}`);
          res.statusCode = 400;
        }
        if (!this.respond) return;
        // An empty Export*ServiceResponse in the request's own encoding.
        res.setHeader('content-type', protocol === 'http/protobuf' ? 'application/x-protobuf' : 'application/json');
        res.end(protocol === 'http/protobuf' ? '' : '{}');
      }, () => res.destroy());
    });
    await new Promise<void>((resolve) => this.#server!.listen(0, '127.0.0.1', resolve));
    return (this.#server.address() as AddressInfo).port;
  }

  /**
   * Starts a real gRPC server (@grpc/grpc-js, plaintext HTTP/2) serving the two OTLP
   * Export methods; resolves to its port. The exporters reach it at http://127.0.0.1:port.
   */
  async startGrpc(): Promise<number> {
    const server = new GrpcServer();
    for (const signal of ['traces', 'metrics'] as const) {
      const path = GRPC_PATHS[signal];
      server.addService({ Export: rawMethod(path) }, {
        Export: (call: ServerUnaryCall<Buffer, Buffer>, callback: sendUnaryData<Buffer>) => {
          this.requests.push({ path, signal, contentType: String(call.metadata.get('content-type')[0] ?? 'application/grpc'), protocol: 'grpc', encoding: '' });
          try {
            this.#accept(signal, call.request);
          } catch (err) {
            this.errors.push(`${path} (grpc): ${(err as Error).message}`);
            if (this.respond) callback({ code: grpcStatus.INVALID_ARGUMENT, details: (err as Error).message });
            return;
          }
          if (this.respond) callback(null, Buffer.alloc(0));
        },
      });
    }
    this.#grpc = server;
    return new Promise<number>((resolve, reject) => {
      server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (err, port) => (err ? reject(err) : resolve(port)));
    });
  }

  /** A request's body: the OTLP/JSON object, or protobuf bytes decoded into that shape. */
  #accept(signal: 'traces' | 'metrics', body: Record<string, unknown> | Buffer): void {
    if (signal === 'traces') this.#traces(Buffer.isBuffer(body) ? decodeTraceRequest(body) : body);
    else this.#metrics(Buffer.isBuffer(body) ? decodeMetricsRequest(body) : body);
  }

  /** The protocols requests of a signal came by so far. */
  protocols(signal: 'traces' | 'metrics'): Set<string> {
    return new Set(this.requests.filter((r) => r.signal === signal).map((r) => r.protocol));
  }

  #traces(json: Record<string, unknown>): void {
    this.spans.push(...readSpans(json));
  }

  #metrics(json: Record<string, unknown>): void {
    this.metrics.push(...readMetrics(json));
  }

  async close(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    const grpc = this.#grpc;
    this.#grpc = undefined;
    grpc?.forceShutdown();
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
