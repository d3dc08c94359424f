import type { Monitor } from '../agent.js';
import { OTEL_BRIDGE_KEY, type OtelBridge } from './otel.js';
import type { Fallback } from './otel.js';
import { createOtlpPipeline } from './otlp.js';

/**
 * Builds the OTLP pipeline (null without an OTLP endpoint) before the agent starts: loading
 * the SDK and exporter packages takes tens of ms, which would otherwise be reported as a
 * startup block of the app.
 */
export function prepareOtlp(): Fallback | null {
  return createOtlpPipeline();
}

/**
 * `loopwatch/register` with OTEL_EXPORTER_OTLP_ENDPOINT (or a per-signal endpoint) set:
 * metrics and block spans go out over OTLP, in the protocol the OTEL_* variables choose,
 * through loopwatch's own pipeline for as long as the app registers no SDK. Flushed once when the loop empties ('beforeExit';
 * `process.exit()` and signals skip it), bounded by EXIT_FLUSH_MS.
 */
export function startOtlp(monitor: Monitor, pipeline: Fallback | null): void {
  if (!pipeline) return;
  if (!monitor.config.otel) {
    void pipeline.shutdown();
    return;
  }
  const bridge = (monitor as Monitor & { [OTEL_BRIDGE_KEY]?: () => OtelBridge | null })[OTEL_BRIDGE_KEY]?.();
  if (!bridge) {
    void pipeline.shutdown();
    return;
  }
  bridge.setFallback(pipeline);
  let first = true;
  process.on('beforeExit', () => {
    const isFirst = first;
    first = false;
    bridge.exitFlush(isFirst).catch(() => undefined);
  });
}
