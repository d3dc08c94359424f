import { isIP } from 'node:net';
import { describe, LoopwatchRangeError, LoopwatchTypeError, WARNING_CODES, warnOnce } from './errors.js';

export type LogDestination = 'stderr' | 'stdout' | 'off' | (string & {});

export interface Options {
  /** A stall at least this long (ms) is a block. Default 50. */
  thresholdMs?: number;
  /** Where the watchdog writes block lines: 'stderr' (default), 'stdout', 'off' or a file path (appended JSONL). */
  log?: LogDestination;
  /** Keep request/job context in an AsyncLocalStorage (default true). */
  context?: boolean;
  /** Capture stacks through the inspector (default true); false keeps detection and durations only. */
  captureStacks?: boolean;
  /** A block still going after this many ms is logged with "ongoing": true, then at doubling intervals. Default 500. */
  stuckMs?: number;
  /** Stack samples taken per block at most (1–50). Default 10. */
  maxSamples?: number;
  /** Serve /metrics (Prometheus text format) from the watchdog thread on this port. Default: off. */
  prometheusPort?: number | null;
  /** Bind address of that endpoint. Default '0.0.0.0'. */
  prometheusHost?: string;
  /** Routes and culprits that get their own label value in block metrics (the rest: `other`), 1–1000. Default 10. */
  metricsTopN?: number;
}

export interface ResolvedConfig {
  readonly thresholdMs: number;
  readonly log: LogDestination;
  readonly context: boolean;
  readonly captureStacks: boolean;
  readonly stuckMs: number;
  readonly maxSamples: number;
  readonly prometheusPort: number | null;
  readonly prometheusHost: string;
  readonly metricsTopN: number;
  /** Heartbeat period: derived, not an option (see heartbeatFor). */
  readonly heartbeatMs: number;
  /** Grace past a due beat before a stall is sampled: derived (see confirmFor). */
  readonly confirmMs: number;
}

export const DEFAULTS = Object.freeze({
  thresholdMs: 50,
  log: 'stderr' as LogDestination,
  context: true,
  captureStacks: true,
  stuckMs: 500,
  maxSamples: 10,
  prometheusPort: null as number | null,
  prometheusHost: '0.0.0.0',
  metricsTopN: 10,
});

const KNOWN = new Set(Object.keys(DEFAULTS));

/**
 * Wake-ups are the agent's idle cost (measured on the 2-core VMs here: ~80 µs of CPU per
 * timer wake of the main loop, ~45 µs per futex wake of the watchdog), so both threads wake
 * only as often as the threshold requires. The main thread beats every 0.75 × threshold;
 * the watchdog checks once per beat, 0.25 × threshold after a beat was due. A beat missing
 * then means the loop has been busy for at least 0.25 × threshold, and the first stack
 * sample is taken at once. Since beat + grace = threshold, that check falls inside every
 * block of at least the threshold, wherever it starts, and comes at most one threshold after
 * the block began. Stalls shorter than the threshold cost that one sample, are not reported.
 */
export function heartbeatFor(thresholdMs: number): number {
  return Math.max(1, Math.min(Math.round(thresholdMs * 0.75), Math.floor(thresholdMs) - 1));
}

/** How long past a due beat the watchdog waits before it treats the loop as stalled. */
export function confirmFor(thresholdMs: number): number {
  return Math.max(1, thresholdMs - heartbeatFor(thresholdMs));
}

function checkNumber(name: string, value: unknown, min: number, max: number, integer: boolean): number {
  if (typeof value !== 'number') {
    throw new LoopwatchTypeError(`options.${name} must be a number, got ${describe(value)}`);
  }
  if (!Number.isFinite(value) || value < min || value > max || (integer && !Number.isInteger(value))) {
    const kind = integer ? 'an integer' : 'a number';
    throw new LoopwatchRangeError(`options.${name} must be ${kind} >= ${min} and <= ${max}, got ${describe(value)}`);
  }
  return value;
}

function checkBoolean(name: string, value: unknown): boolean {
  if (typeof value !== 'boolean') {
    throw new LoopwatchTypeError(`options.${name} must be a boolean, got ${describe(value)}`);
  }
  return value;
}

function checkLog(value: unknown): LogDestination {
  if (typeof value !== 'string') {
    throw new LoopwatchTypeError(`options.log must be a string ("stderr", "stdout", "off" or a file path), got ${describe(value)}`);
  }
  if (value.trim() === '') {
    throw new LoopwatchRangeError('options.log must be "stderr", "stdout", "off" or a file path, got ""');
  }
  return value;
}

/**
 * A host to bind: an IP address (IPv6 with or without brackets) or a host name. Whether it
 * resolves and can be bound is known only when the endpoint listens (a warning then).
 */
function checkHost(value: unknown): string {
  if (typeof value !== 'string') {
    throw new LoopwatchTypeError(`options.prometheusHost must be a string (an IP address or host name), got ${describe(value)}`);
  }
  const host = parseHost(value);
  if (host === null) {
    throw new LoopwatchRangeError(`options.prometheusHost must be an IP address or host name, got ${describe(value)}`);
  }
  return host;
}

