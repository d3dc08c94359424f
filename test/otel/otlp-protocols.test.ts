/**
 * OTLP the way OpenTelemetry users configure it: under `--require dist/register.cjs`, the
 * OTEL_EXPORTER_OTLP_PROTOCOL variable and its per-signal forms alone choose http/protobuf,
 * http/json or grpc for traces and metrics, each sent by the official exporter of that
 * protocol to a real receiver on 127.0.0.1 (an HTTP server decoding JSON and protobuf, a
 * gRPC server); unset means http/protobuf, as in the SDKs.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, cleanup, quit, spawnFixture, warnings } from '../helpers/child.js';
import { request } from '../helpers/http.js';
import { ALL_METRICS } from '../../src/metrics/names.js';
import { OtlpReceiver, type ReceivedProtocol } from './receiver.js';

beforeAll(assertBuilt);

let receiver: OtlpReceiver | undefined;
afterEach(async () => {
  await cleanup();
  await receiver?.close();
  receiver = undefined;
});

const FAST = { OTEL_METRIC_EXPORT_INTERVAL: '300', OTEL_BSP_SCHEDULE_DELAY: '50' };

/** A receiver listening for both transports; the base URL of each. */
async function startReceiver(): Promise<{ rx: OtlpReceiver; http: string; grpc: string }> {
  const rx = new OtlpReceiver();
  receiver = rx;
  const [httpPort, grpcPort] = await Promise.all([rx.start(), rx.startGrpc()]);
  return { rx, http: `http://127.0.0.1:${httpPort}`, grpc: `http://127.0.0.1:${grpcPort}` };
}

/** What the receiver has seen, for failure messages. */
const seenBy = (rx: OtlpReceiver): string =>
  `requests: ${JSON.stringify(rx.requests.map((r) => `${r.signal} ${r.protocol} ${r.path}`))}; decode errors: ${JSON.stringify(rx.errors)}`;

