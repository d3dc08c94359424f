/**
 * The CLI's argument reading: long flags only (`--name value`, `--name=value`, booleans
 * `--name`), each command with its own table, and one error type whose message is the
 * single line the CLI prints for bad input.
 */

/** Bad command-line input: printed as one line, exit code 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export interface FlagSpec {
  /** `value`: `--name v` or `--name=v`; `optional`: `--name` or `--name=v` (or `--name <number>`); `none`: a switch. */
  takes: 'value' | 'optional' | 'none';
}

export type Flags = Map<string, string | true>;

export interface Parsed {
  flags: Flags;
  /** Arguments that are not flags, before any `--`. */
  positionals: string[];
  /** Everything after the first `--`, or null when there is none. */
  rest: string[] | null;
}

/**
 * Reads `argv` against `specs`. `-h` is `--help`. A lone `-` is a positional (stdin).
 * Throws UsageError naming the command for unknown flags and missing values.
 */
export function parseArgs(command: string, argv: readonly string[], specs: Readonly<Record<string, FlagSpec>>): Parsed {
  const flags: Flags = new Map();
  const positionals: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--') return { flags, positionals, rest: argv.slice(i + 1) };
    if (arg === '-h') {
      flags.set('help', true);
      continue;
    }
    if (!arg.startsWith('--')) {
      if (arg.startsWith('-') && arg !== '-') throw new UsageError(`${command}: unknown option ${arg} (see ${command} --help)`);
      positionals.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const name = arg.slice(2, eq === -1 ? undefined : eq);
    const inline = eq === -1 ? undefined : arg.slice(eq + 1);
    const spec = name === 'help' ? { takes: 'none' as const } : specs[name];
    if (!spec) throw new UsageError(`${command}: unknown option --${name} (see ${command} --help)`);
    if (spec.takes === 'none') {
      if (inline !== undefined) throw new UsageError(`${command}: --${name} takes no value, got --${name}=${inline}`);
      flags.set(name, true);
    } else if (inline !== undefined) {
      flags.set(name, inline);
    } else if (spec.takes === 'optional') {
      // A number right after an optional flag is its value: --fail-on-block 100.
      const next = argv[i + 1];
      if (next !== undefined && /^\d+(\.\d+)?$/.test(next)) flags.set(name, argv[++i]);
      else flags.set(name, true);
    } else {
      const next = argv[i + 1];
      if (next === undefined || next === '--') throw new UsageError(`${command}: --${name} needs a value`);
      flags.set(name, argv[++i]);
    }
  }
  return { flags, positionals, rest: null };
}

/** A flag's number, checked against bounds; `what` says what is allowed. */
export function numberFlag(command: string, flags: Flags, name: string, min: number, max: number, what: string, integer = false): number | undefined {
  const raw = flags.get(name);
  if (raw === undefined) return undefined;
  const n = raw === true ? Number.NaN : Number(raw);
  if (raw === true || raw.trim() === '' || !Number.isFinite(n) || n < min || n > max || (integer && !Number.isInteger(n))) {
    throw new UsageError(`${command}: --${name} must be ${what}, got ${raw === true ? 'no value' : JSON.stringify(raw)}`);
  }
  return n;
}

const ON = new Set(['on', 'true', '1', 'yes']);
const OFF = new Set(['off', 'false', '0', 'no']);

/**
 * A switch that also takes a few words of its own (`--context als`): the word (lower case),
 * true or false, or undefined when absent; a usage error names what is allowed.
 */
export function choiceFlag<W extends string>(command: string, flags: Flags, name: string, words: readonly W[]): W | boolean | undefined {
  const raw = flags.get(name);
  const v = typeof raw === 'string' ? raw.trim().toLowerCase() : undefined;
  if (v !== undefined && (words as readonly string[]).includes(v)) return v as W;
  const allowed = ['on', 'off', ...words];
  return switchFlag(command, flags, name, `${allowed.slice(0, -1).join(', ')} or ${allowed.at(-1)}`);
}

/** An on/off flag: `--name` alone is on. */
export function switchFlag(command: string, flags: Flags, name: string, allowed = 'on or off'): boolean | undefined {
  const raw = flags.get(name);
  if (raw === undefined) return undefined;
  if (raw === true) return true;
  const v = raw.trim().toLowerCase();
  if (ON.has(v)) return true;
  if (OFF.has(v)) return false;
  throw new UsageError(`${command}: --${name} must be ${allowed}, got ${JSON.stringify(raw)}`);
}