/** The host to bind, or null if `value` cannot be one. */
export function parseHost(value: string): string | null {
  const v = value.trim();
  const unbracketed = /^\[(.*)\]$/.exec(v)?.[1] ?? v;
  if (isIP(unbracketed)) return unbracketed;
  if (v.length > 253 || !/^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*\.?$/.test(v)) return null;
  return v;
}

/** Validates user options once; throws TypeError/RangeError naming the option. */
export function resolveOptions(options: unknown = {}): ResolvedConfig {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new LoopwatchTypeError(`options must be an object, got ${describe(options)}`);
  }
  const o = options as Record<string, unknown>;
  for (const key of Object.keys(o)) {
    if (!KNOWN.has(key)) {
      throw new LoopwatchRangeError(`options.${key} is not a loopwatch option; allowed: ${[...KNOWN].join(', ')}`);
    }
  }
  const pick = <T>(key: keyof typeof DEFAULTS, check: (v: unknown) => T): T =>
    o[key] === undefined ? (DEFAULTS[key] as T) : check(o[key]);

  const thresholdMs = pick('thresholdMs', (v) => checkNumber('thresholdMs', v, 1, 3_600_000, false));
  return Object.freeze({
    thresholdMs,
    log: pick('log', checkLog),
    context: pick('context', (v) => checkBoolean('context', v)),
    captureStacks: pick('captureStacks', (v) => checkBoolean('captureStacks', v)),
    stuckMs: pick('stuckMs', (v) => checkNumber('stuckMs', v, 1, 86_400_000, false)),
    maxSamples: pick('maxSamples', (v) => checkNumber('maxSamples', v, 1, 50, true)),
    prometheusPort: o.prometheusPort === null ? null : pick('prometheusPort', (v) => checkNumber('prometheusPort', v, 1, 65_535, true)),
    prometheusHost: pick('prometheusHost', checkHost),
    metricsTopN: pick('metricsTopN', (v) => checkNumber('metricsTopN', v, 1, 1000, true)),
    heartbeatMs: heartbeatFor(thresholdMs),
    confirmMs: confirmFor(thresholdMs),
  });
}

type Env = Record<string, string | undefined>;

function envWarning(name: string, value: string, allowed: string): void {
  warnOnce(
    `env:${name}`,
    `${name}=${JSON.stringify(value)} is not valid (${allowed}); using the default`,
    WARNING_CODES.INVALID_ENV,
  );
}

const TRUE = new Set(['1', 'true', 'on', 'yes']);
const FALSE = new Set(['0', 'false', 'off', 'no']);

function envFlag(env: Env, name: string): boolean | undefined {
  const raw = env[name];
  if (raw === undefined || raw === '') return undefined;
  const v = raw.trim().toLowerCase();
  if (TRUE.has(v)) return true;
  if (FALSE.has(v)) return false;
  envWarning(name, raw, 'allowed: on, off, true, false, 1, 0');
  return undefined;
}

/** Whether LOOPWATCH_ENABLED allows the register entry to start (default true). */
export function enabledFromEnv(env: Env = process.env): boolean {
  return envFlag(env, 'LOOPWATCH_ENABLED') ?? true;
}

/**
 * Options from LOOPWATCH_* variables. Never throws: a bad value gives one warning naming
 * the variable and falls back to the default.
 */
export function optionsFromEnv(env: Env = process.env): Options {
  const out: Options = {};
  const threshold = env.LOOPWATCH_THRESHOLD_MS;
  if (threshold !== undefined && threshold !== '') {
    const n = Number(threshold.trim());
    if (threshold.trim() !== '' && Number.isFinite(n) && n >= 1 && n <= 3_600_000) out.thresholdMs = n;
    else envWarning('LOOPWATCH_THRESHOLD_MS', threshold, 'allowed: a number of milliseconds from 1 to 3600000');
  }
  const log = env.LOOPWATCH_LOG;
  if (log !== undefined && log !== '') {
    if (log.trim() === '') envWarning('LOOPWATCH_LOG', log, 'allowed: stderr, stdout, off or a file path');
    else out.log = log.trim();
  }
  const context = envFlag(env, 'LOOPWATCH_CONTEXT');
  if (context !== undefined) out.context = context;
  const port = envInteger(env, 'LOOPWATCH_PROMETHEUS_PORT', 1, 65_535, 'a TCP port from 1 to 65535');
  if (port !== undefined) out.prometheusPort = port;
  const host = env.LOOPWATCH_PROMETHEUS_HOST;
  if (host !== undefined && host !== '') {
    const parsed = parseHost(host);
    if (parsed === null) envWarning('LOOPWATCH_PROMETHEUS_HOST', host, 'allowed: an IP address or host name');
    else out.prometheusHost = parsed;
  }
  const topN = envInteger(env, 'LOOPWATCH_METRICS_TOP_N', 1, 1000, 'an integer from 1 to 1000');
  if (topN !== undefined) out.metricsTopN = topN;
  return out;
}

function envInteger(env: Env, name: string, min: number, max: number, allowed: string): number | undefined {
  const raw = env[name];
  if (raw === undefined || raw === '') return undefined;
  const v = raw.trim();
  const n = Number(v);
  if (v !== '' && Number.isInteger(n) && n >= min && n <= max) return n;
  envWarning(name, raw, `allowed: ${allowed}`);
  return undefined;
}
