import { describe, expect, it } from 'vitest';
import { confirmFor, DEFAULTS, enabledFromEnv, heartbeatFor, hostProblem, optionsFromEnv, resolveOptions, workerThreadsFromEnv } from '../../src/config.js';
import { LoopwatchRangeError, LoopwatchTypeError } from '../../src/errors.js';
import { expectOptionRejected } from '../helpers/options.js';

describe('resolveOptions', () => {
  it('applies the defaults', () => {
    const c = resolveOptions({});
    expect(c).toMatchObject(DEFAULTS);
    expect(c.heartbeatMs).toBe(38);
    expect(c.confirmMs).toBe(12);
    expect(Object.isFrozen(c)).toBe(true);
    expect(Object.isFrozen(DEFAULTS)).toBe(true);
  });

  it('keeps valid values', () => {
    expect(resolveOptions({ thresholdMs: 100, log: '/tmp/x.jsonl', context: false, captureStacks: false, stuckMs: 2000, maxSamples: 3 }))
      .toMatchObject({ thresholdMs: 100, log: '/tmp/x.jsonl', context: false, captureStacks: false, stuckMs: 2000, maxSamples: 3, heartbeatMs: 75, confirmMs: 25 });
  });

  // Table: option value → error class and the words the message must contain.
  const bad: [string, unknown, typeof LoopwatchTypeError | typeof LoopwatchRangeError, RegExp][] = [
    ['thresholdMs', '50', LoopwatchTypeError, /options\.thresholdMs must be a number, got "50"/],
    ['thresholdMs', 0, LoopwatchRangeError, /options\.thresholdMs must be a number >= 1 and <= 3600000, got 0/],
    ['thresholdMs', Number.NaN, LoopwatchRangeError, /options\.thresholdMs .* got NaN/],
    ['thresholdMs', Infinity, LoopwatchRangeError, /got Infinity/],
    ['log', 42, LoopwatchTypeError, /options\.log must be a string .*got 42/],
    ['log', ' ', LoopwatchRangeError, /options\.log must be "stderr", "stdout", "off" or a file path/],
    ['context', 'on', LoopwatchTypeError, /options\.context must be true, false, "als" or "inflight", got "on"/],
    ['captureStacks', 1, LoopwatchTypeError, /options\.captureStacks must be a boolean, got 1/],
    ['stuckMs', -5, LoopwatchRangeError, /options\.stuckMs .* got -5/],
    ['maxSamples', 2.5, LoopwatchRangeError, /options\.maxSamples must be an integer >= 1 and <= 50, got 2.5/],
    ['maxSamples', 51, LoopwatchRangeError, /got 51/],
    ['thresholdMS', 50, LoopwatchRangeError, /options\.thresholdMS is not a loopwatch option; allowed: thresholdMs/],
  ];
  it.each(bad)('rejects options.%s = %o', (key, value, Cls, message) => {
    expectOptionRejected(key, value, Cls, message);
  });

  it('rejects a non-object', () => {
    expect(() => resolveOptions(5)).toThrow(/options must be an object, got 5/);
    expect(() => resolveOptions([])).toThrow(TypeError);
  });
});

describe('heartbeatFor / confirmFor', () => {
  it('beat + grace = threshold, so the check falls inside every block of at least the threshold', () => {
    expect(heartbeatFor(50)).toBe(38);
    expect(heartbeatFor(1000)).toBe(750);
    expect(heartbeatFor(1)).toBe(1);
    for (const t of [2, 10, 50, 77, 1000]) expect(heartbeatFor(t) + confirmFor(t)).toBe(t);
  });
});

