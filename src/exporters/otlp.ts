import { createRequire } from 'node:module';
import type { MeterProvider as SdkMeterProvider } from '@opentelemetry/sdk-metrics';
import type { BasicTracerProvider } from '@opentelemetry/sdk-trace-base';
import { WARNING_CODES, warnOnce } from '../errors.js';
import type { Fallback } from './otel.js';

type Env = Record<string, string | undefined>;

/** The official packages loopwatch exports OTLP/HTTP with (optional peer dependencies). */
export const OTLP_PACKAGES = Object.freeze([
  '@opentelemetry/api',
  '@opentelemetry/sdk-metrics',
  '@opentelemetry/sdk-trace-base',
  '@opentelemetry/exporter-metrics-otlp-http',
  '@opentelemetry/exporter-trace-otlp-http',
]);

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

function positiveInt(env: Env, name: string, fallback: number): number {
  const n = Number(env[name]);
  return Number.isInteger(n) && n > 0 ? n : fallback;
}

/**
 * An OTLP/HTTP pipeline (JSON over HTTP, the exporters' format) configured only by the
 * standard OTEL_* variables, for an app that registers no SDK of its own. It is never
 * registered as the global provider: the app's own SDK, if it comes later, takes over (see
 * OtelBridge). Returns null, with one warning naming the packages, when they are missing.
 * Their timers are unref'd (PeriodicExportingMetricReader, BatchSpanProcessor), so the
 * pipeline never keeps the process alive.
 */
export function createOtlpPipeline(env: Env = process.env): Fallback | null {
  const signals = otlpSignals(env);
  if (!signals.metrics && !signals.traces) return null;
  const req = createRequire(__filename);
  let mods: {
    metrics: typeof import('@opentelemetry/sdk-metrics');
    traces: typeof import('@opentelemetry/sdk-trace-base');
    metricExporter: typeof import('@opentelemetry/exporter-metrics-otlp-http');
    traceExporter: typeof import('@opentelemetry/exporter-trace-otlp-http');
    resources: typeof import('@opentelemetry/resources');
  };
  try {
    req.resolve('@opentelemetry/api');
    const metrics = req('@opentelemetry/sdk-metrics') as typeof import('@opentelemetry/sdk-metrics');
    mods = {
      metrics,
      traces: req('@opentelemetry/sdk-trace-base') as typeof import('@opentelemetry/sdk-trace-base'),
      metricExporter: req('@opentelemetry/exporter-metrics-otlp-http') as typeof import('@opentelemetry/exporter-metrics-otlp-http'),
      traceExporter: req('@opentelemetry/exporter-trace-otlp-http') as typeof import('@opentelemetry/exporter-trace-otlp-http'),
      // A dependency of the SDK packages: resolved through them, so it need not be listed.
      resources: createRequire(req.resolve('@opentelemetry/sdk-metrics'))('@opentelemetry/resources') as typeof import('@opentelemetry/resources'),
    };
  } catch (err) {
    warnOnce(
      'otlp-packages',
      `OTEL_EXPORTER_OTLP_ENDPOINT is set but loopwatch cannot export OTLP: install ${OTLP_PACKAGES.join(' ')} (${(err as Error)?.message?.split('\n')[0] ?? err})`,
      WARNING_CODES.OTLP_PACKAGES,
    );
    return null;
  }
  const { resources } = mods;
  // OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES, over the SDK's defaults.
  const resource = resources.defaultResource().merge(resources.detectResources({ detectors: [resources.envDetector] }));

  // Exporters read OTEL_EXPORTER_OTLP_*; without a timeout set there, a shorter one than their
  // 10 s default, because the exit flush waits for the request in flight.
  const timeout = (signal: string): { timeoutMillis?: number } =>
    env[`OTEL_EXPORTER_OTLP_${signal}_TIMEOUT`] || env.OTEL_EXPORTER_OTLP_TIMEOUT ? {} : { timeoutMillis: EXIT_FLUSH_MS };

  let meterProvider: SdkMeterProvider | undefined;
  if (signals.metrics) {
    const interval = positiveInt(env, 'OTEL_METRIC_EXPORT_INTERVAL', 60_000);
    const reader = new mods.metrics.PeriodicExportingMetricReader({
      exporter: new mods.metricExporter.OTLPMetricExporter(timeout('METRICS')),
      exportIntervalMillis: interval,
      exportTimeoutMillis: Math.min(positiveInt(env, 'OTEL_METRIC_EXPORT_TIMEOUT', 30_000), interval),
    });
    meterProvider = new mods.metrics.MeterProvider({ resource, readers: [reader] });
  }
  let tracerProvider: BasicTracerProvider | undefined;
  if (signals.traces) {
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
