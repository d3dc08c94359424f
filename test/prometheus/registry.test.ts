/**
 * registerMetrics() against real prom-client registries, in this process. The agent's data
 * comes from a stand-in published where the running agent publishes it (the agent itself
 * runs in child processes in collectors.test.ts).
 */
import { collectDefaultMetrics, Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { resolveOptions } from '../../src/config.js';
import { ERROR_CODES } from '../../src/errors.js';
import { registerMetrics } from '../../src/exporters/prometheus.js';
import { BlockMetrics } from '../../src/metrics/block-store.js';
import { ALL_METRICS } from '../../src/metrics/names.js';
import { METRICS_SOURCE } from '../../src/metrics/source.js';
import { createSharedState, F64, I32, recordDelay } from '../../src/shared/shared-state.js';
import { parseExposition, total } from './parse.js';

const AGENT_KEY = Symbol.for('loopwatch.agent.v1');
const g = globalThis as Record<symbol, unknown>;

function fakeAgent(): { blocks: BlockMetrics; record: (s: number) => void } {
  const state = createSharedState();
  state.f64[F64.DELAY_MIN] = Infinity;
  state.f64[F64.BEAT_AT] = performance.now();
  Atomics.store(state.i32, I32.BEATS, 2);
  const blocks = new BlockMetrics(10);
  const config = resolveOptions({});
  g[AGENT_KEY] = { [METRICS_SOURCE]: () => ({ state, blocks, config }) };
  return { blocks, record: (s) => recordDelay(state.f64, s) };
}

afterEach(() => {
  delete g[AGENT_KEY];
});

describe('registerMetrics', () => {
  it('declares every family before an agent runs, then fills them at scrape time', async () => {
    const registry = new Registry();
    registerMetrics({ registry });
    const empty = parseExposition(await registry.metrics());
    for (const m of ALL_METRICS) {
      expect(empty.get(m.prometheus)?.type).toBe(m.type);
      expect(empty.get(m.prometheus)?.samples).toEqual([]);
    }
    const agent = fakeAgent();
    agent.record(0.2);
    agent.blocks.record({ durationMs: 200, ongoing: false, thread: { id: 0, name: 'main' }, culprit: null, context: { kind: 'job', route: null, job: 'nightly' } });
    const full = parseExposition(await registry.metrics());
    expect(total(full, 'nodejs_eventloop_delay_max_seconds')).toBeCloseTo(0.2, 1);
    expect(total(full, 'loopwatch_blocked_seconds_total', { route: 'nightly', thread: 'main' })).toBeCloseTo(0.2, 9);
    expect(total(full, 'loopwatch_eventloop_delay_seconds_count')).toBe(1);
    // One reading per scrape: the next scrape has no new delay sample and repeats the values.
    expect(total(parseExposition(await registry.metrics()), 'nodejs_eventloop_delay_max_seconds')).toBeCloseTo(0.2, 1);
    // getMetricsAsJSON goes through the same collectors.
    const json = await registry.getMetricsAsJSON();
    // An event without a cause (from an older agent copy) counts as code.
    expect(json.find((m) => m.name === 'loopwatch_blocked_seconds_total')?.values).toEqual([{ labels: { route: 'nightly', thread: 'main', cause: 'code' }, value: 0.2 }]);
  });

  it('lives next to collectDefaultMetrics() in one registry, in either registration order', async () => {
    for (const order of ['defaults first', 'loopwatch first']) {
      const registry = new Registry();
      if (order === 'defaults first') collectDefaultMetrics({ register: registry });
      registerMetrics({ registry });
      if (order === 'loopwatch first') collectDefaultMetrics({ register: registry });
      const f = parseExposition(await registry.metrics());
      expect(f.has('nodejs_eventloop_lag_p99_seconds'), order).toBe(true);
      expect(f.has('nodejs_eventloop_delay_p99_seconds'), order).toBe(true);
    }
  });

  it('a second call for the same registry and prefix returns the same handle; unregister() removes them', () => {
    const registry = new Registry();
    const a = registerMetrics({ registry });
    expect(registerMetrics({ registry })).toBe(a);
    expect(a.names).toEqual(ALL_METRICS.map((m) => m.prometheus));
    const b = registerMetrics({ registry, prefix: 'x_' });
    expect(b).not.toBe(a);
    expect(registry.getSingleMetric('x_loopwatch_block_ongoing_seconds')).toBeDefined();
    a.unregister();
    expect(registry.getSingleMetric('loopwatch_block_ongoing_seconds')).toBeUndefined();
    expect(registry.getSingleMetric('x_loopwatch_block_ongoing_seconds')).toBeDefined();
  });

  it('a name already taken is a clear error that points at the prefix option', () => {
    const registry = new Registry();
    registry.registerMetric({ name: 'nodejs_eventloop_utilization_ratio', help: 'x', type: 'gauge', get: async () => ({}) } as never);
    expect(() => registerMetrics({ registry })).toThrow(/already has metrics named nodejs_eventloop_utilization_ratio; pass options\.prefix/);
    // Nothing half-registered.
    expect(registry.getSingleMetric('loopwatch_block_ongoing_seconds')).toBeUndefined();
  });

  it('validates its options', () => {
    const bad: [unknown, RegExp, string][] = [
      [{ prefix: 'my-app_' }, /options\.prefix must match/, ERROR_CODES.INVALID_OPTION_VALUE],
      [{ prefix: 5 }, /options\.prefix must be a string, got 5/, ERROR_CODES.INVALID_OPTION_TYPE],
      [{ registry: {} }, /options\.registry must be a prom-client Registry/, ERROR_CODES.INVALID_OPTION_TYPE],
      [null, /options must be an object, got null/, ERROR_CODES.INVALID_OPTION_TYPE],
    ];
    for (const [options, message, code] of bad) {
      let caught: unknown;
      try {
        registerMetrics(options as never);
      } catch (err) {
        caught = err;
      }
      expect((caught as Error)?.message).toMatch(message);
      expect((caught as { code?: string })?.code).toBe(code);
    }
  });

  it('an OpenMetrics registry names counter families without _total and keeps working after it', async () => {
    const registry = new Registry<typeof Registry.OPENMETRICS_CONTENT_TYPE>();
    registry.setContentType(Registry.OPENMETRICS_CONTENT_TYPE);
    const handle = registerMetrics({ registry });
    const agent = fakeAgent();
    agent.blocks.record({ durationMs: 80, ongoing: false, thread: { id: 0, name: 'main' }, culprit: null, context: null });
    for (let i = 0; i < 2; i++) {
      const f = parseExposition(await registry.metrics(), 'openmetrics');
      expect(f.get('loopwatch_blocked_seconds')?.samples.map((s) => s.name)).toEqual(['loopwatch_blocked_seconds_total']);
    }
    handle.unregister();
    expect(registry.getMetricsAsArray()).toHaveLength(0);
  });
});
