/**
 * The real OpenTelemetry SDK in a child process (in-memory span exporter, a metric reader
 * collected on demand, @opentelemetry/instrumentation-http) with loopwatch started before
 * or after it: a block in a traced request becomes an `event_loop.block` span whose parent
 * is the request's server span, the block line carries that span's ids, and loopwatch's
 * metrics are on the SDK's meter provider.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, type BlockLine, type Child, cleanup, spawnFixture } from '../helpers/child.js';
import { request, startRequest } from '../helpers/http.js';
import { pollUntil } from '../helpers/poll.js';
import { ALL_METRICS, DELAY_STATS, EVENTLOOP_DELAY } from '../../src/metrics/names.js';

beforeAll(assertBuilt);
afterEach(cleanup);

const FIXTURE = '../otel/fixtures/sdk-app.cjs';

interface SpanJson {
  name: string;
  kind: number;
  traceId: string;
  spanId: string;
  parentSpanId: string | null;
  startMs: number;
  endMs: number;
  attributes: Record<string, unknown>;
  scope: string;
}

interface MetricJson {
  scope: string;
  name: string;
  unit: string;
  type: number;
  points: { attributes: Record<string, unknown>; value: unknown }[];
}

const SERVER = 1;

async function getJson<T>(port: number, path: string): Promise<T> {
  const res = await request(port, path);
  expect(res.status, `GET ${path}: ${res.body}`).toBe(200);
  return JSON.parse(res.body) as T;
}

/** Blocks in `path`, then waits for its line and for the span the SDK exported for it. */
async function blockAndFindSpan(child: Child, port: number, path: string): Promise<{ line: BlockLine; block: SpanJson; spans: SpanJson[] }> {
  const before = child.blocks().length;
  expect((await request(port, path)).status).toBe(200);
  // run() names the route but has no request, so no path: /report/:id is found by its route.
  const mine = (b: BlockLine): boolean => b.block.context.path === path || (b.block.context.route === '/report/:id' && path.startsWith('/report/'));
  const line = await child.waitFor(() => child.blocks().slice(before).find(mine), { timeoutMs: 10_000, what: `a block line for ${path}` });
  let spans: SpanJson[] = [];
  const block = await pollUntil(async () => {
    spans = await getJson<SpanJson[]>(port, '/spans');
    return spans.find((s) => s.name === 'event_loop.block' && s.attributes['loopwatch.block.id'] === line.block.id);
  }, { timeoutMs: 10_000, what: `an event_loop.block span for block ${line.block.id}`, intervalMs: 50 }, () => `spans: ${JSON.stringify(spans.map((s) => s.name))}\n${child.describe()}`);
  return { line, block, spans };
}

function expectChildOfServerSpan(line: BlockLine, block: SpanJson, spans: SpanJson[], path: string): SpanJson {
  const server = spans.find((s) => s.kind === SERVER && s.attributes['url.path'] === path);
  expect(server, `server span for ${path} among ${JSON.stringify(spans.map((s) => [s.name, s.kind, s.attributes['url.path']]))}`).toBeDefined();
  const seen = JSON.stringify({ line, block, server });
  // The probe read the active span inside the blocked handler.
  expect(line.block.context.traceId, seen).toBe(server!.traceId);
  expect(line.block.context.spanId, seen).toBe(server!.spanId);
  expect((line.block.context as { traceFlags?: number }).traceFlags, seen).toBe(1);
  // The block span is the server span's child.
  expect(block.traceId, seen).toBe(server!.traceId);
  expect(block.parentSpanId, seen).toBe(server!.spanId);
  expect(block.scope).toBe('loopwatch');
  // Real start and end: those of the block, and inside the request give or take the
  // parsing that came before the handler (a few ms of the same busy stretch).
  expect(Math.abs(block.startMs - Date.parse(line.block.startedAt)), seen).toBeLessThan(1.5);
  expect(Math.abs(block.endMs - block.startMs - line.block.durationMs), seen).toBeLessThan(1);
  expect(block.startMs, seen).toBeGreaterThan(server!.startMs - 50);
  expect(block.endMs, seen).toBeLessThan(server!.endMs + 50);
  // Attributes of the span contract (README, "OpenTelemetry").
  const a = block.attributes;
  // The span says what the block event says (which function that is, is attribution's
  // business, tested with the block lines; on a loaded machine a late sample can name
  // another frame).
  const culprit = line.block.culprit!;
  expect(a['code.function.name'], seen).toBe(culprit.function);
  expect(a['code.file.path'], seen).toBe(culprit.file);
  expect(a['code.line.number'], seen).toBe(culprit.line);
  expect(a['code.column.number'], seen).toBe(culprit.column);
  expect(culprit.file, seen).toBe('test/otel/fixtures/sdk-app.cjs');
  expect(String(a['code.stacktrace']).split('\n'), seen).toEqual(line.block.stack.map((f) => `    at ${f.function} (${f.file}:${f.line}:${f.column})`));
  expect(line.block.stack.some((f) => f.function === 'renderReport'), seen).toBe(true);
  expect(a['thread.id'], seen).toBe(0);
  expect(a['loopwatch.block.fingerprint'], seen).toBe(line.block.fingerprint);
  return server!;
}

