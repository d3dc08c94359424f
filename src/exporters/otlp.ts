import { createRequire } from 'node:module';
import type { MeterProvider as SdkMeterProvider, PushMetricExporter } from '@opentelemetry/sdk-metrics';
import type { BasicTracerProvider, SpanExporter } from '@opentelemetry/sdk-trace-base';
import { WARNING_CODES, warnOnce } from '../errors.js';
import type { Fallback } from './otel.js';
import { describePlan, OTLP_EXPORTER_PACKAGES, OTLP_SDK_PACKAGES, otlpPackages, otlpProtocol, type OtlpPlan } from './otlp-protocol.js';

type Env = Record<string, string | undefined>;

/** A bound on the exit flush: the exporters' own timeout (10 s by default) is too long to hold an exiting process. */
export const EXIT_FLUSH_MS = 2000;

const isOff = (v: string | undefined): boolean => (v ?? '').trim().toLowerCase() === 'none';

/** Which signals the OTEL_* variables ask loopwatch to export itself; none when no endpoint is set. */
export function otlpSignals(env: Env = process.env): { metrics: boolean; traces: boolean } {
  if ((env.OTEL_SDK_DISABLED ?? '').trim().toLowerCase() === 'true') return { metrics: false, traces: false };
  const base = Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim());
  return {
    metrics: (base || Boolean(env.OTEL_EXPORTER_OTLP_METRICS_ENDPOINT?.trim())) && !isOff(env.OTEL_METRICS_EXPORTER),
    traces: (base || Boolean(env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim())) && !isOff(env.OTEL_TRACES_EXPORTER),
  };
}

/** The signals to export and the protocol of each, from the OTEL_* variables (a bad protocol warns here). */
export function otlpPlan(env: Env = process.env): OtlpPlan {
  const signals = otlpSignals(env);
  const plan: OtlpPlan = {};
  if (signals.traces) plan.traces = otlpProtocol('traces', env);
  if (signals.metrics) plan.metrics = otlpProtocol('metrics', env);
  return plan;
}

function positiveInt(env: Env, name: string, fallback: number): number {
  const n = Number(env[name]);
  return Number.isInteger(n) && n > 0 ? n : fallback;
}

/** What the three exporter packages of a signal have in common (`-proto`, `-http`, `-grpc`). */
type ExporterConfig = { timeoutMillis?: number };
interface TraceExporterModule { OTLPTraceExporter: new (config?: ExporterConfig) => SpanExporter }
interface MetricExporterModule { OTLPMetricExporter: new (config?: ExporterConfig) => PushMetricExporter }

interface Modules {
  metrics?: typeof import('@opentelemetry/sdk-metrics');
  traces?: typeof import('@opentelemetry/sdk-trace-base');
  metricExporter?: MetricExporterModule;
  traceExporter?: TraceExporterModule;
  resources: typeof import('@opentelemetry/resources');
}

const resolves = (req: NodeJS.Require, name: string): boolean => {
  try {
    req.resolve(name);
    return true;
  } catch {
    return false;
  }
};

/**
 * The gRPC exporters require @grpc/grpc-js only at their first export (so that an
 * instrumentation registered later can still wrap it). That first export runs on the app's
 * thread, 60 s in or at exit, and loading grpc-js there takes ~30 ms on an idle 2-core VM
 * (more when busy): a block of the app caused by loopwatch. Loaded here instead, with the
 * rest of the pipeline, before the agent starts. require-in-the-middle still patches a
 * module loaded before its hook on the next require, which is how the exporter gets it.
 * Resolved through the exporter's own chain (strict layouts such as pnpm hoist nothing);
 * a failure is left to the exporter to report when it sends.
 */
function preloadGrpc(req: NodeJS.Require, exporter: string): void {
  try {
    const base = createRequire(req.resolve(exporter)).resolve('@opentelemetry/otlp-grpc-exporter-base');
    createRequire(base)('@grpc/grpc-js');
  } catch {
    // The exporter loads it itself, and says so if it cannot.
  }
}

/**
 * Loads the packages of the plan, and only those (an app that exports over grpc needs no
 * HTTP exporter, and none are loaded when OTLP is off). Null, with one warning naming the
 * packages the chosen protocols need and which of them are missing, when they cannot load.
 */
