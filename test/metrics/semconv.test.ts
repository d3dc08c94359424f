/**
 * The nodejs_eventloop_* series must be what a dashboard built on the OpenTelemetry runtime
 * metrics sees in Prometheus. Taken from the real instruments: @opentelemetry's
 * RuntimeNodeInstrumentation collected by the SDK, each translated the way the OpenTelemetry
 * spec's Prometheus compatibility rules say (dots to underscores, unit suffix, `_total` on
 * monotonic sums, "1" as `_ratio` on gauges), must be in loopwatch's contract with the same
 * type and labels, and loopwatch's OpenTelemetry names must be those names.
 */
import { RuntimeNodeInstrumentation } from '@opentelemetry/instrumentation-runtime-node';
import { DataPointType, MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import { describe, expect, it, vi } from 'vitest';
import { ALL_METRICS } from '../../src/metrics/names.js';

class TestReader extends MetricReader {
  protected async onForceFlush(): Promise<void> {}
  protected async onShutdown(): Promise<void> {}
}

const UNIT_SUFFIX: Record<string, string> = { s: 'seconds', By: 'bytes' };

function prometheusName(name: string, unit: string, type: 'gauge' | 'counter' | 'histogram'): string {
  let out = name.replace(/[^a-zA-Z0-9_:]/g, '_');
  const suffix = unit === '1' ? (type === 'gauge' ? 'ratio' : '') : UNIT_SUFFIX[unit] ?? '';
  if (suffix && !out.endsWith(`_${suffix}`)) out += `_${suffix}`;
  if (type === 'counter') out += '_total';
  return out;
}

describe('OpenTelemetry runtime metrics, translated to Prometheus', () => {
  it('every nodejs.eventloop.* instrument maps onto a loopwatch series of the same type and labels', async () => {
    const reader = new TestReader();
    const provider = new MeterProvider({ readers: [reader] });
    const instrumentation = new RuntimeNodeInstrumentation({ monitoringPrecision: 10 });
    instrumentation.setMeterProvider(provider);
    try {
      // Collected until every collector has something to report (the loop has turned).
      const found = await vi.waitFor(async () => {
        const { resourceMetrics } = await reader.collect();
        const metrics = resourceMetrics.scopeMetrics.flatMap((s) => s.metrics).filter((m) => m.descriptor.name.startsWith('nodejs.eventloop.'));
        expect(metrics.length).toBeGreaterThanOrEqual(9);
        return metrics;
      }, { timeout: 5000, interval: 20 });
      for (const m of found) {
        const type = m.dataPointType === DataPointType.GAUGE ? 'gauge' : m.dataPointType === DataPointType.SUM && m.isMonotonic ? 'counter' : 'histogram';
        const name = prometheusName(m.descriptor.name, m.descriptor.unit, type);
        const ours = ALL_METRICS.find((x) => x.prometheus === name);
        expect(ours, `${m.descriptor.name} → ${name} is not in the contract`).toBeDefined();
        expect(ours!.type, name).toBe(type);
        expect(ours!.otel, name).toBe(m.descriptor.name);
        expect(ours!.unit, name).toBe(m.descriptor.unit);
        const labels = new Set(m.dataPoints.flatMap((p) => Object.keys(p.attributes).map((k) => k.replace(/\./g, '_'))));
        expect([...labels].sort(), name).toEqual([...ours!.labels].sort());
      }
    } finally {
      instrumentation.disable();
      await provider.shutdown();
    }
  });
});
