import { isIP } from 'node:net';
import { describe, LoopwatchRangeError, LoopwatchTypeError, WARNING_CODES, warnOnce } from './errors.js';
import type { LogDestination } from './exporters/log.js';
import type { ContextOption } from './main-thread/context.js';
import { type Bounds, DEFAULTS, envRow, LIMITS, type OptionKey, type OptionRow, OPTIONS, type PinoLike } from './options.js';

export { DEFAULTS, LIMITS, type LogDestination, type PinoLike };

export interface Options {
  /** A stall at least this long (ms) is a block. Default 50. */
  thresholdMs?: number;
  /** Where the watchdog writes block lines: 'stderr' (default), 'stdout', 'off' or a file path (appended JSONL). */
  log?: LogDestination;
  /**
   * Request and job context through `await`s (default true): true keeps it in an
   * AsyncLocalStorage where that is free (Node >= 24, Node 22 with
   * --experimental-async-context-frame) and in the in-flight ledger elsewhere; 'als' and
   * 'inflight' choose one; false keeps none.
   */
  context?: ContextOption;
  /** Capture stacks through the inspector (default true); false keeps detection and durations only. */
  captureStacks?: boolean;
  /** A block still going after this many ms is logged with "ongoing": true, then at doubling intervals. Default 500. */
  stuckMs?: number;
  /** Stack samples kept per block (1–50), spread over the whole block (see README, profile). Default 10. */
  maxSamples?: number;
  /** Serve /metrics (Prometheus text format) from the watchdog thread on this port. Default: off. */
  prometheusPort?: number | null;
  /** Bind address of that endpoint. Default '0.0.0.0'. */
  prometheusHost?: string;
  /** Routes and culprits that get their own label value in block metrics (the rest: `other`), 1–1000. Default 10. */
  metricsTopN?: number;
  /**
   * The app's pino logger: each block (after the loop recovered) is also logged to a child
   * of it, `{ component: 'loopwatch' }`, with the worker's line shape. `log: 'off'` makes it
   * the only destination.
   */
  logger?: PinoLike;
  /** Publish metrics and block spans through `@opentelemetry/api` when it is installed. Default true. */
  otel?: boolean;
  /**
   * Publish the `nodejs.eventloop.*` OpenTelemetry metrics: 'auto' (default) leaves them to
   * `@opentelemetry/instrumentation-runtime-node` when that is loaded, so they are not
   * exported twice.
   */
  otelRuntimeMetrics?: boolean | 'auto';
  /** Block lines per fingerprint per `logIntervalMs` (0: no limit); the rest go into one summary line per interval. Default 5. */
  logLimit?: number;
  /** The flood-control interval (ms), 1 000–86 400 000. Default 60 000. */
  logIntervalMs?: number;
}

export interface ResolvedConfig {
  readonly thresholdMs: number;
  readonly log: LogDestination;
  readonly context: ContextOption;
  readonly captureStacks: boolean;
  readonly stuckMs: number;
  readonly maxSamples: number;
  readonly logger: PinoLike | null;
  readonly otel: boolean;
  readonly otelRuntimeMetrics: boolean | 'auto';
  readonly prometheusPort: number | null;
  readonly prometheusHost: string;
  readonly metricsTopN: number;
  readonly logLimit: number;
  readonly logIntervalMs: number;
  /** Heartbeat period: derived, not an option (see heartbeatFor). */
  readonly heartbeatMs: number;
  /** Grace past a due beat before a stall is sampled: derived (see confirmFor). */
  readonly confirmMs: number;
}

const KNOWN: ReadonlySet<string> = new Set(OPTIONS.flatMap((row) => (row.key === null ? [] : [row.key])));

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

