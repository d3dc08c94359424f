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

/** Base class: `err instanceof LoopwatchError` catches everything loopwatch throws. */
export class LoopwatchError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string) {
    super(message);
    this.name = 'LoopwatchError';
    this.code = code;
  }
}

/** A wrong type for an option, in the shape of Node's ERR_INVALID_ARG_TYPE. */
export class LoopwatchTypeError extends TypeError {
  readonly code = ERROR_CODES.INVALID_OPTION_TYPE;
  constructor(message: string) {
    super(message);
    this.name = 'LoopwatchTypeError';
  }
}

/** A value of the right type outside what is allowed. */
export class LoopwatchRangeError extends RangeError {
  readonly code = ERROR_CODES.INVALID_OPTION_VALUE;
  constructor(message: string) {
    super(message);
    this.name = 'LoopwatchRangeError';
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
