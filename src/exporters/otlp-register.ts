import type { Monitor } from '../agent.js';
import { OTEL_BRIDGE_KEY, type OtelBridge } from './otel.js';
import { createOtlpPipeline, otlpSignals } from './otlp.js';

/**
 * `loopwatch/register` with OTEL_EXPORTER_OTLP_ENDPOINT (or a per-signal endpoint) set:
 * metrics and block spans go out over OTLP/HTTP through loopwatch's own pipeline for as
 * long as the app registers no SDK. Flushed once when the loop empties ('beforeExit';
 * `process.exit()` and signals skip it), bounded by EXIT_FLUSH_MS.
 */
export function startOtlp(monitor: Monitor): void {
  if (!monitor.config.otel) return;
  const signals = otlpSignals();
  if (!signals.metrics && !signals.traces) return;
  const pipeline = createOtlpPipeline();
  if (!pipeline) return;
  const bridge = (monitor as Monitor & { [OTEL_BRIDGE_KEY]?: () => OtelBridge | null })[OTEL_BRIDGE_KEY]?.();
  if (!bridge) {
    void pipeline.shutdown();
    return;
  }
  bridge.setFallback(pipeline);
  let flushed = false;
  process.once('beforeExit', () => {
    if (flushed) return;
    flushed = true;
    void bridge.flush().catch(() => undefined);
  });
}