/** A number option: TypeError when it is not a number, RangeError outside [min, max] (or not an integer). */
export function checkNumber(name: string, value: unknown, min: number, max: number, integer: boolean): number {
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

function checkContext(value: unknown): ContextOption {
  if (typeof value === 'boolean' || value === 'als' || value === 'inflight') return value;
  throw new LoopwatchTypeError(`options.context must be true, false, "als" or "inflight", got ${describe(value)}`);
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

function checkLogger(value: unknown): PinoLike {
  const v = value as { child?: unknown; warn?: unknown } | null;
  if (v === null || typeof v !== 'object' || typeof v.child !== 'function' || typeof v.warn !== 'function') {
    throw new LoopwatchTypeError(`options.logger must be a pino logger (an object with child() and warn()), got ${describe(value)}`);
  }
  return v as PinoLike;
}

function checkRuntimeMetrics(value: unknown): boolean | 'auto' {
  if (value === 'auto' || typeof value === 'boolean') return value;
  throw new LoopwatchTypeError(`options.otelRuntimeMetrics must be true, false or "auto", got ${describe(value)}`);
}

/**
 * A host to bind: an IP address (IPv6 with or without brackets) or a host name. Whether it
 * resolves and can be bound is known only when the endpoint listens (a warning then).
 */
function checkHost(value: unknown): string {
  if (typeof value !== 'string') {
    throw new LoopwatchTypeError(`options.prometheusHost must be a string (an IP address or host name), got ${describe(value)}`);
  }
  const problem = hostProblem(value);
  if (problem !== null) {
    throw new LoopwatchRangeError(`options.prometheusHost must be an IP address or host name, got ${describe(value)} (${problem})`);
  }
  return parseHost(value)!;
}

const LABEL = /^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?$/;

/**
 * Why `value` cannot be a host to bind, or null if it can. A name made of numbers only
 * ("999.1.1.1") is meant as an IPv4 address and is not one; it is not a host name either
 * (RFC 1123: the top-level label is never all digits), so it is rejected here rather than
 * when the endpoint's lookup fails with a misleading "does not resolve".
 */
export function hostProblem(value: string): string | null {
  const v = value.trim();
  if (v === '') return 'it is empty';
  const unbracketed = /^\[(.*)\]$/.exec(v)?.[1] ?? v;
  if (isIP(unbracketed)) return null;
  if (unbracketed.includes(':')) return 'not an IPv6 address';
  const labels = v.replace(/\.$/, '').split('.');
  if (labels.every((l) => /^\d+$/.test(l))) {
    const big = labels.find((l) => Number(l) > 255);
    if (labels.length === 4 && big !== undefined) return `not an IP address: ${big} is more than 255`;
    return 'not an IP address: an IPv4 address is four numbers from 0 to 255, separated by dots';
  }
  if (v.length > 253) return 'a host name has at most 253 characters';
  const bad = labels.find((l) => !LABEL.test(l));
  if (bad !== undefined) {
    return bad === '' ? 'a host name has no empty label (two dots in a row, or a leading dot)'
      : `not a host name: ${JSON.stringify(bad)} is not letters, digits and inner hyphens`;
  }
  if (/^\d+$/.test(labels[labels.length - 1])) return 'not a host name: its last label is all digits';
  return null;
}

/** The host to bind, or null if `value` cannot be one (hostProblem says why). */
export function parseHost(value: string): string | null {
  if (hostProblem(value) !== null) return null;
  const v = value.trim();
  return /^\[(.*)\]$/.exec(v)?.[1] ?? v;
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
  const out: Record<string, unknown> = {};
  for (const row of OPTIONS) {
    if (row.key === null) continue;
    const v = o[row.key];
    out[row.key] = v === undefined ? DEFAULTS[row.key] : v === null && row.nullable ? null : checkOption(row, row.key, v);
  }
  const thresholdMs = out.thresholdMs as number;
  return Object.freeze({ ...(out as Omit<ResolvedConfig, 'heartbeatMs' | 'confirmMs'>), heartbeatMs: heartbeatFor(thresholdMs), confirmMs: confirmFor(thresholdMs) });
}

/** A `start()` option's value, checked as its row says; throws TypeError/RangeError naming it. */
function checkOption(row: OptionRow, key: OptionKey, v: unknown): unknown {
  switch (row.kind) {
    case 'number':
    case 'integer': {
      const { min, max } = row.bounds as Bounds;
      return checkNumber(key, v, min, max, row.kind === 'integer');
    }
    case 'boolean':
      return checkBoolean(key, v);
    case 'context':
      return checkContext(v);
    case 'log':
      return checkLog(v);
    case 'logger':
      return checkLogger(v);
    case 'runtimeMetrics':
      return checkRuntimeMetrics(v);
    case 'host':
      return checkHost(v);
  }
}

type Env = Record<string, string | undefined>;

/**
 * An env switch (on/off and its synonyms) that also takes a few words of its own
 * (`auto`, `als`…): the word, true or false, or undefined after a warning naming `allowed`.
 */
function envSwitchOrWord<W extends string>(env: Env, name: string, allowed: string, words: readonly W[]): W | boolean | undefined {
  const v = envValue(env, name, allowed)?.toLowerCase();
  if (v === undefined) return undefined;
  if ((words as readonly string[]).includes(v)) return v as W;
  if (TRUE.has(v)) return true;
  if (FALSE.has(v)) return false;
  envWarning(name, env[name]!, `allowed: ${allowed}`);
  return undefined;
}

function envWarning(name: string, value: string, allowed: string): void {
  warnOnce(
    `env:${name}`,
    `${name}=${JSON.stringify(value)} is not valid (${allowed}); using the default`,
    WARNING_CODES.INVALID_ENV,
  );
}

/**
 * The trimmed value of a set variable, or undefined if it is unset. A variable set to
 * nothing (`LOOPWATCH_THRESHOLD_MS=`, often a template that lost its value) is a mistake
 * like any other bad value: it warns, naming what is allowed, and the default applies.
 */
function envValue(env: Env, name: string, allowed: string): string | undefined {
  const raw = env[name];
  if (raw === undefined) return undefined;
  const v = raw.trim();
  if (v === '') {
    envWarning(name, raw, `it is empty; allowed: ${allowed}`);
    return undefined;
  }
  return v;
}

const TRUE = new Set(['1', 'true', 'on', 'yes']);
const FALSE = new Set(['0', 'false', 'off', 'no']);
const FLAG_ALLOWED = 'on, off, true, false, 1, 0, yes, no';

function envFlag(env: Env, name: string): boolean | undefined {
  const raw = env[name];
  const v = envValue(env, name, FLAG_ALLOWED)?.toLowerCase();
  if (v === undefined) return undefined;
  if (TRUE.has(v)) return true;
  if (FALSE.has(v)) return false;
  envWarning(name, raw!, `allowed: ${FLAG_ALLOWED}`);
  return undefined;
}

/**
 * Whether the register entry starts an agent in the app's own worker threads
 * (LOOPWATCH_WORKER_THREADS, default off): each costs a heartbeat and a watchdog thread of
 * its own, 9-12 MB per worker (README, "Worker threads").
 */
export function workerThreadsFromEnv(env: Env = process.env): boolean {
  const row = envRow('LOOPWATCH_WORKER_THREADS');
  return envFlag(env, row.env!) ?? row.envDefault!;
}

/** Whether LOOPWATCH_ENABLED allows the register entry to start (default true). */
export function enabledFromEnv(env: Env = process.env): boolean {
  const row = envRow('LOOPWATCH_ENABLED');
  return envFlag(env, row.env!) ?? row.envDefault!;
}

const RUNTIME_ALLOWED = `auto, ${FLAG_ALLOWED}`;
const CONTEXT_ALLOWED = `${FLAG_ALLOWED}, als, inflight`;
const HOST_ALLOWED = 'an IP address or host name';

/** A variable's value as its row says, or undefined (after one warning) when it is not valid. */
function envOption(env: Env, row: OptionRow, name: string): unknown {
  switch (row.kind) {
    case 'number':
    case 'integer': {
      const allowed = row.envAllowed!;
      const v = envValue(env, name, allowed);
      if (v === undefined) return undefined;
      const n = Number(v);
      const { min, max } = row.bounds as Bounds;
      if ((row.kind === 'integer' ? Number.isInteger(n) : Number.isFinite(n)) && n >= min && n <= max) return n;
      envWarning(name, env[name]!, `allowed: ${allowed}`);
      return undefined;
    }
    case 'boolean':
      return envFlag(env, name);
    case 'context':
      return envSwitchOrWord(env, name, CONTEXT_ALLOWED, ['als', 'inflight']);
    case 'log':
      return envValue(env, name, 'stderr, stdout, off or a file path');
    case 'runtimeMetrics':
      return envSwitchOrWord(env, name, RUNTIME_ALLOWED, ['auto']);
    case 'host': {
      const v = envValue(env, name, HOST_ALLOWED);
      if (v === undefined) return undefined;
      const problem = hostProblem(v);
      if (problem === null) return parseHost(v)!;
      envWarning(name, env[name]!, `${problem}; allowed: ${HOST_ALLOWED}`);
      return undefined;
    }
    case 'logger':
      return undefined;
  }
}

/**
 * Options from LOOPWATCH_* variables. Never throws: a bad value (an empty one too) gives one
 * warning naming the variable, its value and what is allowed, and the default applies.
 */
export function optionsFromEnv(env: Env = process.env): Options {
  const out: Record<string, unknown> = {};
  for (const row of OPTIONS) {
    if (row.key === null || row.env === null) continue;
    const value = envOption(env, row, row.env);
    if (value !== undefined) out[row.key] = value;
  }
  return out as Options;
}
