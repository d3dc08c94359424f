/**
 * loopwatch/otel's useOpenTelemetry(): providers that are not registered globally get the
 * metrics and the block spans.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, cleanup, spawnFixture } from '../helpers/child.js';
import { ALL_METRICS } from '../../src/metrics/names.js';

beforeAll(assertBuilt);
afterEach(cleanup);

interface Report {
  block: string;
  parent: { traceId: string; spanId: string };
  spans: { name: string; traceId: string; parentSpanId: string | null; id: string }[];
  metrics: string[];
}

describe('useOpenTelemetry({ meterProvider, tracerProvider })', () => {
  it('sends block spans and metrics to providers kept out of the globals', async () => {
    const child = spawnFixture('../otel/fixtures/explicit-providers.cjs', { loader: 'none' });
    await child.ready();
    const line = await child.waitForStdout(/^\{"block"/, 10_000);
    const report = JSON.parse(line.text) as Report;
    const block = report.spans.find((s) => s.name === 'event_loop.block' && s.id === report.block);
    expect(block, line.text).toBeDefined();
    expect(block!.traceId).toBe(report.parent.traceId);
    expect(block!.parentSpanId).toBe(report.parent.spanId);
    for (const m of ALL_METRICS) expect(report.metrics, m.otel).toContain(`loopwatch:${m.otel}`);
    expect(await child.waitForExit(10_000)).toEqual({ code: 0, signal: null });
  });
});
