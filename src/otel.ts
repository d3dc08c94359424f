/**
 * `loopwatch/otel`: OpenTelemetry for a running monitor. With `@opentelemetry/api` installed
 * and the `otel` option on (the default), the agent already publishes to the *global*
 * providers on its own, whether the SDK starts before or after it; this entry is for apps
 * that keep their providers out of the globals, and for the names.
 */
import * as api from '@opentelemetry/api';
import type { Monitor } from './agent.js';
import { describe, LoopwatchError, ERROR_CODES, LoopwatchTypeError } from './errors.js';
import type { OtelBridge } from './exporters/otel.js';
import { OTEL_BRIDGE_KEY } from './exporters/otel-keys.js';
import { AGENT_KEY } from './metrics/source.js';

export { BLOCK_SPAN_NAME, BLOCK_SPAN_ATTRIBUTES } from './exporters/otel-spans.js';
export { SCOPE as INSTRUMENTATION_SCOPE } from './exporters/otel-keys.js';

export interface OpenTelemetryOptions {
  /** Meter provider for loopwatch's metrics (default: the global one, followed as it changes). */
  meterProvider?: api.MeterProvider;
  /** Tracer provider for block spans (default: the global one). */
  tracerProvider?: api.TracerProvider;
  /** The monitor to connect (default: the running one). */
  monitor?: Monitor;
}

type WithBridge = Monitor & { [OTEL_BRIDGE_KEY]?: (a?: typeof api) => OtelBridge | null };

function checkProvider(name: string, value: unknown, method: string): void {
  if (value === undefined) return;
  if (value === null || typeof value !== 'object' || typeof (value as Record<string, unknown>)[method] !== 'function') {
    throw new LoopwatchTypeError(`options.${name} must be an OpenTelemetry ${name === 'meterProvider' ? 'MeterProvider' : 'TracerProvider'} (with ${method}()), got ${describe(value)}`);
  }
}

/**
 * Sends the monitor's metrics and block spans to these providers (each one not given stays
 * the global one). Works whether or not the agent was started with `otel: true`.
 */
export function useOpenTelemetry(options: OpenTelemetryOptions = {}): void {
  if (options === null || typeof options !== 'object') {
    throw new LoopwatchTypeError(`options must be an object, got ${describe(options)}`);
  }
  checkProvider('meterProvider', options.meterProvider, 'getMeter');
  checkProvider('tracerProvider', options.tracerProvider, 'getTracer');
  // The running agent, from its global: importing agent.js would bundle the whole agent here.
  const monitor = (options.monitor ?? (globalThis as Record<symbol, unknown>)[AGENT_KEY]) as WithBridge | undefined;
  const bridge = monitor?.[OTEL_BRIDGE_KEY]?.(api);
  if (!bridge) {
    throw new LoopwatchError(ERROR_CODES.NOT_STARTED, 'useOpenTelemetry() needs a running loopwatch monitor: call start() first (or preload loopwatch/register)');
  }
  bridge.setExplicit({ meterProvider: options.meterProvider, tracerProvider: options.tracerProvider });
}
