import { describe, expect, it } from 'vitest';
import { DEFAULTS, optionsFromEnv, resolveOptions } from '../../src/config.js';
import { LoopwatchRangeError, LoopwatchTypeError } from '../../src/errors.js';
import type { BlockEvent } from '../../src/shared/event.js';
import { FloodGate, MAX_FINGERPRINTS, type SuppressedSummary } from '../../src/watchdog/flood.js';
import { expectOptionRejected } from '../helpers/options.js';

function event(fingerprint: string, durationMs: number, extra: Partial<BlockEvent> = {}): BlockEvent {
  return {
    id: 'x', thread: { id: 0, name: 'main' }, startedAt: '', durationMs, ongoing: false, thresholdMs: 50,
    context: { kind: 'http', method: 'GET', route: '/r', path: '/r', job: null, traceId: null, spanId: null },
    culprit: { function: 'serialize', file: 'app.js', line: 1, column: 1 }, stack: [], hint: null, fingerprint, profile: [],
    cause: 'code', cpuMs: durationMs, gcMs: 0, ...extra,
  };
}

function gate(limit = 3, intervalMs = 1000): { g: FloodGate; out: SuppressedSummary[] } {
  const out: SuppressedSummary[] = [];
  return { g: new FloodGate({ limit, intervalMs, timeOrigin: 0, write: (s) => out.push(s) }), out };
}

describe('FloodGate', () => {
  it('lets `limit` lines per fingerprint through per interval, then one summary of the rest', () => {
    const { g, out } = gate(3, 1000);
    const admitted: boolean[] = [];
    // 60-64 ms blocks every 70 ms for 2.1 s: 30 blocks. An interval starts at the first
    // block after the previous one ended: [0, 1000) holds blocks 0-14, [1050, 2050) 15-29.
    for (let i = 0; i < 30; i++) admitted.push(g.admit(event('a', 60 + (i % 5)), i * 70));
    expect(out).toHaveLength(1);
    g.flush(2100);
    expect(admitted.filter(Boolean)).toHaveLength(6);
    expect(admitted.slice(0, 4)).toEqual([true, true, true, false]);
    expect(admitted[15]).toBe(true);
    expect(out.map((s) => s.count)).toEqual([12, 12]);
    expect(out[0]).toMatchObject({ fingerprint: 'a', limit: 3, intervalMs: 1000, route: '/r', cause: 'code', culprit: { function: 'serialize' } });
    expect(out[0].worstMs).toBe(64);
    // Blocks 3-14: 12 × 60 ms plus (i % 5) = 3+4+0+1+2+3+4+0+1+2+3+4 = 27.
    expect(out[0].totalMs).toBe(747);
    expect(out[0].since).toBe(new Date(0).toISOString());
    expect(out[1].since).toBe(new Date(1050).toISOString());
  });

  it('sums suppressed durations exactly and keeps the worst', () => {
    const { g, out } = gate(1, 1000);
    g.admit(event('a', 100), 0);
    for (const [d, t] of [[70, 100], [250, 200], [90.5, 300]] as const) expect(g.admit(event('a', d), t)).toBe(false);
    g.flush(1000);
    expect(out).toEqual([expect.objectContaining({ count: 3, totalMs: 410.5, worstMs: 250, until: new Date(300).toISOString() })]);
  });

  it('counts each fingerprint apart, and never limits ongoing lines', () => {
    const { g } = gate(1, 1000);
    expect(g.admit(event('a', 60), 0)).toBe(true);
    expect(g.admit(event('b', 60), 1)).toBe(true);
    expect(g.admit(event('a', 60), 2)).toBe(false);
    expect(g.admit(event('a', 600, { ongoing: true }), 3)).toBe(true);
  });

  it('writes no summary when nothing was suppressed; a new interval admits again', () => {
    const { g, out } = gate(2, 1000);
    g.admit(event('a', 60), 0);
    g.admit(event('a', 60), 10);
    g.flush(5000);
    expect(out).toEqual([]);
    expect(g.admit(event('a', 60), 5000)).toBe(true);
  });

  it('limit 0 turns it off', () => {
    const { g, out } = gate(0, 1000);
    for (let i = 0; i < 100; i++) expect(g.admit(event('a', 60), i)).toBe(true);
    g.flushAll();
    expect(out).toEqual([]);
  });

  it('flushAll writes pending summaries at once (the process exits)', () => {
    const { g, out } = gate(1, 60_000);
    g.admit(event('a', 60), 0);
    g.admit(event('a', 70), 10);
    g.flushAll();
    expect(out).toEqual([expect.objectContaining({ fingerprint: 'a', count: 1, worstMs: 70 })]);
  });

  it('holds at most MAX_FINGERPRINTS entries; a dropped one writes its summary first', () => {
    const { g, out } = gate(1, 60_000);
    g.admit(event('first', 60), 0);
    g.admit(event('first', 60), 1);
    for (let i = 0; i < 10 * MAX_FINGERPRINTS; i++) g.admit(event(`fp${i}`, 60), 2 + i);
    expect(g.size).toBeLessThanOrEqual(MAX_FINGERPRINTS);
    expect(out[0]).toMatchObject({ fingerprint: 'first', count: 1 });
  });

  it('a summary that fails to write does not throw into the watchdog', () => {
    const g = new FloodGate({ limit: 1, intervalMs: 10, timeOrigin: 0, write: () => { throw new Error('disk full'); } });
    g.admit(event('a', 60), 0);
    g.admit(event('a', 60), 1);
    expect(() => g.flush(100)).not.toThrow();
  });
});

describe('flood-control options', () => {
  it('defaults: 5 lines per fingerprint per minute', () => {
    expect(DEFAULTS).toMatchObject({ logLimit: 5, logIntervalMs: 60_000 });
    expect(resolveOptions({ logLimit: 0, logIntervalMs: 1000 })).toMatchObject({ logLimit: 0, logIntervalMs: 1000 });
  });

  const bad: [string, unknown, typeof LoopwatchTypeError | typeof LoopwatchRangeError, RegExp][] = [
    ['logLimit', '5', LoopwatchTypeError, /options\.logLimit must be a number, got "5"/],
    ['logLimit', -1, LoopwatchRangeError, /options\.logLimit must be an integer >= 0 and <= 10000, got -1/],
    ['logLimit', 2.5, LoopwatchRangeError, /options\.logLimit must be an integer .* got 2\.5/],
    ['logIntervalMs', 999, LoopwatchRangeError, /options\.logIntervalMs must be an integer >= 1000 and <= 86400000, got 999/],
    ['logIntervalMs', null, LoopwatchTypeError, /options\.logIntervalMs must be a number, got null/],
  ];
  it.each(bad)('rejects options.%s = %o', (key, value, Cls, message) => {
    expectOptionRejected(key, value, Cls, message);
  });

  it('reads LOOPWATCH_LOG_LIMIT and LOOPWATCH_LOG_INTERVAL_MS; bad values keep the default', () => {
    expect(optionsFromEnv({ LOOPWATCH_LOG_LIMIT: '20', LOOPWATCH_LOG_INTERVAL_MS: '10000' })).toEqual({ logLimit: 20, logIntervalMs: 10_000 });
    expect(optionsFromEnv({ LOOPWATCH_LOG_LIMIT: '0' })).toEqual({ logLimit: 0 });
    expect(optionsFromEnv({ LOOPWATCH_LOG_LIMIT: 'lots', LOOPWATCH_LOG_INTERVAL_MS: '10' })).toEqual({});
  });
});
