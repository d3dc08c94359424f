/**
 * `loopwatch run [options] -- <command…>`: runs a command with the agent preloaded in every
 * Node process it starts (NODE_OPTIONS, after the user's own), all of them appending to one
 * JSONL log that this process follows; prints each block as it comes and a summary at the
 * end; with --fail-on-block, fails a passing command that blocked.
 */
import { spawn } from 'node:child_process';
import { closeSync, fstatSync, mkdtempSync, openSync, readSync, rmSync } from 'node:fs';
import { constants, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import { addPreload } from '../node-options.js';
import { DEFAULTS, envRow, LIMITS } from '../options.js';
import { type Flags, choiceFlag, numberFlag, parseArgs, switchFlag, UsageError } from './args.js';
import { BlockCollector, blockLine, fmtMs, formatStack, formatTable, type Group, type ReportBlock, summarize } from './summary.js';

export const RUN_HELP = `Usage: loopwatch run [options] -- <command> [args…]

Runs <command> with loopwatch preloaded in every Node.js process it starts (through
NODE_OPTIONS, added after your own), prints each block as it happens and a summary when
the command ends. Works with any command: node app.js, npm test, npx vitest run,
node --test, npx jest.

Options:
  --fail-on-block[=ms]  CI mode: exit 3 when the command passed but a block of at least
                        ms (default: the threshold) ran in a test or in the app's code;
                        blocks at start-up and in the test runner's own work (collecting
                        and transpiling test files) do not count, nor do starved
                        blocks (the process runnable but kept off the CPU)
  --count-startup       with --fail-on-block, count those blocks too
  --threshold <ms>      a stall at least this long is a block (LOOPWATCH_THRESHOLD_MS,
                        default 50; lowered to the --fail-on-block budget if that is lower)
  --log <file>          append the block lines (JSONL) to this file and keep it (default:
                        a temporary file, removed at the end; LOOPWATCH_LOG is replaced)
  --context MODE        request and job context: on, off, als or inflight
                        (LOOPWATCH_CONTEXT, default on; docs/context.md)
  --worker-threads on|off
                        also watch worker threads (LOOPWATCH_WORKER_THREADS; default on
                        with --fail-on-block, off otherwise)
  --prometheus-port <port>, --prometheus-host <host>
                        serve /metrics (LOOPWATCH_PROMETHEUS_PORT/_HOST; with several
                        processes only the first can listen)
  --otel on|off         publish through @opentelemetry/api (LOOPWATCH_OTEL)
  --quiet               no line per block while the command runs; the summary stays
                        (in GitHub Actions, GITHUB_ACTIONS=true, CI mode also writes an
                        ::error annotation per failing culprit, at its file and line)
  -h, --help            this text

Exit codes: the command's own code when it is not 0 (128 + the signal number when a
signal ended it); 3 when it passed but --fail-on-block found blocks; 2 bad options; 127
the command was not found; 0 otherwise.`;

const SPECS = {
  'fail-on-block': { takes: 'optional' },
  'count-startup': { takes: 'none' },
  threshold: { takes: 'value' },
  log: { takes: 'value' },
  context: { takes: 'optional' },
  'worker-threads': { takes: 'optional' },
  'prometheus-port': { takes: 'value' },
  'prometheus-host': { takes: 'value' },
  otel: { takes: 'optional' },
  quiet: { takes: 'none' },
} as const;

/** Exit code when --fail-on-block found blocks in a command that passed. */
export const EXIT_BLOCKED = 3;
const CMD = 'loopwatch run';
/** Kinds that are not the app's or a test's own work: not counted by --fail-on-block. */
const NOT_COUNTED = new Set(['startup', 'runner']);
const FORWARDED: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'];
const FOLLOW_MS = 200;
const SHOWN_BLOCKS = 10;

interface RunPlan {
  command: string[];
  env: NodeJS.ProcessEnv;
  log: string;
  keepLog: boolean;
  budgetMs: number | null;
  countStartup: boolean;
  quiet: boolean;
}

function plan(flags: Flags, command: string[], env: NodeJS.ProcessEnv, register: string): RunPlan {
  const fail = flags.get('fail-on-block');
  const ms = LIMITS.thresholdMs;
  const msText = `a number of milliseconds from ${ms.min} to ${ms.max}`;
  const budget = fail === undefined ? null : fail === true ? -1 : numberFlag(CMD, flags, 'fail-on-block', ms.min, ms.max, msText)!;
  let threshold = numberFlag(CMD, flags, 'threshold', ms.min, ms.max, msText);
  if (threshold === undefined && env.LOOPWATCH_THRESHOLD_MS) {
    const fromEnv = Number(env.LOOPWATCH_THRESHOLD_MS);
    if (Number.isFinite(fromEnv) && fromEnv >= ms.min) threshold = fromEnv;
  }
  threshold ??= DEFAULTS.thresholdMs;
  if (budget !== null && budget !== -1 && budget < threshold) threshold = budget;
  const port = numberFlag(CMD, flags, 'prometheus-port', LIMITS.prometheusPort.min, LIMITS.prometheusPort.max, envRow('LOOPWATCH_PROMETHEUS_PORT').envAllowed!, true);
  const logFlag = flags.get('log') as string | undefined;
  if (logFlag !== undefined && (logFlag.trim() === '' || ['stderr', 'stdout', 'off'].includes(logFlag))) {
    throw new UsageError(`${CMD}: --log must be a file path (the processes append their block lines to it), got ${JSON.stringify(logFlag)}`);
  }
  const log = logFlag === undefined ? join(mkdtempSync(join(tmpdir(), 'loopwatch-run-')), 'blocks.jsonl') : resolve(logFlag);
  const out: NodeJS.ProcessEnv = { ...env, LOOPWATCH_ENABLED: 'true', LOOPWATCH_LOG: log, LOOPWATCH_THRESHOLD_MS: String(threshold) };
  // Every block as a line, for the report and the verdict: no flood control unless asked for.
  if (!env.LOOPWATCH_LOG_LIMIT) out.LOOPWATCH_LOG_LIMIT = '0';
  out.NODE_OPTIONS = addPreload(env.NODE_OPTIONS, register);
  const on = (v: boolean): string => (v ? 'on' : 'off');
  const context = choiceFlag(CMD, flags, 'context', ['als', 'inflight']);
  if (context !== undefined) out.LOOPWATCH_CONTEXT = typeof context === 'string' ? context : on(context);
  const otel = switchFlag(CMD, flags, 'otel');
  if (otel !== undefined) out.LOOPWATCH_OTEL = on(otel);
  const workers = switchFlag(CMD, flags, 'worker-threads') ?? (budget !== null ? true : undefined);
  if (workers !== undefined) out.LOOPWATCH_WORKER_THREADS = on(workers);
  if (port !== undefined) out.LOOPWATCH_PROMETHEUS_PORT = String(port);
  const host = flags.get('prometheus-host');
  if (host !== undefined) out.LOOPWATCH_PROMETHEUS_HOST = String(host);
  return {
    command, env: out, log, keepLog: logFlag !== undefined,
    budgetMs: budget === null ? null : budget === -1 ? threshold : budget,
    countStartup: flags.has('count-startup'), quiet: flags.has('quiet'),
  };
}

/** Follows the shared log from where it stood when the run began; hands each complete line on. */
class LogFollower {
  readonly #fd: number;
  #offset: number;
  #partial = '';
  readonly #buf = Buffer.alloc(64 * 1024);
  /** Keeps a character split across two reads whole. */
  readonly #decoder = new StringDecoder('utf8');
  constructor(file: string, readonly onLine: (line: string) => void) {
    this.#fd = openSync(file, 'a+');
    this.#offset = fstatSync(this.#fd).size;
  }
  poll(): void {
    for (;;) {
      const n = readSync(this.#fd, this.#buf, 0, this.#buf.length, this.#offset);
      if (n <= 0) return;
      this.#offset += n;
      const text = this.#partial + this.#decoder.write(this.#buf.subarray(0, n));
      const lines = text.split('\n');
      this.#partial = lines.pop() ?? '';
      for (const l of lines) this.onLine(l);
    }
  }
  /** The last read, and a last line without its newline (a process killed mid-write). */
  close(): void {
    this.poll();
    if (this.#partial) this.onLine(this.#partial);
    closeSync(this.#fd);
  }
}

function liveLine(b: ReportBlock): string {
  return `loopwatch: ${blockLine(b.block, { msWidth: 7, extra: b.pid ? `  [pid ${b.pid}]` : '' })}\n`;
}

/** A GitHub Actions workflow command's text, escaped as the runner reads it. */
function ghEscape(text: string, property = false): string {
  const out = text.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
  return property ? out.replace(/:/g, '%3A').replace(/,/g, '%2C') : out;
}

/**
 * In GitHub Actions, one `::error` annotation per failing group, at the culprit's file and
 * line (relative to the command's working directory, as the block event's files are), so the
 * block shows on the pull request's diff.
 */
function annotate(groups: Group[], budgetMs: number, stdout: NodeJS.WritableStream): void {
  for (const g of groups.slice(0, SHOWN_BLOCKS)) {
    const c = g.example.block.culprit;
    const at = c && !c.file.startsWith('node:') && !c.file.startsWith('..') ? `file=${ghEscape(c.file, true)},line=${c.line},` : '';
    const title = `loopwatch: blocked ${fmtMs(g.worstMs)} ms (budget ${budgetMs} ms)`;
    const text = `${g.source}: ${g.count} block${g.count === 1 ? '' : 's'} in ${g.culprit}${g.hints.length ? `. ${g.hints.join('; ')}` : ''}`;
    stdout.write(`::error ${at}title=${ghEscape(title, true)}::${ghEscape(text)}\n`);
  }
}

function verdict(p: RunPlan, blocks: ReportBlock[], io: { stdout: NodeJS.WritableStream; stderr: NodeJS.WritableStream; env: NodeJS.ProcessEnv }): boolean {
  const { stderr } = io;
  if (p.budgetMs === null) return true;
  const over = blocks.filter((b) => b.block.durationMs >= p.budgetMs!);
  // A starved block (the process was runnable but kept off the CPU: a loaded CI machine, a
  // CPU quota) is not the code's doing, whatever the stack showed.
  const starved = over.filter((b) => b.block.cause === 'starved');
  const own = over.filter((b) => b.block.cause !== 'starved');
  const counted = own.filter((b) => p.countStartup || !NOT_COUNTED.has(b.block.context?.kind ?? ''));
  const ignored = own.length - counted.length;
  const notes = [
    ignored ? `${ignored} more at start-up or in the test runner's own work were not counted (--count-startup counts them)` : '',
    starved.length ? `${starved.length} starved (the process was runnable but not running: machine load or a CPU limit) were not counted` : '',
  ].filter(Boolean);
  const note = notes.length ? ` (${notes.join('; ')})` : '';
  if (counted.length === 0) {
    stderr.write(`loopwatch: no block of ${p.budgetMs} ms or more in tests or app code${note}\n`);
    return true;
  }
  const groups = summarize(counted);
  stderr.write(`\nloopwatch: FAILED: ${counted.length} block${counted.length === 1 ? '' : 's'} of ${p.budgetMs} ms or more (--fail-on-block)${note}\n\n`);
  for (const g of groups.slice(0, SHOWN_BLOCKS)) {
    const b = g.example.block;
    stderr.write(`  ${g.source}: ${g.count} block${g.count === 1 ? '' : 's'}, worst ${fmtMs(g.worstMs)} ms\n`);
    stderr.write(`    culprit: ${g.culprit}${g.where ? ` (${g.where})` : ''}\n`);
    for (const h of g.hints) stderr.write(`    hint: ${h}\n`);
    if (b.stack.length) stderr.write(`${formatStack(b, 6, '      ')}\n`);
  }
  if (groups.length > SHOWN_BLOCKS) stderr.write(`  … and ${groups.length - SHOWN_BLOCKS} more (all of them: --log <file>, then loopwatch report <file>)\n`);
  if (io.env.GITHUB_ACTIONS === 'true') annotate(groups, p.budgetMs, io.stdout);
  return false;
}

export async function runCommand(argv: readonly string[], register: string, io: { stdout: NodeJS.WritableStream; stderr: NodeJS.WritableStream; env: NodeJS.ProcessEnv }): Promise<number> {
  const { flags, positionals, rest } = parseArgs(CMD, argv, SPECS);
  if (flags.has('help')) {
    io.stdout.write(`${RUN_HELP}\n`);
    return 0;
  }
  if (rest === null) {
    const what = positionals.length ? `before ${JSON.stringify(positionals[0])}` : 'and a command after it';
    throw new UsageError(`${CMD}: missing -- ${what} (usage: loopwatch run [options] -- <command> [args…])`);
  }
  if (positionals.length) throw new UsageError(`${CMD}: unexpected ${JSON.stringify(positionals[0])} before -- (options only)`);
  if (rest.length === 0) throw new UsageError(`${CMD}: no command after -- (usage: loopwatch run [options] -- <command> [args…])`);
  const p = plan(flags, rest, io.env, register);

  const collector = new BlockCollector();
  let follower: LogFollower;
  try {
    follower = new LogFollower(p.log, (line) => {
      const kind = collector.add(line);
      if (!p.quiet && (kind === 'block' || kind === 'ongoing') && collector.last) io.stderr.write(liveLine(collector.last));
    });
  } catch (err) {
    throw new UsageError(`${CMD}: cannot open the log ${p.log}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  const timer = setInterval(() => follower.poll(), FOLLOW_MS);

  const child = spawn(p.command[0], p.command.slice(1), { stdio: 'inherit', env: p.env, shell: process.platform === 'win32' });
  const forward = (signal: NodeJS.Signals): void => {
    child.kill(signal);
  };
  for (const s of FORWARDED) process.on(s, forward);
  const [code, signal, spawnError] = await new Promise<[number | null, NodeJS.Signals | null, NodeJS.ErrnoException | null]>((done) => {
    child.once('error', (err: NodeJS.ErrnoException) => done([null, null, err]));
    child.once('exit', (c, s) => done([c, s, null]));
  });
  for (const s of FORWARDED) process.removeListener(s, forward);
  clearInterval(timer);
  follower.close();
  if (!p.keepLog) rmSync(join(p.log, '..'), { recursive: true, force: true });

  if (spawnError) {
    io.stderr.write(`${CMD}: cannot run ${JSON.stringify(p.command[0])}: ${spawnError.code === 'ENOENT' ? 'command not found' : spawnError.message}\n`);
    return spawnError.code === 'ENOENT' ? 127 : 126;
  }
  const blocks = collector.blocks();
  // CI mode prints what failed it (verdict); otherwise the table of every block.
  if (p.budgetMs === null) {
    const count = blocks.length;
    io.stderr.write(count
      ? `\nloopwatch: ${count} block${count === 1 ? '' : 's'} of ${p.env.LOOPWATCH_THRESHOLD_MS} ms or more${p.keepLog ? ` (log: ${p.log})` : ''}:\n\n${formatTable(summarize(blocks))}\n`
      : `loopwatch: no blocks of ${p.env.LOOPWATCH_THRESHOLD_MS} ms or more\n`);
  } else if (p.keepLog) {
    io.stderr.write(`loopwatch: ${blocks.length} block line${blocks.length === 1 ? '' : 's'} in ${p.log} (loopwatch report ${p.log} for the table)\n`);
  }
  const passed = verdict(p, blocks, io);
  if (signal) return 128 + (constants.signals[signal] ?? 0);
  if (code !== 0) return code ?? 1;
  return passed ? 0 : EXIT_BLOCKED;
}