function metric(metrics: MetricJson[], name: string, scope = 'loopwatch'): MetricJson | undefined {
  return metrics.find((m) => m.name === name && m.scope === scope);
}

describe('OpenTelemetry SDK with the in-flight ledger (LOOPWATCH_CONTEXT=inflight)', () => {
  it('two requests in flight: the active server span picks the one a block after an await belongs to', async () => {
    const child = spawnFixture(FIXTURE, { loader: 'require', env: { OTEL_ORDER: 'after', LOOPWATCH_CONTEXT: 'inflight' } });
    const port = await child.port();
    const hold = startRequest(port, '/hold/2000');
    await child.waitForStdout('holding /hold/2000');
    expect((await request(port, '/later/200')).status).toBe(200);
    const line = await child.waitFor(() => child.blocks().find((b) => b.block.durationMs >= 150), { timeoutMs: 10_000, what: 'the block after the await' });
    const seen = JSON.stringify(line.block);
    // Without the span the ledger could only name both (test/agent/context-modes.test.ts).
    expect(line.block.context, seen).toMatchObject({ kind: 'http', method: 'GET', path: '/later/200', inFlight: 2 });
    expect(line.block.context.candidates, seen).toBeUndefined();
    const spans = await pollUntil(async () => {
      const all = await getJson<SpanJson[]>(port, '/spans');
      return all.some((s) => s.kind === SERVER && s.attributes['url.path'] === '/later/200') ? all : undefined;
    }, { timeoutMs: 10_000, intervalMs: 50, what: 'the server span of /later/200' });
    const server = spans.find((s) => s.kind === SERVER && s.attributes['url.path'] === '/later/200')!;
    expect(line.block.context.traceId, seen).toBe(server.traceId);
    expect((await hold.response).status).toBe(200);
  });
});

const ORDERS = [
  { order: 'after', what: 'loopwatch preloaded with --require, the SDK started later by the app', loader: 'require' as const },
  { order: 'before', what: 'the SDK started first, loopwatch/register required after it', loader: 'none' as const },
];

describe.each(ORDERS)('OpenTelemetry SDK, $what', ({ order, loader }) => {
  it('a block in a traced request is a child span of the HTTP server span, with the ids in the block line', async () => {
    const child = spawnFixture(FIXTURE, { loader, env: { OTEL_ORDER: order } });
    const port = await child.port();
    const { line, block, spans } = await blockAndFindSpan(child, port, '/block/150');
    expectChildOfServerSpan(line, block, spans, '/block/150');
    // node:http alone knows no route template: no http.route then.
    expect(block.attributes['http.route']).toBeUndefined();

    const report = await blockAndFindSpan(child, port, '/report/7');
    expectChildOfServerSpan(report.line, report.block, report.spans, '/report/7');
    expect(report.block.attributes['http.route']).toBe('/report/:id');
  });

  it('publishes every metric of the contract on the SDK\'s meter provider, with units and bounded block labels', async () => {
    const child = spawnFixture(FIXTURE, { loader, env: { OTEL_ORDER: order } });
    const port = await child.port();
    const { line } = await blockAndFindSpan(child, port, '/report/1');
    const { metrics, errors } = await getJson<{ metrics: MetricJson[]; errors: string[] }>(port, '/metrics');
    expect(errors).toEqual([]);
    const seen = JSON.stringify(metrics.filter((m) => m.scope === 'loopwatch'));
    for (const m of ALL_METRICS) {
      const found = metric(metrics, m.otel);
      expect(found, `${m.otel} in ${seen}`).toBeDefined();
      expect(found!.unit, m.otel).toBe(m.unit);
      expect(found!.points.length, `${m.otel} has data: ${seen}`).toBeGreaterThan(0);
    }
    const duration = metric(metrics, 'loopwatch.block.duration')!;
    const reportPoint = duration.points.find((p) => p.attributes.route === '/report/:id');
    expect(reportPoint, seen).toBeDefined();
    expect(reportPoint!.attributes).toEqual({ route: '/report/:id', culprit: `${line.block.culprit!.function} (test/otel/fixtures/sdk-app.cjs)`, thread: 'main', cause: line.block.cause });
    const hist = reportPoint!.value as { count: number; sum: number };
    expect(hist.count).toBe(1);
    expect(hist.sum).toBeGreaterThan(0.12);
    const blocked = metric(metrics, 'loopwatch.blocked.time')!.points.find((p) => p.attributes.route === '/report/:id');
    expect(blocked?.attributes).toEqual({ route: '/report/:id', thread: 'main', cause: line.block.cause });
    expect(blocked?.value as number).toBeGreaterThan(0.12);
    // The 150 ms block delayed a beat by at least 100 ms, within this first interval.
    expect(metric(metrics, EVENTLOOP_DELAY.max.otel)!.points[0].value as number, seen).toBeGreaterThan(0.1);
    const delayHist = metric(metrics, 'loopwatch.eventloop.delay')!.points[0].value as { count: number; buckets: { counts: number[] } };
    expect(delayHist.count).toBeGreaterThan(0);
    expect(delayHist.buckets.counts.slice(7).reduce((a, b) => a + b, 0), 'a beat delayed >= 100 ms').toBeGreaterThan(0);
    const util = metric(metrics, 'nodejs.eventloop.utilization')!.points[0].value as number;
    expect(util).toBeGreaterThan(0);
    expect(util).toBeLessThanOrEqual(1);
    const time = metric(metrics, 'nodejs.eventloop.time')!.points.map((p) => p.attributes['nodejs.eventloop.state']).sort();
    expect(time).toEqual(['active', 'idle']);
  });
});

