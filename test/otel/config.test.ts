/** The OpenTelemetry and logger options and their environment variables. */
import { describe, expect, it } from 'vitest';
import { DEFAULTS, optionsFromEnv, resolveOptions } from '../../src/config.js';
import { LoopwatchTypeError } from '../../src/errors.js';

describe('otel options', () => {
  it('defaults: otel on, runtime metrics auto, no logger', () => {
    expect(DEFAULTS).toMatchObject({ otel: true, otelRuntimeMetrics: 'auto', logger: null });
    expect(resolveOptions({})).toMatchObject({ otel: true, otelRuntimeMetrics: 'auto', logger: null });
  });

  it('validates them, naming the option', () => {
    expect(() => resolveOptions({ otel: 'yes' })).toThrow(new LoopwatchTypeError('options.otel must be a boolean, got "yes"'));
    expect(() => resolveOptions({ otelRuntimeMetrics: 'on' })).toThrow(/options\.otelRuntimeMetrics must be true, false or "auto", got "on"/);
    expect(resolveOptions({ otel: false, otelRuntimeMetrics: false })).toMatchObject({ otel: false, otelRuntimeMetrics: false });
  });

  it('reads LOOPWATCH_OTEL and LOOPWATCH_OTEL_RUNTIME_METRICS', () => {
    expect(optionsFromEnv({ LOOPWATCH_OTEL: 'off' })).toEqual({ otel: false });
    expect(optionsFromEnv({ LOOPWATCH_OTEL_RUNTIME_METRICS: 'auto' })).toEqual({ otelRuntimeMetrics: 'auto' });
    expect(optionsFromEnv({ LOOPWATCH_OTEL_RUNTIME_METRICS: 'on' })).toEqual({ otelRuntimeMetrics: true });
    expect(optionsFromEnv({ LOOPWATCH_OTEL_RUNTIME_METRICS: '0' })).toEqual({ otelRuntimeMetrics: false });
    // A bad value warns (once) and keeps the default.
    expect(optionsFromEnv({ LOOPWATCH_OTEL_RUNTIME_METRICS: 'maybe' })).toEqual({});
  });
});