describe('optionsFromEnv', () => {
  it('reads valid variables', () => {
    expect(optionsFromEnv({ LOOPWATCH_THRESHOLD_MS: '75', LOOPWATCH_LOG: 'stdout', LOOPWATCH_CONTEXT: 'off' }))
      .toEqual({ thresholdMs: 75, log: 'stdout', context: false });
    expect(optionsFromEnv({})).toEqual({});
  });

  it('ignores bad values instead of throwing', () => {
    expect(optionsFromEnv({ LOOPWATCH_THRESHOLD_MS: 'abc' })).toEqual({});
    expect(optionsFromEnv({ LOOPWATCH_THRESHOLD_MS: '0' })).toEqual({});
    expect(optionsFromEnv({ LOOPWATCH_CONTEXT: 'maybe' })).toEqual({});
    expect(optionsFromEnv({ LOOPWATCH_LOG: '   ' })).toEqual({});
  });

  it('an empty or blank variable is a bad value: the default applies (issue 13)', () => {
    const names = ['LOOPWATCH_THRESHOLD_MS', 'LOOPWATCH_LOG', 'LOOPWATCH_CONTEXT', 'LOOPWATCH_OTEL', 'LOOPWATCH_OTEL_RUNTIME_METRICS', 'LOOPWATCH_PROMETHEUS_PORT', 'LOOPWATCH_PROMETHEUS_HOST', 'LOOPWATCH_METRICS_TOP_N'];
    for (const value of ['', ' ', '\t']) {
      expect(optionsFromEnv(Object.fromEntries(names.map((n) => [n, value]))), JSON.stringify(value)).toEqual({});
      expect(enabledFromEnv({ LOOPWATCH_ENABLED: value })).toBe(true);
      expect(workerThreadsFromEnv({ LOOPWATCH_WORKER_THREADS: value })).toBe(false);
    }
  });

  it('LOOPWATCH_PROMETHEUS_HOST: numbers only is meant as an IPv4 address and must be one', () => {
    expect(optionsFromEnv({ LOOPWATCH_PROMETHEUS_HOST: '999.1.1.1' })).toEqual({});
    expect(optionsFromEnv({ LOOPWATCH_PROMETHEUS_HOST: ' 10.1.2.3 ' })).toEqual({ prometheusHost: '10.1.2.3' });
    expect(hostProblem('999.1.1.1')).toBe('not an IP address: 999 is more than 255');
    expect(hostProblem('1.2.256.4')).toBe('not an IP address: 256 is more than 255');
    expect(hostProblem('1.2.3')).toMatch(/^not an IP address: an IPv4 address is four numbers from 0 to 255/);
    expect(hostProblem('12345')).toMatch(/^not an IP address/);
    expect(hostProblem('host.123')).toBe('not a host name: its last label is all digits');
    expect(hostProblem('a..b')).toMatch(/no empty label/);
    expect(hostProblem('bad_host')).toBe('not a host name: "bad_host" is not letters, digits and inner hyphens');
    expect(hostProblem('::g')).toBe('not an IPv6 address');
    expect(hostProblem('')).toBe('it is empty');
    expect(hostProblem('x'.repeat(254))).toMatch(/at most 253 characters/);
    for (const ok of ['127.0.0.1', '0.0.0.0', '::1', '[::1]', 'localhost', 'metrics.internal', '9lives.example', 'host-1.example.com.']) expect(hostProblem(ok), ok).toBeNull();
  });

  it('reads LOOPWATCH_ENABLED', () => {
    expect(enabledFromEnv({})).toBe(true);
    expect(enabledFromEnv({ LOOPWATCH_ENABLED: 'false' })).toBe(false);
    expect(enabledFromEnv({ LOOPWATCH_ENABLED: '0' })).toBe(false);
    expect(enabledFromEnv({ LOOPWATCH_ENABLED: 'true' })).toBe(true);
  });

  it('LOOPWATCH_WORKER_THREADS: off unless set on', () => {
    expect(workerThreadsFromEnv({})).toBe(false);
    expect(workerThreadsFromEnv({ LOOPWATCH_WORKER_THREADS: 'on' })).toBe(true);
    expect(workerThreadsFromEnv({ LOOPWATCH_WORKER_THREADS: 'off' })).toBe(false);
  });
});
