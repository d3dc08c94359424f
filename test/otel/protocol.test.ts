/**
 * How the OTEL_EXPORTER_OTLP_*PROTOCOL variables are read (as the OpenTelemetry SDKs read
 * them) and which packages each choice needs. The child-process tests in
 * otlp-protocols.test.ts show the same choices on the wire.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { describePlan, OTLP_EXPORTER_PACKAGES, OTLP_PROTOCOLS, otlpPackages, otlpProtocol } from '../../src/exporters/otlp-protocol.js';
import { otlpPlan } from '../../src/exporters/otlp.js';

afterEach(() => {
  vi.restoreAllMocks();
});

/** Calls fn with process warnings captured (warnOnce keys are per process, so each variable is warned about once). */
function capture<T>(fn: () => T): { value: T; warnings: string[] } {
  const warnings: string[] = [];
  vi.spyOn(process, 'emitWarning').mockImplementation(((msg: string | Error) => {
    warnings.push(String(msg));
  }) as typeof process.emitWarning);
  return { value: fn(), warnings };
}

describe('otlpProtocol', () => {
  it.each([
    { env: {}, traces: 'http/protobuf', metrics: 'http/protobuf' },
    { env: { OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' }, traces: 'grpc', metrics: 'grpc' },
    { env: { OTEL_EXPORTER_OTLP_PROTOCOL: ' http/json ' }, traces: 'http/json', metrics: 'http/json' },
    { env: { OTEL_EXPORTER_OTLP_PROTOCOL: 'HTTP/JSON' }, traces: 'http/json', metrics: 'http/json' },
    { env: { OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json', OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'grpc' }, traces: 'grpc', metrics: 'http/json' },
    { env: { OTEL_EXPORTER_OTLP_METRICS_PROTOCOL: 'grpc' }, traces: 'http/protobuf', metrics: 'grpc' },
    // Blank is unset, as in the SDKs' env reader: the general variable applies.
    { env: { OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc', OTEL_EXPORTER_OTLP_METRICS_PROTOCOL: '  ' }, traces: 'grpc', metrics: 'grpc' },
  ])('$env → traces $traces, metrics $metrics, no warning', ({ env, traces, metrics }) => {
    const { value, warnings } = capture(() => ({ traces: otlpProtocol('traces', env), metrics: otlpProtocol('metrics', env) }));
    expect(value).toEqual({ traces, metrics });
    expect(warnings).toEqual([]);
  });

  it('an unknown value warns once per variable, naming it, the value and what is allowed; the default applies', () => {
    const env = { OTEL_EXPORTER_OTLP_PROTOCOL: 'http/proto', OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'gRPC-web' };
    const { value, warnings } = capture(() => [otlpProtocol('traces', env), otlpProtocol('metrics', env), otlpProtocol('metrics', env), otlpProtocol('traces', env)]);
    expect(value).toEqual(['http/protobuf', 'http/protobuf', 'http/protobuf', 'http/protobuf']);
    expect(warnings).toEqual([
      'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL="gRPC-web" is not valid (allowed: http/protobuf, http/json, grpc); using the default (http/protobuf)',
      'OTEL_EXPORTER_OTLP_PROTOCOL="http/proto" is not valid (allowed: http/protobuf, http/json, grpc); using the default (http/protobuf)',
    ]);
  });
});

describe('otlpPackages', () => {
  it('names the API, and for each exported signal its SDK and the exporter of its protocol', () => {
    expect(otlpPackages({ traces: 'grpc', metrics: 'http/json' })).toEqual([
      '@opentelemetry/api',
      '@opentelemetry/sdk-metrics',
      '@opentelemetry/exporter-metrics-otlp-http',
      '@opentelemetry/sdk-trace-base',
      '@opentelemetry/exporter-trace-otlp-grpc',
    ]);
    expect(otlpPackages({ metrics: 'http/protobuf' })).toEqual(['@opentelemetry/api', '@opentelemetry/sdk-metrics', '@opentelemetry/exporter-metrics-otlp-proto']);
    expect(describePlan({ traces: 'grpc', metrics: 'http/json' })).toBe('traces over grpc, metrics over http/json');
  });

  it('every exporter package is an optional peer dependency and a devDependency of the 0.223 line', async () => {
    const pkg = (await import('../../package.json', { with: { type: 'json' } })).default as {
      peerDependencies: Record<string, string>;
      peerDependenciesMeta: Record<string, { optional?: boolean }>;
      devDependencies: Record<string, string>;
    };
    const names = Object.values(OTLP_EXPORTER_PACKAGES).flatMap((byProtocol) => OTLP_PROTOCOLS.map((p) => byProtocol[p]));
    expect(new Set(names).size).toBe(6);
    for (const name of [...names, '@opentelemetry/api', '@opentelemetry/sdk-metrics', '@opentelemetry/sdk-trace-base']) {
      expect(pkg.peerDependencies[name], name).toBeDefined();
      expect(pkg.peerDependenciesMeta[name]?.optional, name).toBe(true);
      expect(pkg.devDependencies[name], name).toBeDefined();
    }
    for (const name of names) expect(pkg.devDependencies[name], name).toMatch(/^\^0\.223\./);
  });
});

describe('otlpPlan', () => {
  it('a protocol only for the signals exported; none without an endpoint (and no warning then)', () => {
    const { value, warnings } = capture(() => [
      otlpPlan({ OTEL_EXPORTER_OTLP_PROTOCOL: 'nonsense' }),
      otlpPlan({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://c:4317', OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'grpc' }),
      otlpPlan({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_TRACES_EXPORTER: 'none' }),
    ]);
    expect(value).toEqual([{}, { traces: 'grpc' }, { metrics: 'http/protobuf' }]);
    expect(warnings).toEqual([]);
  });
});
