import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../', import.meta.url));
const require = createRequire(`${root}package.json`);

type Classes = { LoopwatchError: new (...a: never[]) => Error; LoopwatchTypeError: new (...a: never[]) => Error; LoopwatchRangeError: new (...a: never[]) => Error; LoopwatchBlockedError: new (...a: never[]) => Error };

function thrown(fn: () => unknown): Error & { code?: string } {
  try {
    fn();
  } catch (err) {
    return err as Error & { code?: string };
  }
  throw new Error('expected a throw');
}

// Each entry point bundles its own copy of the error classes, in a CJS and an ESM build.
// Errors thrown by any copy are instances of the classes exported by every other.
describe('one error brand across entry points and copies', async () => {
  const copies: [string, Classes][] = [
    ['loopwatch (require)', require('loopwatch') as Classes],
    ['loopwatch (import)', (await import('loopwatch')) as unknown as Classes],
  ];
  const throwers: [string, () => Error & { code?: string }, 'LoopwatchTypeError' | 'LoopwatchRangeError' | 'LoopwatchError', string][] = [];
  for (const how of ['require', 'import'] as const) {
    const load = async (name: string): Promise<Record<string, (...a: unknown[]) => unknown>> =>
      how === 'require' ? require(name) : await import(name);
    const index = await load('loopwatch');
    const prometheus = await load('loopwatch/prometheus');
    const otel = await load('loopwatch/otel');
    throwers.push(
      [`loopwatch start() (${how})`, () => thrown(() => index.start({ thresholdMs: 0 })), 'LoopwatchRangeError', 'LOOPWATCH_ERR_INVALID_OPTION_VALUE'],
      [`loopwatch run() (${how})`, () => thrown(() => index.run(null, () => 1)), 'LoopwatchTypeError', 'LOOPWATCH_ERR_INVALID_OPTION_TYPE'],
      [`loopwatch/prometheus registerMetrics() (${how})`, () => thrown(() => prometheus.registerMetrics({ prefix: 5 })), 'LoopwatchTypeError', 'LOOPWATCH_ERR_INVALID_OPTION_TYPE'],
      [`loopwatch/otel useOpenTelemetry() (${how})`, () => thrown(() => otel.useOpenTelemetry()), 'LoopwatchError', 'LOOPWATCH_ERR_NOT_STARTED'],
    );
  }

  for (const [where, make, cls, code] of throwers) {
    it(`${where}: ${cls} with ${code}, an instance of every copy's classes`, () => {
      const err = make();
      expect(err.code).toBe(code);
      expect(err.name).toBe(cls);
      for (const [copy, classes] of copies) {
        expect(err instanceof classes.LoopwatchError, `instanceof LoopwatchError of ${copy}`).toBe(true);
        expect(err instanceof classes[cls], `instanceof ${cls} of ${copy}`).toBe(true);
        for (const other of ['LoopwatchTypeError', 'LoopwatchRangeError', 'LoopwatchBlockedError'] as const) {
          if (other !== cls) expect(err instanceof classes[other], `not instanceof ${other} of ${copy}`).toBe(false);
        }
      }
      if (cls === 'LoopwatchTypeError') expect(err).toBeInstanceOf(TypeError);
      if (cls === 'LoopwatchRangeError') expect(err).toBeInstanceOf(RangeError);
    });
  }

  it('plain errors and look-alikes are not instances', () => {
    for (const [, classes] of copies) {
      expect(new Error('x') instanceof classes.LoopwatchError).toBe(false);
      expect(Object.assign(new TypeError('x'), { code: 'LOOPWATCH_ERR_INVALID_OPTION_TYPE', name: 'LoopwatchTypeError' }) instanceof classes.LoopwatchTypeError).toBe(false);
      expect((null as unknown) instanceof classes.LoopwatchError).toBe(false);
    }
  });
});
