import { WARNING_CODES, warnOnce } from '../errors.js';

type Env = Record<string, string | undefined>;

export type OtlpSignal = 'traces' | 'metrics';

/** The values of OTEL_EXPORTER_OTLP_PROTOCOL in the OpenTelemetry specification. */
export const OTLP_PROTOCOLS = Object.freeze(['http/protobuf', 'http/json', 'grpc'] as const);
export type OtlpProtocol = (typeof OTLP_PROTOCOLS)[number];

/** The SDKs' default when no protocol variable is set (the specification's choice). */
export const DEFAULT_OTLP_PROTOCOL: OtlpProtocol = 'http/protobuf';

/** The official exporter package of each signal and protocol (optional peer dependencies). */
export const OTLP_EXPORTER_PACKAGES: Readonly<Record<OtlpSignal, Readonly<Record<OtlpProtocol, string>>>> = Object.freeze({
  traces: Object.freeze({
    'http/protobuf': '@opentelemetry/exporter-trace-otlp-proto',
    'http/json': '@opentelemetry/exporter-trace-otlp-http',
    grpc: '@opentelemetry/exporter-trace-otlp-grpc',
  }),
  metrics: Object.freeze({
    'http/protobuf': '@opentelemetry/exporter-metrics-otlp-proto',
    'http/json': '@opentelemetry/exporter-metrics-otlp-http',
    grpc: '@opentelemetry/exporter-metrics-otlp-grpc',
  }),
});

/** The SDK package each signal's provider comes from. */
export const OTLP_SDK_PACKAGES: Readonly<Record<OtlpSignal, string>> = Object.freeze({
  traces: '@opentelemetry/sdk-trace-base',
  metrics: '@opentelemetry/sdk-metrics',
});

const isProtocol = (v: string): v is OtlpProtocol => (OTLP_PROTOCOLS as readonly string[]).includes(v);

/** A set variable's trimmed value; blank counts as unset, as in the SDKs' env reader. */
function envString(env: Env, name: string): string | undefined {
  const v = env[name]?.trim();
  return v ? v : undefined;
}

/**
 * The protocol of one signal, read as the SDKs read it: the signal's own variable
 * (OTEL_EXPORTER_OTLP_TRACES_PROTOCOL) before OTEL_EXPORTER_OTLP_PROTOCOL, else
 * http/protobuf. An unknown value warns once per variable, naming it, its value and what
 * is allowed, and the default applies (as in @opentelemetry/sdk-node, which does not fall
 * back to the general variable either).
 */
export function otlpProtocol(signal: OtlpSignal, env: Env = process.env): OtlpProtocol {
  const specific = `OTEL_EXPORTER_OTLP_${signal.toUpperCase()}_PROTOCOL`;
  const name = envString(env, specific) !== undefined ? specific : 'OTEL_EXPORTER_OTLP_PROTOCOL';
  const raw = envString(env, name);
  if (raw === undefined) return DEFAULT_OTLP_PROTOCOL;
  // The specification spells them in lower case; a collector's docs in capitals still mean them.
  const value = raw.toLowerCase();
  if (isProtocol(value)) return value;
  warnOnce(
    `env:${name}`,
    `${name}=${JSON.stringify(raw)} is not valid (allowed: ${OTLP_PROTOCOLS.join(', ')}); using the default (${DEFAULT_OTLP_PROTOCOL})`,
    WARNING_CODES.INVALID_ENV,
  );
  return DEFAULT_OTLP_PROTOCOL;
}

/** What loopwatch exports itself, and how: a protocol for each signal it exports. */
export type OtlpPlan = Partial<Record<OtlpSignal, OtlpProtocol>>;

/**
 * The packages a plan needs, in install order: the API, then each exported signal's SDK and
 * the exporter of its protocol. Nothing for a protocol or signal that is not used.
 */
export function otlpPackages(plan: OtlpPlan): string[] {
  const out = ['@opentelemetry/api'];
  for (const signal of ['metrics', 'traces'] as const) {
    const protocol = plan[signal];
    if (protocol) out.push(OTLP_SDK_PACKAGES[signal], OTLP_EXPORTER_PACKAGES[signal][protocol]);
  }
  return out;
}

/** "traces over grpc, metrics over http/json", for warnings. */
export function describePlan(plan: OtlpPlan): string {
  return (['traces', 'metrics'] as const).filter((s) => plan[s]).map((s) => `${s} over ${plan[s]}`).join(', ');
}
