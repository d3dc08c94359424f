import { describe, expect, it } from 'vitest';
import { culpritLabel, MAX_LABEL_LENGTH, routeLabel, threadLabel, TopNLabels } from '../../src/metrics/labels.js';
import { NO_ROUTE_LABEL, OTHER_LABEL, UNKNOWN_CULPRIT_LABEL, UNMATCHED_ROUTE_LABEL } from '../../src/metrics/names.js';

describe('TopNLabels', () => {
  it('gives the first N values their own label and the rest "other"', () => {
    const top = new TopNLabels({ limit: 3 });
    expect(['/a', '/b', '/c'].map((v) => top.observe(v, 0.1))).toEqual(['/a', '/b', '/c']);
    expect(top.observe('/d', 0.1)).toBe(OTHER_LABEL);
    expect(top.label('/d')).toBe(OTHER_LABEL);
    expect(top.label('/a')).toBe('/a');
    expect(top.values().sort()).toEqual(['/a', '/b', '/c']);
  });

  it('200 distinct values produce at most N + 1 label values', () => {
    const top = new TopNLabels({ limit: 10 });
    const seen = new Set<string>();
    for (let i = 0; i < 200; i++) seen.add(top.observe(`/route/${i}`, 0.05 + (i % 7) * 0.01));
    // Live values: the admitted ones plus other.
    expect(top.values().length).toBeLessThanOrEqual(10);
    expect(new Set([...top.values(), OTHER_LABEL]).size).toBeLessThanOrEqual(11);
    expect(seen.has(OTHER_LABEL)).toBe(true);
  });

  it('a value that keeps blocking displaces the lightest admitted one, and the eviction is announced', () => {
    const evicted: string[] = [];
    const top = new TopNLabels({ limit: 2, onEvict: (v) => evicted.push(v) });
    top.observe('/light', 0.05);
    top.observe('/medium', 0.5);
    // Heavy but late: counted under other until it clearly outweighs /light (hysteresis 2×).
    expect(top.observe('/heavy', 0.06)).toBe(OTHER_LABEL);
    expect(top.observe('/heavy', 0.06)).toBe('/heavy');
    expect(evicted).toEqual(['/light']);
    expect(top.values().sort()).toEqual(['/heavy', '/medium']);
    expect(top.label('/light')).toBe(OTHER_LABEL);
  });

  it('does not flap between values of similar weight', () => {
    const evicted: string[] = [];
    const top = new TopNLabels({ limit: 1, onEvict: (v) => evicted.push(v) });
    for (let i = 0; i < 100; i++) {
      top.observe('/a', 0.1);
      top.observe('/b', 0.1);
    }
    expect(evicted).toEqual([]);
    expect(top.values()).toEqual(['/a']);
  });

  it('finds a heavy hitter among a stream of one-off values (bounded candidate table)', () => {
    // Space-saving keeps any value with more than 1/candidates of the total weight: /hot has 1/11.
    const top = new TopNLabels({ limit: 2, candidates: 16 });
    top.observe('/x', 0.05);
    top.observe('/y', 0.05);
    for (let i = 0; i < 1000; i++) {
      top.observe(`/noise/${i}`, 0.05);
      if (i % 10 === 0) top.observe('/hot', 0.05);
    }
    expect(top.values()).toContain('/hot');
    expect(top.label('/noise/999')).toBe(OTHER_LABEL);
  });

  it('the space-saving overcount alone never promotes a value', () => {
    const top = new TopNLabels({ limit: 1, candidates: 2 });
    top.observe('/admitted', 1);
    top.observe('/c1', 1.9);
    top.observe('/c2', 1.9);
    expect(top.values()).toEqual(['/admitted']);
    // The table is full: /new displaces a candidate and inherits its 1.9 as overcount. Its
    // estimate (2.1) exceeds 2 × 1, its guaranteed weight (0.2) does not.
    expect(top.observe('/new', 0.2)).toBe(OTHER_LABEL);
    expect(top.weight('/new')).toBeCloseTo(2.1, 9);
    expect(top.values()).toEqual(['/admitted']);
  });

  it('bounds memory: candidates are capped whatever the number of values', () => {
    const top = new TopNLabels({ limit: 2, candidates: 4 });
    for (let i = 0; i < 500; i++) top.observe(`/v/${i}`, 1);
    let tracked = 0;
    for (let i = 0; i < 500; i++) if (top.weight(`/v/${i}`) !== undefined) tracked++;
    expect(tracked).toBeLessThanOrEqual(2 + 4);
  });

  it('cuts long values and treats a raw "other" as other', () => {
    const top = new TopNLabels({ limit: 2 });
    const long = `/${'x'.repeat(500)}`;
    expect(top.observe(long, 1)).toHaveLength(MAX_LABEL_LENGTH);
    expect(top.observe(OTHER_LABEL, 1)).toBe(OTHER_LABEL);
    expect(top.values()).toHaveLength(1);
  });

  it('ignores non-finite and negative weights', () => {
    const top = new TopNLabels({ limit: 1 });
    top.observe('/a', Number.NaN);
    top.observe('/a', -1);
    top.observe('/a', 0.2);
    expect(top.weight('/a')).toBeCloseTo(0.2, 9);
  });

  it('rejects a limit below 1', () => {
    expect(() => new TopNLabels({ limit: 0 })).toThrow(RangeError);
    expect(() => new TopNLabels({ limit: 1.5 })).toThrow(RangeError);
  });
});

describe('label values', () => {
  const ctx = (over: Partial<{ kind: string | null; route: string | null; job: string | null }>) => ({ kind: null, route: null, job: null, ...over });

  it('route: template, unmatched, job name, none', () => {
    expect(routeLabel(ctx({ kind: 'http', route: '/users/:id' }))).toBe('/users/:id');
    expect(routeLabel(ctx({ kind: 'http' }))).toBe(UNMATCHED_ROUTE_LABEL);
    expect(routeLabel(ctx({ kind: 'job', job: 'nightly-report' }))).toBe('nightly-report');
    expect(routeLabel(ctx({ kind: 'startup' }))).toBe(NO_ROUTE_LABEL);
    expect(routeLabel(ctx({}))).toBe(NO_ROUTE_LABEL);
    expect(routeLabel(null)).toBe(NO_ROUTE_LABEL);
  });

  it('culprit: function and file without the line; unknown without a stack', () => {
    expect(culpritLabel({ function: 'parseReport', file: 'src/report.ts' })).toBe('parseReport (src/report.ts)');
    expect(culpritLabel({ function: '', file: 'a.js' })).toBe('<anonymous> (a.js)');
    expect(culpritLabel(null)).toBe(UNKNOWN_CULPRIT_LABEL);
  });

  it('thread: the thread name', () => {
    expect(threadLabel({ id: 0, name: 'main' })).toBe('main');
    expect(threadLabel({ id: 3, name: '' })).toBe('3');
  });
});
