/**
 * Type tests of the public API: checked by `tsc --noEmit` (npm run typecheck), which fails
 * on a wrong type or on an @ts-expect-error that no longer errs; the runtime part is trivial.
 */
import type { Registry } from 'prom-client';
import { describe, expectTypeOf, it } from 'vitest';
import {
  assertNoBlock, type BlockContext, type BlockEvent, current, DEFAULTS, LoopwatchBlockedError, LoopwatchError, type Monitor,
  type NoBlockOptions, type Options, run, start, type StackFrame,
} from '../../src/index.js';
import { koa } from '../../integrations/koa.js';
import { useOpenTelemetry } from '../../src/otel.js';
import { registerMetrics } from '../../src/prometheus.js';

describe('public types', () => {
  it('start, current, run and the monitor', () => {
    expectTypeOf(start).parameter(0).toEqualTypeOf<Options | undefined>();
    expectTypeOf(start).returns.toEqualTypeOf<Monitor>();
    expectTypeOf(current).returns.toEqualTypeOf<Monitor | undefined>();
    expectTypeOf<Monitor['stop']>().returns.toEqualTypeOf<Promise<void>>();
    expectTypeOf<Parameters<Monitor['on']>[1]>().toEqualTypeOf<(event: BlockEvent) => void>();
    expectTypeOf(run({ kind: 'job', name: 'types' }, () => 1)).toEqualTypeOf<number>();
    expectTypeOf(DEFAULTS.thresholdMs).toMatchTypeOf<number>();
    // @ts-expect-error: an option that does not exist
    const bad: Options = { threshold: 50 };
    void bad;
    // @ts-expect-error: run() takes a context object first
    void (() => run(() => 1));
  });

  it('the block event', () => {
    expectTypeOf<BlockEvent['durationMs']>().toEqualTypeOf<number>();
    expectTypeOf<BlockEvent['ongoing']>().toEqualTypeOf<boolean>();
    expectTypeOf<BlockEvent['context']>().toEqualTypeOf<BlockContext>();
    expectTypeOf<BlockContext['route']>().toEqualTypeOf<string | null>();
    expectTypeOf<NonNullable<BlockContext['test']>>().toEqualTypeOf<{ file: string | null; name: string }>();
    expectTypeOf<BlockEvent['culprit']>().toEqualTypeOf<{ function: string; file: string; line: number; column: number } | null>();
    expectTypeOf<BlockEvent['stack']>().toEqualTypeOf<StackFrame[]>();
    expectTypeOf<StackFrame['inApp']>().toEqualTypeOf<boolean>();
  });

  it('assertNoBlock and its error', () => {
    // Typed, not run: a call would start an agent (from src/, without its built worker).
    const typed = (): void => {
      expectTypeOf(assertNoBlock(() => 42)).toEqualTypeOf<Promise<number>>();
      expectTypeOf(assertNoBlock(async () => 'x')).toEqualTypeOf<Promise<string>>();
    };
    void typed;
    expectTypeOf<NoBlockOptions>().toEqualTypeOf<{ budgetMs?: number }>();
    expectTypeOf<LoopwatchBlockedError>().toMatchTypeOf<LoopwatchError>();
    expectTypeOf<LoopwatchBlockedError['blocks']>().toEqualTypeOf<BlockEvent[]>();
  });

  it('the subpath entries', () => {
    // Never called: only compiled.
    const calls = (registry: Registry): void => {
      registerMetrics({ registry, prefix: 'app_' });
      // @ts-expect-error: the prefix is a string
      registerMetrics({ prefix: 5 });
      // @ts-expect-error: providers must be OpenTelemetry providers
      useOpenTelemetry({ meterProvider: 'global' });
    };
    void calls;
    expectTypeOf(registerMetrics).returns.toMatchTypeOf<{ readonly names: readonly string[]; unregister(): void }>();
    expectTypeOf(useOpenTelemetry).returns.toEqualTypeOf<void>();
    expectTypeOf(koa).returns.toBeFunction();
  });
});
