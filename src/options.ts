/**
 * The options, in one table: each row's key, environment variable, kind, bounds, default and
 * meaning drive the validation of `start()` options and the reader of the LOOPWATCH_*
 * variables (config.ts), and the options table of docs/configuration.md
 * (test/docs/options-table.test.ts checks that the page shows what optionsMarkdown() makes).
 */
import type { LogDestination } from './exporters/log.js';
import type { ContextOption } from './main-thread/context.js';

/** The part of a pino logger loopwatch uses. */
export interface PinoLike {
  child(bindings: Record<string, unknown>): { warn(obj: object, msg: string): void };
}

export const DEFAULTS = Object.freeze({
  thresholdMs: 50,
  log: 'stderr' as LogDestination,
  context: true as ContextOption,
  captureStacks: true,
  stuckMs: 500,
  maxSamples: 10,
  logger: null as PinoLike | null,
  otel: true,
  otelRuntimeMetrics: 'auto' as boolean | 'auto',
  prometheusPort: null as number | null,
  prometheusHost: '0.0.0.0',
  metricsTopN: 10,
  logLimit: 5,
  logIntervalMs: 60_000,
});

export type OptionKey = keyof typeof DEFAULTS;

/** Bounds of the number options, inclusive; the CLI's flags and assertNoBlock's budget use them too. */
export const LIMITS = Object.freeze({
  thresholdMs: Object.freeze({ min: 1, max: 3_600_000 }),
  stuckMs: Object.freeze({ min: 1, max: 86_400_000 }),
  maxSamples: Object.freeze({ min: 1, max: 50 }),
  prometheusPort: Object.freeze({ min: 1, max: 65_535 }),
  metricsTopN: Object.freeze({ min: 1, max: 1000 }),
  /** More lines than this per fingerprint and interval is no limit at all: say 0 for that. */
  logLimit: Object.freeze({ min: 0, max: 10_000 }),
  logIntervalMs: Object.freeze({ min: 1000, max: 86_400_000 }),
});

export type Bounds = { readonly min: number; readonly max: number };

export type OptionKind = 'number' | 'integer' | 'boolean' | 'context' | 'log' | 'logger' | 'runtimeMetrics' | 'host';

export interface OptionRow {
  /** The `start()` option, or null for a variable of the register entry only. */
  readonly key: OptionKey | null;
  /** The environment variable, or null for an option of `start()` only. */
  readonly env: string | null;
  readonly kind: OptionKind;
  readonly bounds?: Bounds;
  /** `null` is a value of its own (prometheusPort: off). */
  readonly nullable?: boolean;
  /** What the variable allows, as its warning says (number kinds; the others have fixed texts). */
  readonly envAllowed?: string;
  /** The default of a variable without an option. */
  readonly envDefault?: boolean;
  /** The docs' default column, when the value alone does not say it. */
  readonly docsDefault?: string;
  /** The docs' meaning column (Markdown). */
  readonly meaning: string;
}

const L = LIMITS;

