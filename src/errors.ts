/**
 * Every error loopwatch throws carries a stable `code`, so callers can branch on it
 * without parsing messages. Background problems never throw: they become warnings
 * with one of the WARNING_CODES below.
 */
export const ERROR_CODES = {
  INVALID_OPTION_TYPE: 'LOOPWATCH_ERR_INVALID_OPTION_TYPE',
  INVALID_OPTION_VALUE: 'LOOPWATCH_ERR_INVALID_OPTION_VALUE',
  NOT_MAIN_THREAD: 'LOOPWATCH_ERR_NOT_MAIN_THREAD',
  NOT_STARTED: 'LOOPWATCH_ERR_NOT_STARTED',
  BLOCKED: 'LOOPWATCH_ERR_BLOCKED',
} as const;

export const WARNING_CODES = {
  INVALID_ENV: 'LOOPWATCH_WARN_INVALID_ENV',
  ALREADY_STARTED: 'LOOPWATCH_WARN_ALREADY_STARTED',
  NO_INSPECTOR: 'LOOPWATCH_WARN_NO_INSPECTOR',
  CAPTURE_FAILED: 'LOOPWATCH_WARN_CAPTURE_FAILED',
  WORKER_FAILED: 'LOOPWATCH_WARN_WORKER_FAILED',
  LOG_DESTINATION: 'LOOPWATCH_WARN_LOG_DESTINATION',
  START_FAILED: 'LOOPWATCH_WARN_START_FAILED',
  OTLP_PACKAGES: 'LOOPWATCH_WARN_OTLP_PACKAGES',
  PROMETHEUS_ENDPOINT: 'LOOPWATCH_WARN_PROMETHEUS_ENDPOINT',
} as const;

export type ErrorCode = (typeof ERROR_CODES)[keyof typeof ERROR_CODES];
export type WarningCode = (typeof WARNING_CODES)[keyof typeof WARNING_CODES];

/**
 * Each entry point (`loopwatch`, `/otel`, `/prometheus`, …) bundles its own copy of these
 * classes, in an ESM and a CJS build, and an app may load several. An error therefore
 * carries a brand (a registered symbol, the same in every copy: the classes it belongs to)
 * and `instanceof` checks the brand, so an error thrown by one copy is an instance of the
 * classes of every other (undici brands its errors the same way).
 */
const BRAND = Symbol.for('loopwatch.error.v1');

type Branded = { [BRAND]?: readonly string[] };

function brand(err: Error, names: readonly string[]): void {
  Object.defineProperty(err, BRAND, { value: Object.freeze([...names]), enumerable: false });
}

function branded(value: unknown, name: string): boolean {
  const names = value !== null && typeof value === 'object' ? (value as Branded)[BRAND] : undefined;
  return Array.isArray(names) && names.includes(name);
}

/** Base class: `err instanceof LoopwatchError` catches everything loopwatch throws, from any copy. */
export class LoopwatchError extends Error {
  /** The brand of errors of this class (subclasses set their own). */
  static readonly brand: string = 'LoopwatchError';
  static override [Symbol.hasInstance](value: unknown): boolean {
    return branded(value, this.brand);
  }

  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string) {
    super(message);
    this.name = 'LoopwatchError';
    this.code = code;
    const names: string[] = [];
    for (let c = new.target as unknown as { brand?: string } | null; c && typeof c.brand === 'string'; c = Object.getPrototypeOf(c)) names.push(c.brand);
    brand(this, names);
  }
}

/** A wrong type for an option, in the shape of Node's ERR_INVALID_ARG_TYPE; also `instanceof LoopwatchError`. */
export class LoopwatchTypeError extends TypeError {
  static override [Symbol.hasInstance](value: unknown): boolean {
    return branded(value, 'LoopwatchTypeError');
  }

  readonly code = ERROR_CODES.INVALID_OPTION_TYPE;
  constructor(message: string) {
    super(message);
    this.name = 'LoopwatchTypeError';
    brand(this, ['LoopwatchTypeError', 'LoopwatchError']);
  }
}

/** A value of the right type outside what is allowed; also `instanceof LoopwatchError`. */
export class LoopwatchRangeError extends RangeError {
  static override [Symbol.hasInstance](value: unknown): boolean {
    return branded(value, 'LoopwatchRangeError');
  }

  readonly code = ERROR_CODES.INVALID_OPTION_VALUE;
  constructor(message: string) {
    super(message);
    this.name = 'LoopwatchRangeError';
    brand(this, ['LoopwatchRangeError', 'LoopwatchError']);
  }
}

/** Human-readable rendering of a bad value for error messages. */
export function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean' || value == null) return String(value);
  if (typeof value === 'function') return `function ${value.name || '<anonymous>'}`;
  if (Array.isArray(value)) return 'an array';
  return `an instance of ${value?.constructor?.name ?? 'Object'}`;
}

let warned: Set<string> | undefined;

/**
 * Emits a process warning once per key. Warnings are how background failures surface;
 * they must never throw into the host.
 */
export function warnOnce(key: string, message: string, code: WarningCode): void {
  warned ??= new Set();
  if (warned.has(key)) return;
  warned.add(key);
  try {
    process.emitWarning(message, { code, type: 'LoopwatchWarning' });
  } catch {
    // emitWarning only throws for bad arguments; nothing to do for the host.
  }
}