describe('overlap with @opentelemetry/instrumentation-runtime-node', () => {
  it('leaves nodejs.eventloop.* to runtime-node when it is loaded, keeps loopwatch.*', async () => {
    const child = spawnFixture(FIXTURE, { env: { OTEL_ORDER: 'after', RUNTIME_NODE: '1' } });
    const port = await child.port();
    await blockAndFindSpan(child, port, '/block/120');
    // runtime-node reports its delay gauges once its own histogram has 5 samples.
    let metrics: MetricJson[] = [];
    await pollUntil(async () => {
      metrics = (await getJson<{ metrics: MetricJson[] }>(port, '/metrics')).metrics;
      return metrics.some((m) => m.name === EVENTLOOP_DELAY.p99.otel);
    }, { timeoutMs: 10_000, what: 'runtime-node\'s delay gauges', intervalMs: 200 }).catch(() => undefined);
    const ours = metrics.filter((m) => m.scope === 'loopwatch' && m.points.length > 0).map((m) => m.name);
    const runtime = metrics.filter((m) => m.scope === '@opentelemetry/instrumentation-runtime-node').map((m) => m.name);
    expect(runtime, 'runtime-node publishes the delay gauges itself').toContain(EVENTLOOP_DELAY.p99.otel);
    for (const s of DELAY_STATS) expect(ours, JSON.stringify(ours)).not.toContain(EVENTLOOP_DELAY[s].otel);
    expect(ours).not.toContain('nodejs.eventloop.utilization');
    expect(ours).not.toContain('nodejs.eventloop.time');
    expect(ours).toEqual(expect.arrayContaining(['loopwatch.block.duration', 'loopwatch.blocked.time', 'loopwatch.eventloop.delay']));
  });

  it('LOOPWATCH_OTEL_RUNTIME_METRICS=on publishes them anyway', async () => {
    const child = spawnFixture(FIXTURE, { env: { OTEL_ORDER: 'after', RUNTIME_NODE: '1', LOOPWATCH_OTEL_RUNTIME_METRICS: 'on' } });
    const port = await child.port();
    const { metrics } = await getJson<{ metrics: MetricJson[] }>(port, '/metrics');
    const ours = metrics.filter((m) => m.scope === 'loopwatch' && m.points.length > 0).map((m) => m.name);
    expect(ours).toContain('nodejs.eventloop.time');
    expect(ours).toContain('nodejs.eventloop.utilization');
  });
});

describe('LOOPWATCH_OTEL=off', () => {
  it('publishes nothing to OpenTelemetry, and still puts the trace ids in the block line', async () => {
    const child = spawnFixture(FIXTURE, { env: { OTEL_ORDER: 'after', LOOPWATCH_OTEL: 'off' } });
    const port = await child.port();
    expect((await request(port, '/block/120')).status).toBe(200);
    const line = await child.waitFor(() => child.blocks().find((b) => b.block.context.path === '/block/120'), { timeoutMs: 10_000, what: 'the block line' });
    const spans = await getJson<SpanJson[]>(port, '/spans');
    const server = spans.find((s) => s.kind === SERVER && s.attributes['url.path'] === '/block/120');
    expect(line.block.context.traceId).toBe(server?.traceId);
    expect(spans.filter((s) => s.scope === 'loopwatch')).toEqual([]);
    const { metrics } = await getJson<{ metrics: MetricJson[] }>(port, '/metrics');
    expect(metrics.filter((m) => m.scope === 'loopwatch')).toEqual([]);
  });
});
