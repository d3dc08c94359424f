import { describe, expect, it } from 'vitest';
import { BlockMetrics } from '../../src/metrics/block-store.js';
import { contentType, negotiate, render } from '../../src/metrics/exposition.js';
import { buildFamilies, type MetricFamily } from '../../src/metrics/families.js';
import { ALL_METRICS, BLOCK_BUCKETS_S, OTHER_LABEL, UNKNOWN_CULPRIT_LABEL } from '../../src/metrics/names.js';
import { parseExposition, samples, total } from '../prometheus/parse.js';

const block = (durationMs: number, route: string | null, fn: string | null = 'work', ongoing = false) => ({
  durationMs, ongoing, thread: { id: 0, name: 'main' },
  culprit: fn ? { function: fn, file: 'src/app.js', line: 1, column: 1 } : null,
  context: route === null ? null : { kind: 'http', route, job: null },
});

describe('exposition', () => {
  it('negotiates OpenMetrics from the Accept header Prometheus sends', () => {
    expect(negotiate('application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1')).toBe('openmetrics');
    expect(negotiate('text/plain;version=0.0.4')).toBe('prometheus');
    expect(negotiate('application/openmetrics-text;q=0, text/plain')).toBe('prometheus');
    expect(negotiate(undefined)).toBe('prometheus');
    expect(contentType('openmetrics')).toMatch(/^application\/openmetrics-text; version=1\.0\.0/);
  });

  it('escapes label values and help, writes special values', () => {
    const f: MetricFamily[] = [{ name: 'x_seconds', help: 'a\\b\nc', type: 'gauge', samples: [
      { suffix: '', labels: { route: 'a"b\\c\nd' }, value: Number.NaN },
      { suffix: '', labels: { route: 'e' }, value: Infinity },
    ] }];
    const text = render(f, 'prometheus');
    expect(text).toBe('# HELP x_seconds a\\\\b\\nc\n# TYPE x_seconds gauge\nx_seconds{route="a\\"b\\\\c\\nd"} NaN\nx_seconds{route="e"} +Inf\n');
    expect(samples(parseExposition(text), 'x_seconds')[0].labels.route).toBe('a"b\\c\nd');
  });

  it('renders every family of the contract in both formats, readable back', () => {
    const blocks = new BlockMetrics(10);
    blocks.record(block(300, '/users/:id'));
    const loop = {
      delay: { min: 0.001, max: 0.3, mean: 0.01, stddev: 0.05, p50: 0.001, p90: 0.002, p99: 0.3 },
      utilization: 0.25, activeS: 1, idleS: 3, bucketCounts: [1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2],
      delaySumS: 0.301, delayCount: 2, ongoingS: 0,
    };
    const families = buildFamilies({ loop, blocks, thread: 'main' });
    const prom = parseExposition(render(families, 'prometheus'));
    const om = parseExposition(render(families, 'openmetrics'), 'openmetrics');
    for (const m of ALL_METRICS) {
      expect(prom.get(m.prometheus)?.type, m.prometheus).toBe(m.type);
      const omName = m.type === 'counter' ? m.prometheus.replace(/_total$/, '') : m.prometheus;
      expect(om.get(omName)?.type, omName).toBe(m.type);
      expect(om.get(omName)?.unit, omName).toBe(omName.endsWith('_ratio') ? 'ratio' : 'seconds');
    }
    const labels = { route: '/users/:id', culprit: 'work (src/app.js)', thread: 'main' };
    expect(total(prom, 'loopwatch_block_duration_seconds_count', labels)).toBe(1);
    expect(total(prom, 'loopwatch_block_duration_seconds_bucket', { ...labels, le: '0.25' })).toBe(0);
    expect(total(prom, 'loopwatch_block_duration_seconds_bucket', { ...labels, le: '0.5' })).toBe(1);
    expect(samples(prom, 'loopwatch_block_duration_seconds_bucket', labels).map((s) => s.labels.le)).toEqual([...BLOCK_BUCKETS_S.map(String), '+Inf']);
    expect(total(om, 'loopwatch_blocked_seconds_total', { route: '/users/:id', thread: 'main' })).toBeCloseTo(0.3, 9);
  });

  it('without an agent the families are declared without samples', () => {
    const text = render(buildFamilies({ loop: null, blocks: null, thread: 'main' }), 'prometheus');
    const f = parseExposition(text);
    expect(f.size).toBe(ALL_METRICS.length);
    for (const fam of f.values()) expect(fam.samples).toEqual([]);
  });
});

describe('BlockMetrics', () => {
  it('counts finished blocks only; an untracked block is route none, culprit unknown', () => {
    const b = new BlockMetrics(5);
    b.record(block(120, '/a', 'work', true));
    b.record(block(120, null, null));
    const d = [...b.durations()];
    expect(d).toHaveLength(1);
    expect(d[0]).toMatchObject({ route: 'none', culprit: UNKNOWN_CULPRIT_LABEL, thread: 'main', count: 1 });
    expect([...b.blocked()]).toEqual([{ route: 'none', thread: 'main', cause: 'code', seconds: 0.12 }]);
  });

  it('counts blocks apart by cause, a fixed set: an event without one (or an unknown one) is code', () => {
    const b = new BlockMetrics(5);
    for (const cause of ['code', 'native', 'gc', 'starved', 'starved'] as const) b.record({ ...block(100, '/a', 'work'), cause });
    b.record({ ...block(100, '/a', 'work'), cause: 'bogus' as never });
    const blocked = new Map([...b.blocked()].map((s) => [s.cause, s.seconds]));
    expect([...blocked.keys()].sort()).toEqual(['code', 'gc', 'native', 'starved']);
    expect(blocked.get('starved')).toBeCloseTo(0.2);
    expect(blocked.get('code')).toBeCloseTo(0.2);
    expect([...b.durations()].map((d) => d.cause).sort()).toEqual(['code', 'gc', 'native', 'starved']);
  });

  it('a route that loses its label takes its series with it; its later blocks count under other', () => {
    const b = new BlockMetrics(1);
    b.record(block(60, '/light'));
    b.record(block(500, '/heavy'));
    b.record(block(60, '/light'));
    const routes = [...b.blocked()].map((s) => s.route).sort();
    expect(routes).toEqual(['/heavy', OTHER_LABEL].sort());
    expect([...b.durations()].every((s) => s.route !== '/light')).toBe(true);
    expect([...b.blocked()].find((s) => s.route === OTHER_LABEL)?.seconds).toBeCloseTo(0.06, 9);
  });
});
