import { expect } from 'vitest';
import { resolveOptions } from '../../src/config.js';
import { ERROR_CODES, LoopwatchRangeError, LoopwatchTypeError } from '../../src/errors.js';

/** resolveOptions({ [key]: value }) must throw `Cls` with `message` and the matching code. */
export function expectOptionRejected(key: string, value: unknown, Cls: typeof LoopwatchTypeError | typeof LoopwatchRangeError, message: RegExp): void {
  let caught: unknown;
  try {
    resolveOptions({ [key]: value });
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(Cls);
  expect((caught as Error).message).toMatch(message);
  expect((caught as { code: string }).code).toBe(Cls === LoopwatchTypeError ? ERROR_CODES.INVALID_OPTION_TYPE : ERROR_CODES.INVALID_OPTION_VALUE);
}