describe('OTEL_EXPORTER_OTLP_PROTOCOL chooses the protocol of loopwatch\'s own OTLP pipeline', () => {
  it.each<{ protocol: ReceivedProtocol; env?: string; loader: 'require' | 'import' }>([
    { protocol: 'http/protobuf', env: 'http/protobuf', loader: 'require' },
    { protocol: 'http/json', env: 'http/json', loader: 'require' },
    { protocol: 'grpc', env: 'grpc', loader: 'require' },
    { protocol: 'http/protobuf', env: undefined, loader: 'require' },
    // The ES-module entry finds the packages (and @grpc/grpc-js) the same way.
    { protocol: 'grpc', env: 'grpc', loader: 'import' },
  ])('$env → block spans and every metric arrive over $protocol (--$loader)', async ({ protocol, env, loader }) => {
    const { rx, http, grpc } = await startReceiver();
    const fixture = loader === 'import' ? 'http-app.mjs' : 'http-app.cjs';
    const child = spawnFixture(fixture, {
      loader,
      env: {
        ...FAST,
        OTEL_EXPORTER_OTLP_ENDPOINT: protocol === 'grpc' ? grpc : http,
        ...(env === undefined ? {} : { OTEL_EXPORTER_OTLP_PROTOCOL: env }),
        OTEL_SERVICE_NAME: 'protocol-test-app',
      },
    });
    const port = await child.port();
    expect((await request(port, '/block/sync?ms=150')).status).toBe(200);
    const line = await child.waitFor(() => child.blocks().find((b) => b.block.context.path === '/block/sync'), { timeoutMs: 10_000, what: 'the block line of /block/sync' });
    const span = await child.waitFor(() => rx.spans.find((s) => s.attributes['loopwatch.block.id'] === line.block.id), { timeoutMs: 10_000, what: `the block span at the receiver (${seenBy(rx)})` });
    const seen = JSON.stringify({ span, line });
    expect(span.name).toBe('event_loop.block');
    expect(span.scope).toBe('loopwatch');
    expect(span.resource['service.name'], seen).toBe('protocol-test-app');
    expect(span.attributes['code.function.name'], seen).toBe(line.block.culprit?.function);
    expect(span.attributes['code.file.path'], seen).toBe(`test/fixtures/${fixture}`);
    expect(span.attributes['loopwatch.block.fingerprint'], seen).toBe(line.block.fingerprint);
    expect(span.attributes['thread.id'], seen).toBe(0);
    expect(span.traceId, seen).toMatch(/^[0-9a-f]{32}$/);
    expect(span.spanId, seen).toMatch(/^[0-9a-f]{16}$/);
    expect(Math.abs(span.endMs - span.startMs - line.block.durationMs), seen).toBeLessThan(1);

    await child.waitFor(() => ALL_METRICS.every((m) => rx.metrics.some((r) => r.name === m.otel && r.points.length > 0)), {
      timeoutMs: 10_000,
      what: `every metric at the receiver (have ${[...new Set(rx.metrics.map((m) => m.name))].join(', ')}; ${seenBy(rx)})`,
    });
    for (const m of ALL_METRICS) expect(rx.metrics.find((r) => r.name === m.otel)!.unit, m.otel).toBe(m.unit);
    await child.waitFor(() => rx.metrics.find((m) => m.name === 'loopwatch.block.duration' && m.points.some((p) => String(p.attributes.culprit).startsWith(`${line.block.culprit?.function} (`))), { timeoutMs: 10_000, what: 'the block in loopwatch.block.duration' });

    // Every request of both signals came by the chosen protocol, and each decoded.
    expect([...rx.protocols('traces')], seenBy(rx)).toEqual([protocol]);
    expect([...rx.protocols('metrics')], seenBy(rx)).toEqual([protocol]);
    expect(rx.errors).toEqual([]);
    expect(await quit(child, port, 8000)).toEqual({ code: 0, signal: null });
    expect(warnings(child.stderr, 'LOOPWATCH_WARN_INVALID_ENV'), child.stderr).toEqual([]);
  });

  it.each([
    // The signal's own variable wins over the general one.
    { general: 'http/json', traces: 'grpc', metrics: undefined, want: { traces: 'grpc', metrics: 'http/json' } },
    { general: undefined, traces: 'http/json', metrics: 'grpc', want: { traces: 'http/json', metrics: 'grpc' } },
    { general: 'grpc', traces: undefined, metrics: 'http/protobuf', want: { traces: 'grpc', metrics: 'http/protobuf' } },
  ] satisfies { general?: string; traces?: string; metrics?: string; want: Record<'traces' | 'metrics', ReceivedProtocol> }[])(
    'per signal: general $general, traces $traces, metrics $metrics → traces over $want.traces, metrics over $want.metrics; exits by itself',
    async ({ general, traces, metrics, want }) => {
      const { rx, http, grpc } = await startReceiver();
      // Per-signal endpoints: the gRPC exporter takes the URL as it is, the HTTP ones need the path.
      const endpoint = (signal: 'traces' | 'metrics'): string => (want[signal] === 'grpc' ? grpc : `${http}/v1/${signal}`);
      const child = spawnFixture('../otel/fixtures/block-then-exit.cjs', {
        env: {
          ...FAST,
          OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: endpoint('traces'),
          OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: endpoint('metrics'),
          ...(general === undefined ? {} : { OTEL_EXPORTER_OTLP_PROTOCOL: general }),
          ...(traces === undefined ? {} : { OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: traces }),
          ...(metrics === undefined ? {} : { OTEL_EXPORTER_OTLP_METRICS_PROTOCOL: metrics }),
        },
      });
      await child.ready();
      expect(await child.waitForExit(10_000), child.describe()).toEqual({ code: 0, signal: null });
      const span = rx.spans.find((s) => String(s.attributes['code.stacktrace']).includes('at finalReport ('));
      expect(span, `${seenBy(rx)}\n${child.describe()}`).toBeDefined();
      expect(rx.metrics.some((m) => m.name === 'loopwatch.block.duration'), seenBy(rx)).toBe(true);
      expect([...rx.protocols('traces')], seenBy(rx)).toEqual([want.traces]);
      expect([...rx.protocols('metrics')], seenBy(rx)).toEqual([want.metrics]);
      expect(rx.errors).toEqual([]);
    },
  );

  it.each<{ vars: Record<string, string>; name: string; value: string; want: Record<'traces' | 'metrics', ReceivedProtocol> }>([
    // Both signals fall back to the general variable: still one warning.
    { vars: { OTEL_EXPORTER_OTLP_PROTOCOL: 'http/xml' }, name: 'OTEL_EXPORTER_OTLP_PROTOCOL', value: 'http/xml', want: { traces: 'http/protobuf', metrics: 'http/protobuf' } },
    // A bad per-signal value gives that signal the default, not the general variable (as the SDK does).
    { vars: { OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json', OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'grpcc' }, name: 'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL', value: 'grpcc', want: { traces: 'http/protobuf', metrics: 'http/json' } },
  ])(
    'an unknown protocol ($name=$value): one warning naming the variable, the value and what is allowed, then the default',
    async ({ vars, name, value, want }) => {
      const { rx, http } = await startReceiver();
      const child = spawnFixture('../otel/fixtures/block-then-exit.cjs', { env: { ...FAST, OTEL_EXPORTER_OTLP_ENDPOINT: http, ...vars } });
      await child.ready();
      expect(await child.waitForExit(10_000), child.describe()).toEqual({ code: 0, signal: null });
      const lines = warnings(child.stderr, 'LOOPWATCH_WARN_INVALID_ENV');
      expect(lines, child.stderr).toHaveLength(1);
      expect(lines[0]).toContain(`${name}=${JSON.stringify(value)} is not valid (allowed: http/protobuf, http/json, grpc); using the default (http/protobuf)`);
      expect(rx.spans.some((s) => String(s.attributes['code.stacktrace']).includes('at finalReport (')), `${seenBy(rx)}\n${child.describe()}`).toBe(true);
      expect([...rx.protocols('traces')], seenBy(rx)).toEqual([want.traces]);
      expect([...rx.protocols('metrics')], seenBy(rx)).toEqual([want.metrics]);
    },
  );

  it('the exporters read the other OTEL_EXPORTER_OTLP_* variables themselves: gzip bodies over http/protobuf', async () => {
    const { rx, http } = await startReceiver();
    const child = spawnFixture('../otel/fixtures/block-then-exit.cjs', { env: { ...FAST, OTEL_EXPORTER_OTLP_ENDPOINT: http, OTEL_EXPORTER_OTLP_COMPRESSION: 'gzip' } });
    await child.ready();
    expect(await child.waitForExit(10_000), child.describe()).toEqual({ code: 0, signal: null });
    expect(rx.spans.some((s) => String(s.attributes['code.stacktrace']).includes('at finalReport (')), `${seenBy(rx)}\n${child.describe()}`).toBe(true);
    expect(rx.requests.length).toBeGreaterThan(0);
    expect(rx.requests.every((r) => r.protocol === 'http/protobuf' && r.encoding === 'gzip'), seenBy(rx)).toBe(true);
    expect(rx.errors).toEqual([]);
  });

  it('a gRPC collector that never answers delays the exit by a bounded time only', async () => {
    const { rx, grpc } = await startReceiver();
    rx.respond = false;
    const child = spawnFixture('../otel/fixtures/block-then-exit.cjs', { env: { OTEL_EXPORTER_OTLP_ENDPOINT: grpc, OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' } });
    await child.ready();
    const started = performance.now();
    expect(await child.waitForExit(15_000), child.describe()).toEqual({ code: 0, signal: null });
    // The exporters' deadline is 2 s when OTEL_EXPORTER_OTLP_TIMEOUT is not set.
    expect(performance.now() - started, child.describe()).toBeLessThan(8000);
    expect(rx.requests.some((r) => r.protocol === 'grpc'), 'the flush was attempted over gRPC').toBe(true);
  });

  it('a script that only loads the agent with OTLP over gRPC exits by itself, with unchanged output', async () => {
    const { rx, grpc } = await startReceiver();
    const child = spawnFixture('hello.cjs', { env: { OTEL_EXPORTER_OTLP_ENDPOINT: grpc, OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc', LOOPWATCH_THRESHOLD_MS: '1000' } });
    expect(await child.waitForExit(10_000)).toEqual({ code: 0, signal: null });
    expect(child.stdout).toBe('hello\nbye\n');
    expect(child.stderr).toBe('to stderr\n');
    expect(rx.requests.some((r) => r.signal === 'metrics' && r.protocol === 'grpc'), seenBy(rx)).toBe(true);
  });
});

describe('the exporter packages of the chosen protocol, and only those', () => {
  const ALL_EXPORTERS = ['trace', 'metrics'].flatMap((s) => ['proto', 'http', 'grpc'].map((p) => `@opentelemetry/exporter-${s}-otlp-${p}`));

  it.each<{ env: Record<string, string>; hide: string; set: string; plan: string; install: string[] }>([
    {
      env: { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:9', OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' },
      hide: '@opentelemetry/exporter-metrics-otlp-grpc',
      set: 'OTEL_EXPORTER_OTLP_ENDPOINT',
      plan: 'traces over grpc, metrics over grpc',
      install: ['@opentelemetry/api', '@opentelemetry/exporter-metrics-otlp-grpc', '@opentelemetry/exporter-trace-otlp-grpc', '@opentelemetry/sdk-metrics', '@opentelemetry/sdk-trace-base'],
    },
    // Traces only (a per-signal endpoint), default protocol: nothing of metrics is needed.
    {
      env: { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://127.0.0.1:9/v1/traces' },
      hide: '@opentelemetry/exporter-trace-otlp-proto',
      set: 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT',
      plan: 'traces over http/protobuf',
      install: ['@opentelemetry/api', '@opentelemetry/exporter-trace-otlp-proto', '@opentelemetry/sdk-trace-base'],
    },
  ])('a package the protocol needs is missing ($hide): one warning naming exactly the packages of that protocol; the agent works on', async ({ env, hide, set, plan, install }) => {
    const child = spawnFixture('../otel/fixtures/otlp-missing.cjs', { loader: 'none', env: { ...env, HIDE_MODULES: hide } });
    await child.ready();
    await child.waitForBlocks(1, { timeoutMs: 10_000 });
    expect(await child.waitForExit(10_000)).toEqual({ code: 0, signal: null });
    const lines = warnings(child.stderr, 'LOOPWATCH_WARN_OTLP_PACKAGES');
    expect(lines, child.stderr).toHaveLength(1);
    expect(lines[0]).toContain(`LoopwatchWarning: ${set} is set but loopwatch cannot export OTLP (${plan}): install `);
    const parts = /install (.*) \(missing: (.*)\)$/.exec(lines[0]);
    expect(parts, lines[0]).not.toBeNull();
    expect(parts![1].split(' ').sort()).toEqual(install);
    expect(parts![2]).toBe(hide);
  });

  it('the packages of other protocols may be missing: no warning, and the export works', async () => {
    const { rx, http } = await startReceiver();
    const others = ALL_EXPORTERS.filter((p) => !p.endsWith('-otlp-http'));
    const child = spawnFixture('../otel/fixtures/otlp-missing.cjs', {
      loader: 'none',
      env: { ...FAST, OTEL_EXPORTER_OTLP_ENDPOINT: http, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json', HIDE_MODULES: others.join(',') },
    });
    await child.ready();
    expect(await child.waitForExit(10_000), child.describe()).toEqual({ code: 0, signal: null });
    expect(warnings(child.stderr, 'LOOPWATCH_WARN_OTLP_PACKAGES'), child.stderr).toEqual([]);
    expect(rx.spans.some((s) => String(s.attributes['code.stacktrace']).includes('at finalReport (')), `${seenBy(rx)}\n${child.describe()}`).toBe(true);
  });

  it.each<{ env: Record<string, string>; loaded: string[] }>([
    // A protocol set but no endpoint: OTLP is off, nothing is loaded.
    { env: { OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' }, loaded: [] as string[] },
    // gRPC itself is loaded up front, not at the first export (a block of the app otherwise).
    { env: { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:9', OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc', OTEL_METRICS_EXPORTER: 'none' }, loaded: ['@grpc/grpc-js', '@opentelemetry/exporter-trace-otlp-grpc'] },
    // The -proto metrics exporter builds on the -http one (its dependency); nothing of traces or gRPC.
    { env: { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:9', OTEL_TRACES_EXPORTER: 'none' }, loaded: ['@opentelemetry/exporter-metrics-otlp-http', '@opentelemetry/exporter-metrics-otlp-proto'] },
  ])('loads only what the variables choose: $env', async ({ env, loaded }) => {
    const child = spawnFixture('../otel/fixtures/otlp-loaded.cjs', { loader: 'none', env });
    const out = await child.waitForStdout(/^\{"loaded"/, 10_000);
    expect(await child.waitForExit(10_000)).toEqual({ code: 0, signal: null });
    expect((JSON.parse(out.text) as { loaded: string[] }).loaded).toEqual(loaded);
  });
});