function loadModules(plan: OtlpPlan, env: Env): Modules | null {
  const req = createRequire(__filename);
  const needed = otlpPackages(plan);
  const missing = needed.filter((name) => !resolves(req, name));
  let problem = missing.length > 0 ? `missing: ${missing.join(', ')}` : '';
  if (!problem) {
    try {
      const sdk = plan.metrics ? OTLP_SDK_PACKAGES.metrics : OTLP_SDK_PACKAGES.traces;
      if (plan.traces === 'grpc' || plan.metrics === 'grpc') preloadGrpc(req, OTLP_EXPORTER_PACKAGES[plan.traces === 'grpc' ? 'traces' : 'metrics'].grpc);
      return {
        metrics: plan.metrics ? (req(OTLP_SDK_PACKAGES.metrics) as typeof import('@opentelemetry/sdk-metrics')) : undefined,
        traces: plan.traces ? (req(OTLP_SDK_PACKAGES.traces) as typeof import('@opentelemetry/sdk-trace-base')) : undefined,
        metricExporter: plan.metrics ? (req(OTLP_EXPORTER_PACKAGES.metrics[plan.metrics]) as MetricExporterModule) : undefined,
        traceExporter: plan.traces ? (req(OTLP_EXPORTER_PACKAGES.traces[plan.traces]) as TraceExporterModule) : undefined,
        // A dependency of the SDK packages: resolved through them, so it need not be listed.
        resources: createRequire(req.resolve(sdk))('@opentelemetry/resources') as typeof import('@opentelemetry/resources'),
      };
    } catch (err) {
      problem = String((err as Error)?.message ?? err).split('\n')[0];
    }
  }
  // The variable that turned OTLP on, so that the warning can be traced back to the deployment.
  const set = ['OTEL_EXPORTER_OTLP_ENDPOINT', 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', 'OTEL_EXPORTER_OTLP_METRICS_ENDPOINT'].filter((name) => env[name]?.trim());
  warnOnce(
    'otlp-packages',
    `${set.join(' and ') || 'an OTLP endpoint'} ${set.length > 1 ? 'are' : 'is'} set but loopwatch cannot export OTLP (${describePlan(plan)}): install ${needed.join(' ')} (${problem})`,
    WARNING_CODES.OTLP_PACKAGES,
  );
  return null;
}

/**
 * An OTLP pipeline configured only by the standard OTEL_* variables, for an app that
 * registers no SDK of its own: each signal over the protocol its variables choose
 * (http/protobuf unless OTEL_EXPORTER_OTLP_[SIGNAL_]PROTOCOL says http/json or grpc), with
 * the official exporter of that protocol. It is never registered as the global provider:
 * the app's own SDK, if it comes later, takes over (see OtelBridge). Returns null, with one
 * warning naming the packages, when they are missing. Their timers are unref'd
 * (PeriodicExportingMetricReader, BatchSpanProcessor), so the pipeline never keeps the
 * process alive.
 */
export function createOtlpPipeline(env: Env = process.env): Fallback | null {
  const plan = otlpPlan(env);
  if (!plan.metrics && !plan.traces) return null;
  const mods = loadModules(plan, env);
  if (!mods) return null;
  const { resources } = mods;
  // OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES, over the SDK's defaults.
  const resource = resources.defaultResource().merge(resources.detectResources({ detectors: [resources.envDetector] }));

  // Exporters read OTEL_EXPORTER_OTLP_*; without a timeout set there, a shorter one than their
  // 10 s default, because the exit flush waits for the request in flight.
  const timeout = (signal: string): { timeoutMillis?: number } =>
    env[`OTEL_EXPORTER_OTLP_${signal}_TIMEOUT`] || env.OTEL_EXPORTER_OTLP_TIMEOUT ? {} : { timeoutMillis: EXIT_FLUSH_MS };

  let meterProvider: SdkMeterProvider | undefined;
  if (mods.metrics && mods.metricExporter) {
    const interval = positiveInt(env, 'OTEL_METRIC_EXPORT_INTERVAL', 60_000);
    const reader = new mods.metrics.PeriodicExportingMetricReader({
      exporter: new mods.metricExporter.OTLPMetricExporter(timeout('METRICS')),
      exportIntervalMillis: interval,
      exportTimeoutMillis: Math.min(positiveInt(env, 'OTEL_METRIC_EXPORT_TIMEOUT', 30_000), interval),
    });
    meterProvider = new mods.metrics.MeterProvider({ resource, readers: [reader] });
  }
  let tracerProvider: BasicTracerProvider | undefined;
  if (mods.traces && mods.traceExporter) {
    tracerProvider = new mods.traces.BasicTracerProvider({
      resource,
      spanProcessors: [new mods.traces.BatchSpanProcessor(new mods.traceExporter.OTLPTraceExporter(timeout('TRACES')))],
    });
  }
  const bounded = (work: Promise<unknown>): Promise<void> => new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, EXIT_FLUSH_MS);
    timer.unref();
    work.then(() => resolve(), () => resolve()).finally(() => clearTimeout(timer));
  });
  return {
    meterProvider,
    tracerProvider,
    flush: () => bounded(Promise.all([meterProvider?.forceFlush(), tracerProvider?.forceFlush()])),
    shutdown: () => bounded(Promise.all([meterProvider?.shutdown(), tracerProvider?.shutdown()])),
  };
}
