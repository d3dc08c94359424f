/**
 * OTLP without code: a child process started with `--require dist/register.cjs` and only
 * OTEL_* variables (no SDK of its own) sends loopwatch's metrics and block spans to a real
 * OTLP receiver on 127.0.0.1, flushes at exit, and exits by itself. Over http/json where a
 * test says so, else the default protocol (http/protobuf); otlp-protocols.test.ts has
 * each protocol and the variables that choose it.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, cleanup, quit, spawnFixture, warnings } from '../helpers/child.js';
import { request } from '../helpers/http.js';
import { ALL_METRICS } from '../../src/metrics/names.js';
import { OtlpReceiver } from './receiver.js';

beforeAll(assertBuilt);

let receiver: OtlpReceiver;
afterEach(async () => {
  await cleanup();
  await receiver?.close();
});

async function startReceiver(): Promise<string> {
  receiver = new OtlpReceiver();
  const port = await receiver.start();
  return `http://127.0.0.1:${port}`;
}

const FAST = { OTEL_METRIC_EXPORT_INTERVAL: '300', OTEL_BSP_SCHEDULE_DELAY: '50' };

describe('OTLP/HTTP from OTEL_* variables under --require dist/register.cjs', () => {
  it.each([
    { loader: 'require' as const, fixture: 'http-app.cjs' },
    { loader: 'import' as const, fixture: 'http-app.mjs' },
  ])('exports block spans and every metric to the receiver, with the service name (--$loader)', async ({ loader, fixture }) => {
    const endpoint = await startReceiver();
    const child = spawnFixture(fixture, {
      loader,
      env: { ...FAST, OTEL_EXPORTER_OTLP_ENDPOINT: endpoint, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json', OTEL_SERVICE_NAME: 'otlp-test-app' },
    });
    const port = await child.port();
    expect((await request(port, '/block/sync?ms=150')).status).toBe(200);
    // That request's block (a busy machine can add others).
    const line = await child.waitFor(() => child.blocks().find((b) => b.block.context.path === '/block/sync'), { timeoutMs: 10_000, what: 'the block line of /block/sync' });
    const span = await child.waitFor(() => receiver.spans.find((s) => s.attributes['loopwatch.block.id'] === line.block.id), { timeoutMs: 10_000, what: 'the block span at the receiver' });
    const seen = JSON.stringify({ span, line });
    expect(span.name).toBe('event_loop.block');
    expect(span.scope).toBe('loopwatch');
    expect(span.resource['service.name'], seen).toBe('otlp-test-app');
    // The span mirrors the event (the culprit's name itself is attribution's business).
    expect(span.attributes['code.function.name'], seen).toBe(line.block.culprit?.function);
    expect(line.block.stack.some((f) => f.function === 'burnCpu'), seen).toBe(true);
    expect(span.attributes['code.file.path'], seen).toBe(`test/fixtures/${fixture}`);
    expect(span.attributes['loopwatch.block.fingerprint'], seen).toBe(line.block.fingerprint);
    // No SDK in the app: no request span to be a child of.
    expect(span.parentSpanId, seen).toBe('');
    expect(Math.abs(span.endMs - span.startMs - line.block.durationMs), seen).toBeLessThan(1);

    await child.waitFor(() => ALL_METRICS.every((m) => receiver.metrics.some((r) => r.name === m.otel && r.points.length > 0)), {
      timeoutMs: 10_000,
      what: `every metric at the receiver (have ${[...new Set(receiver.metrics.map((m) => m.name))].join(', ')})`,
    });
    for (const m of ALL_METRICS) {
      expect(receiver.metrics.find((r) => r.name === m.otel)!.unit, m.otel).toBe(m.unit);
    }
    const duration = await child.waitFor(() => receiver.metrics.find((m) => m.name === 'loopwatch.block.duration' && m.points.some((p) => p.attributes.culprit === `${line.block.culprit?.function} (test/fixtures/${fixture})`)), { timeoutMs: 10_000, what: 'the block in loopwatch.block.duration' });
    expect(duration.resource['service.name']).toBe('otlp-test-app');
    expect(receiver.requests.every((r) => r.contentType.startsWith('application/json'))).toBe(true);

    const exit = await quit(child, port, 8000);
    expect(exit).toEqual({ code: 0, signal: null });
  });

  it('flushes a block that ended right before the process ran out of work, and exits by itself', async () => {
    const endpoint = await startReceiver();
    // Default schedule (5 s batches, 60 s metric interval): only the exit flush can deliver it.
    const child = spawnFixture('../otel/fixtures/block-then-exit.cjs', { env: { OTEL_EXPORTER_OTLP_ENDPOINT: endpoint } });
    await child.ready();
    const started = performance.now();
    const exit = await child.waitForExit(10_000);
    expect(exit, child.describe()).toEqual({ code: 0, signal: null });
    expect(performance.now() - started, 'exit came soon after the block').toBeLessThan(5000);
    const span = receiver.spans.find((s) => String(s.attributes['code.stacktrace']).includes('at finalReport ('));
    expect(span, `spans: ${JSON.stringify(receiver.spans.map((s) => s.attributes['code.function.name']))}\n${child.describe()}`).toBeDefined();
    expect(receiver.metrics.some((m) => m.name === 'loopwatch.block.duration')).toBe(true);
  });

  it('a collector that never answers delays the exit by a bounded time only', async () => {
    const endpoint = await startReceiver();
    receiver.respond = false;
    const child = spawnFixture('../otel/fixtures/block-then-exit.cjs', { env: { OTEL_EXPORTER_OTLP_ENDPOINT: endpoint } });
    await child.ready();
    const started = performance.now();
    const exit = await child.waitForExit(15_000);
    expect(exit, child.describe()).toEqual({ code: 0, signal: null });
    // The exporters' timeout is 2 s when OTEL_EXPORTER_OTLP_TIMEOUT is not set.
    expect(performance.now() - started, child.describe()).toBeLessThan(8000);
    expect(receiver.requests.length, 'the flush was attempted').toBeGreaterThan(0);
  });

  it('a script that only loads the agent with OTLP configured exits by itself, with unchanged output', async () => {
    const endpoint = await startReceiver();
    // A high threshold: on a loaded 2-core machine the first HTTP request of the exit flush
    // (lazy loading of node's client) can itself pass 50 ms; that is not what this tests.
    const child = spawnFixture('hello.cjs', { env: { OTEL_EXPORTER_OTLP_ENDPOINT: endpoint, LOOPWATCH_THRESHOLD_MS: '1000' } });
    const exit = await child.waitForExit(10_000);
    expect(exit).toEqual({ code: 0, signal: null });
    expect(child.stdout).toBe('hello\nbye\n');
    expect(child.stderr).toBe('to stderr\n');
    // The exit flush sent the (few) metrics it had.
    expect(receiver.requests.some((r) => r.path === '/v1/metrics')).toBe(true);
  });

  it('stops exporting itself once the app registers its own SDK: later block spans go to the app only', async () => {
    const endpoint = await startReceiver();
    const child = spawnFixture('../otel/fixtures/otlp-then-sdk.cjs', { env: { ...FAST, OTEL_EXPORTER_OTLP_ENDPOINT: endpoint } });
    await child.ready();
    const first = JSON.parse((await child.waitForStdout(/^\{"first"/, 10_000)).text) as { first: string };
    await child.waitFor(() => receiver.spans.find((s) => s.attributes['loopwatch.block.id'] === first.first), { timeoutMs: 10_000, what: 'the first block span at the receiver (no SDK yet)' });
    const second = JSON.parse((await child.waitForStdout(/^\{"second"/, 10_000)).text) as { second: string; appSpans: string[] };
    expect(second.appSpans).toContain(second.second);
    expect(await child.waitForExit(10_000)).toEqual({ code: 0, signal: null });
    // The pipeline was shut down before the second span was emitted, so nothing of it can come later.
    expect(receiver.spans.map((s) => s.attributes['loopwatch.block.id'])).not.toContain(second.second);
  });

  it('LOOPWATCH_OTEL=off: nothing is exported, even with an endpoint set', async () => {
    const endpoint = await startReceiver();
    const child = spawnFixture('../otel/fixtures/block-then-exit.cjs', { env: { OTEL_EXPORTER_OTLP_ENDPOINT: endpoint, LOOPWATCH_OTEL: 'off' } });
    await child.ready();
    expect(await child.waitForExit(10_000)).toEqual({ code: 0, signal: null });
    // The block was seen (its line is there), and nothing went to the receiver.
    expect(child.blocks().some((b) => b.block.durationMs >= 100), child.describe()).toBe(true);
    expect(receiver.requests).toEqual([]);
  });

  it('missing exporter packages: one warning naming them; the agent works on', async () => {
    // No protocol set: the default, http/protobuf, needs the -proto exporters.
    const child = spawnFixture('../otel/fixtures/otlp-missing.cjs', { loader: 'none', env: { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:9', HIDE_MODULES: '@opentelemetry/exporter-trace-otlp-proto' } });
    await child.ready();
    await child.waitForBlocks(1, { timeoutMs: 10_000 });
    const exit = await child.waitForExit(10_000);
    expect(exit).toEqual({ code: 0, signal: null });
    const lines = warnings(child.stderr, 'LOOPWATCH_WARN_OTLP_PACKAGES');
    expect(lines, child.stderr).toHaveLength(1);
    expect(lines[0]).toContain('OTEL_EXPORTER_OTLP_ENDPOINT is set');
    for (const pkg of ['@opentelemetry/api', '@opentelemetry/sdk-metrics', '@opentelemetry/sdk-trace-base', '@opentelemetry/exporter-metrics-otlp-proto', '@opentelemetry/exporter-trace-otlp-proto']) {
      expect(lines[0]).toContain(pkg);
    }
    expect(lines[0]).toContain('missing: @opentelemetry/exporter-trace-otlp-proto)');
  });
});