export const OPTIONS: readonly OptionRow[] = Object.freeze([
  { key: 'thresholdMs', env: 'LOOPWATCH_THRESHOLD_MS', kind: 'number', bounds: L.thresholdMs,
    envAllowed: `a number of milliseconds from ${L.thresholdMs.min} to ${L.thresholdMs.max}`,
    meaning: 'a stall at least this long is a block' },
  { key: 'log', env: 'LOOPWATCH_LOG', kind: 'log', meaning: 'where block lines go; a path is appended to as JSONL' },
  { key: 'context', env: 'LOOPWATCH_CONTEXT', kind: 'context',
    meaning: "request and job context through `await`s: `true` keeps it in an `AsyncLocalStorage` where that is free (Node 24+, Node 22 with `--experimental-async-context-frame`) and in the in-flight ledger elsewhere; `'als'` and `'inflight'` choose; `false` keeps none (see [context](context.md))" },
  { key: 'captureStacks', env: null, kind: 'boolean',
    meaning: 'capture stacks through the inspector; `false` keeps detection and durations only' },
  { key: 'stuckMs', env: null, kind: 'number', bounds: L.stuckMs,
    meaning: 'a block still going after this long gets an `"ongoing": true` line, then at doubling intervals' },
  { key: 'maxSamples', env: null, kind: 'integer', bounds: L.maxSamples,
    meaning: 'stack samples kept per block: when full, every other one is dropped and sampling slows by half, so they stay spread over the whole block' },
  { key: 'logger', env: null, kind: 'logger', docsDefault: '–',
    meaning: "the app's pino instance: each block is also logged to `logger.child({ component: 'loopwatch' })` at `warn`, after the loop recovered, with the line's shape (`msg: \"event loop blocked\"`, `block: {…}`); with `log: 'off'` it is the only destination (ongoing lines, written while the loop is stuck, then go nowhere)" },
  { key: 'otel', env: 'LOOPWATCH_OTEL', kind: 'boolean',
    meaning: 'publish metrics and block spans through `@opentelemetry/api` when the app uses it (see [OpenTelemetry](opentelemetry.md))' },
  { key: 'otelRuntimeMetrics', env: 'LOOPWATCH_OTEL_RUNTIME_METRICS', kind: 'runtimeMetrics',
    meaning: "publish the `nodejs.eventloop.*` OpenTelemetry metrics; `'auto'` leaves them to `@opentelemetry/instrumentation-runtime-node` when that is loaded" },
  { key: 'prometheusPort', env: 'LOOPWATCH_PROMETHEUS_PORT', kind: 'integer', bounds: L.prometheusPort, nullable: true,
    envAllowed: `a TCP port from ${L.prometheusPort.min} to ${L.prometheusPort.max}`, docsDefault: '`null` (off)',
    meaning: 'serve `/metrics` from the watchdog thread on this port (see [Prometheus](prometheus.md))' },
  { key: 'prometheusHost', env: 'LOOPWATCH_PROMETHEUS_HOST', kind: 'host', meaning: 'bind address of that endpoint' },
  { key: 'metricsTopN', env: 'LOOPWATCH_METRICS_TOP_N', kind: 'integer', bounds: L.metricsTopN,
    envAllowed: `an integer from ${L.metricsTopN.min} to ${L.metricsTopN.max}`,
    meaning: 'routes, and culprits, that get their own label value in block metrics; the rest are `other`' },
  { key: 'logLimit', env: 'LOOPWATCH_LOG_LIMIT', kind: 'integer', bounds: L.logLimit,
    envAllowed: `an integer from ${L.logLimit.min} (no limit) to ${L.logLimit.max}`,
    meaning: "block lines per fingerprint per `logIntervalMs`; the rest of the interval's blocks of that fingerprint get one summary line (see [flood control](block-event.md#flood-control)); `0`: no limit" },
  { key: 'logIntervalMs', env: 'LOOPWATCH_LOG_INTERVAL_MS', kind: 'integer', bounds: L.logIntervalMs,
    envAllowed: `an integer number of milliseconds from ${L.logIntervalMs.min} to ${L.logIntervalMs.max}`,
    meaning: 'the flood-control interval' },
  { key: null, env: 'LOOPWATCH_ENABLED', kind: 'boolean', envDefault: true,
    meaning: '`false` turns the register entry into a no-op' },
  { key: null, env: 'LOOPWATCH_WORKER_THREADS', kind: 'boolean', envDefault: false,
    meaning: "`on`: the register entry also watches the app's own worker threads (see [worker threads](block-event.md#worker-threads))" },
] satisfies OptionRow[]);

/** The row of a variable of the register entry only. */
export function envRow(env: string): OptionRow {
  const row = OPTIONS.find((r) => r.env === env);
  if (!row) throw new Error(`no option row for ${env}`);
  return row;
}

/** 3600000 as 3 600 000: the docs' way of writing large numbers. */
function grouped(n: number): string {
  return n >= 10_000 ? String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ' ') : String(n);
}

const TYPE_TEXT: Record<Exclude<OptionKind, 'number' | 'integer'>, string> = {
  boolean: 'boolean',
  context: "`true` \\| `false` \\| `'als'` \\| `'inflight'`",
  log: "`'stderr'` \\| `'stdout'` \\| `'off'` \\| path",
  logger: 'pino logger',
  runtimeMetrics: "`true` \\| `false` \\| `'auto'`",
  host: 'IP address or host name',
};

function typeText(row: OptionRow): string {
  if (row.key === null) return '–';
  if (row.kind !== 'number' && row.kind !== 'integer') return TYPE_TEXT[row.kind];
  const range = row.bounds ? `, ${grouped(row.bounds.min)}–${grouped(row.bounds.max)}` : '';
  return `${row.kind}${range}${row.nullable ? ', or `null`' : ''}`;
}

function defaultText(row: OptionRow): string {
  if (row.docsDefault !== undefined) return row.docsDefault;
  const value = row.key === null ? row.envDefault : DEFAULTS[row.key];
  return `\`${typeof value === 'string' ? `'${value}'` : String(value)}\``;
}

function envText(row: OptionRow): string {
  if (row.env === null) return '–';
  if (row.key !== null && row.kind === 'boolean') return `\`${row.env}\` (\`on\`/\`off\`)`;
  if (row.kind === 'runtimeMetrics') return `\`${row.env}\` (\`auto\`/\`on\`/\`off\`)`;
  if (row.kind === 'context') return `\`${row.env}\` (\`on\`/\`off\`/\`als\`/\`inflight\`)`;
  return `\`${row.env}\``;
}

/** The options table of docs/configuration.md. */
export function optionsMarkdown(): string {
  const lines = ['| option | type | default | env var | meaning |', '| --- | --- | --- | --- | --- |'];
  for (const row of OPTIONS) {
    lines.push(`| ${row.key === null ? '–' : `\`${row.key}\``} | ${typeText(row)} | ${defaultText(row)} | ${envText(row)} | ${row.meaning} |`);
  }
  return `${lines.join('\n')}\n`;
}
