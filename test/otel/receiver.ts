/**
 * A small OTLP/HTTP receiver on 127.0.0.1 for the tests: it accepts the JSON encoding
 * (what @opentelemetry/exporter-*-otlp-http send) on /v1/traces and /v1/metrics, decodes
 * the requests and keeps the spans and metrics with their resource attributes.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

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

const nanosToMs = (n: string | number): number => Number(BigInt(n) / 1000n) / 1e3;

export class OtlpReceiver {
  readonly spans: ReceivedSpan[] = [];
  readonly metrics: ReceivedMetric[] = [];
  readonly requests: { path: string; contentType: string }[] = [];
  /** When false, requests are accepted and never answered (a collector that hangs). */
  respond = true;
  #server: Server | undefined;

  async start(): Promise<number> {
    this.#server = createServer((req, res) => {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (c: string) => (body += c));
      req.on('end', () => {
        this.requests.push({ path: req.url ?? '', contentType: String(req.headers['content-type']) });
        try {
          const json = JSON.parse(body) as Record<string, unknown>;
          if (req.url === '/v1/traces') this.#traces(json);
          if (req.url === '/v1/metrics') this.#metrics(json);
        } catch {
          res.statusCode = 400;
        }
        if (!this.respond) return;
        res.setHeader('content-type', 'application/json');
        res.end('{}');
      });
    });
    await new Promise<void>((resolve) => this.#server!.listen(0, '127.0.0.1', resolve));
    return (this.#server.address() as AddressInfo).port;
  }

  #traces(json: Record<string, unknown>): void {
    for (const rs of (json.resourceSpans ?? []) as { resource?: { attributes?: KeyValue[] }; scopeSpans?: { scope?: { name?: string }; spans?: Record<string, unknown>[] }[] }[]) {
      const resource = attrs(rs.resource?.attributes);
      for (const ss of rs.scopeSpans ?? []) {
        for (const s of ss.spans ?? []) {
          this.spans.push({
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
  }

  #metrics(json: Record<string, unknown>): void {
    for (const rm of (json.resourceMetrics ?? []) as { resource?: { attributes?: KeyValue[] }; scopeMetrics?: { scope?: { name?: string }; metrics?: Record<string, unknown>[] }[] }[]) {
      const resource = attrs(rm.resource?.attributes);
      for (const sm of rm.scopeMetrics ?? []) {
        for (const m of sm.metrics ?? []) {
          const data = (m.gauge ?? m.sum ?? m.histogram ?? {}) as { dataPoints?: (Record<string, unknown> & { attributes?: KeyValue[] })[] };
          this.metrics.push({
            name: m.name as string,
            unit: (m.unit as string) ?? '',
            scope: sm.scope?.name ?? '',
            resource,
            points: (data.dataPoints ?? []).map((p) => ({ ...p, attributes: attrs(p.attributes) })),
          });
        }
      }
    }
  }

  async close(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
