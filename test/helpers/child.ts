/**
 * Child-process harness for the agent tests: starts a fixture under `--require`/`--import`
 * of the built agent, collects its output line by line (with arrival times), parses block
 * lines, and waits for things with a deadline that says what it was waiting for.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { isAbsolute } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BlockEvent } from '../../src/shared/event.js';
import { abortRequests, request } from './http.js';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const DIST = `${ROOT}dist/`;
export const REGISTER_CJS = `${DIST}register.cjs`;
export const REGISTER_ESM = `${DIST}register.js`;
export const FIXTURES = `${ROOT}test/fixtures/`;

/** For a `beforeAll`: the tests run the built agent, as users do. */
export function assertBuilt(): void {
  for (const file of [REGISTER_CJS, REGISTER_ESM, `${DIST}index.cjs`, `${DIST}watchdog/worker.cjs`]) {
    if (!existsSync(file)) {
      throw new Error(`${file} is missing: the agent tests run the built package; run \`npm run build\` (or \`npm test\`, which builds first)`);
    }
  }
}

export type Loader = 'require' | 'import' | 'none';

/** One pino block line as written by the watchdog. */
export interface BlockLine {
  level: number;
  time: number;
  pid: number;
  hostname: string;
  name: string;
  msg: string;
  block: BlockEvent;
}

export interface Line {
  text: string;
  /** performance.now() of the test process when the line arrived. */
  at: number;
}

export interface WaitOptions {
  timeoutMs: number;
  /** What is awaited, for the timeout message: "a block line on stderr". */
  what: string;
  intervalMs?: number;
}

/**
 * Polls `check` until it returns something other than undefined/false, or throws when the
 * deadline passes. Never a fixed sleep: it returns as soon as the condition holds.
 */
export async function waitFor<T>(check: () => T | undefined | false, opts: WaitOptions, diagnose?: () => string): Promise<T> {
  const deadline = performance.now() + opts.timeoutMs;
  for (;;) {
    const value = check();
    if (value !== undefined && value !== false) return value;
    if (performance.now() >= deadline) {
      const extra = diagnose ? `\n${diagnose()}` : '';
      throw new Error(`timed out after ${opts.timeoutMs} ms waiting for ${opts.what}${extra}`);
    }
    await new Promise((resolve) => setTimeout(resolve, opts.intervalMs ?? 5));
  }
}

const BLOCK_MESSAGE = 'event loop blocked';

/** The block lines among `lines` (pino JSON with msg "event loop blocked"). */
export function parseBlockLines(lines: readonly Line[]): (BlockLine & { at: number })[] {
  const out: (BlockLine & { at: number })[] = [];
  for (const line of lines) {
    if (!line.text.startsWith('{')) continue;
    let parsed: unknown;
    try {
      parsed = JSON.parse(line.text);
    } catch {
      continue;
    }
    const p = parsed as Partial<BlockLine>;
    if (p && p.msg === BLOCK_MESSAGE && p.block) out.push({ ...(p as BlockLine), at: line.at });
  }
  return out;
}

export interface SpawnOptions {
  loader?: Loader;
  /** Added to a clean environment (no LOOPWATCH_*, no NODE_OPTIONS from the test runner). */
  env?: Record<string, string>;
  args?: string[];
  /** Node options before the preload (e.g. --enable-source-maps). */
  nodeArgs?: string[];
  /** Working directory (the app's root); default the repository root. */
  cwd?: string;
  /** Run the fixture as this user and group (a test running as root that needs file permissions to apply). */
  uid?: number;
  gid?: number;
}

export interface Ready {
  watchdog: boolean;
  /** The fixture's Date.now() when it was ready. */
  at: number;
  listening?: number;
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

const live = new Set<Child>();

export class Child {
  readonly proc: ChildProcess;
  readonly fixture: string;
  readonly stdoutLines: Line[] = [];
  readonly stderrLines: Line[] = [];
  stdout = '';
  stderr = '';
  exit: Exit | null = null;
  /** Why the process could not be started (spawn's 'error': EACCES, ENOENT), if it could not. */
  spawnError: Error | null = null;
  /** The fixture's Date.now() when it printed its ready line (0 until then). */
  readyWallAt = 0;
  readonly exited: Promise<Exit>;
  readonly #partial = { stdout: '', stderr: '' };

  constructor(fixture: string, opts: SpawnOptions = {}) {
    this.fixture = fixture;
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(process.env)) {
      if (v === undefined || k.startsWith('LOOPWATCH_') || k === 'NODE_OPTIONS') continue;
      env[k] = v;
    }
    Object.assign(env, opts.env);
    const loader = opts.loader ?? 'require';
    const preload = loader === 'require' ? ['--require', REGISTER_CJS] : loader === 'import' ? ['--import', REGISTER_ESM] : [];
    const script = isAbsolute(fixture) ? fixture : `${FIXTURES}${fixture}`;
    this.proc = spawn(process.execPath, [...(opts.nodeArgs ?? []), ...preload, script, ...(opts.args ?? [])], {
      cwd: opts.cwd ?? ROOT,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
      ...(opts.uid === undefined ? {} : { uid: opts.uid }),
      ...(opts.gid === undefined ? {} : { gid: opts.gid }),
    });
    const asUser = opts.uid === undefined ? '' : ` as uid ${opts.uid} (that user must be able to run ${process.execPath} and read ${script})`;
    this.exited = new Promise<Exit>((resolve) => {
      // A process that never started gets no 'close' on every Node line: settle here, so
      // waits fail at once with the reason instead of at their deadline.
      this.proc.on('error', (err) => {
        if (this.exit) return;
        this.spawnError = new Error(`could not start ${fixture}${asUser}: ${err.message}`);
        this.exit = { code: null, signal: null };
        live.delete(this);
        resolve(this.exit);
      });
      // 'close', not 'exit': it comes after the pipes are drained, so the output is complete.
      this.proc.on('close', (code, signal) => {
        if (this.spawnError) return;
        this.#flush('stdout');
        this.#flush('stderr');
        this.exit = { code, signal };
        live.delete(this);
        resolve(this.exit);
      });
    });
    this.proc.stdout!.setEncoding('utf8').on('data', (chunk: string) => this.#onData('stdout', chunk));
    this.proc.stderr!.setEncoding('utf8').on('data', (chunk: string) => this.#onData('stderr', chunk));
    live.add(this);
  }

  #onData(stream: 'stdout' | 'stderr', chunk: string): void {
    const at = performance.now();
    this[stream] += chunk;
    const text = this.#partial[stream] + chunk;
    const parts = text.split('\n');
    this.#partial[stream] = parts.pop() ?? '';
    const lines = stream === 'stdout' ? this.stdoutLines : this.stderrLines;
    for (const p of parts) lines.push({ text: p, at });
  }

  #flush(stream: 'stdout' | 'stderr'): void {
    const rest = this.#partial[stream];
    this.#partial[stream] = '';
    if (rest) (stream === 'stdout' ? this.stdoutLines : this.stderrLines).push({ text: rest, at: performance.now() });
  }

  get running(): boolean {
    return this.proc.exitCode === null && this.proc.signalCode === null;
  }

  /**
   * Block lines written on stderr (the default destination) or stdout after the fixture
   * said it was ready (see ready()). allBlocks() has the earlier ones too.
   */
  blocks(stream: 'stderr' | 'stdout' = 'stderr'): (BlockLine & { at: number })[] {
    return this.allBlocks(stream).filter((b) => this.afterReady(b));
  }

  /** Whether a block line was written after the ready line (pino's time and the fixture's clock are the same). */
  afterReady(line: BlockLine): boolean {
    return line.time > this.readyWallAt;
  }

  allBlocks(stream: 'stderr' | 'stdout' = 'stderr'): (BlockLine & { at: number })[] {
    return parseBlockLines(stream === 'stderr' ? this.stderrLines : this.stdoutLines);
  }

  /** Output so far, for failure messages. */
  describe(): string {
    const tail = (s: string): string => (s.length > 4000 ? `…${s.slice(-4000)}` : s);
    if (this.spawnError) return `fixture ${this.fixture}: ${this.spawnError.message}`;
    const state = this.exit ? `exited ${JSON.stringify(this.exit)}` : this.running ? 'still running' : 'exiting';
    return `fixture ${this.fixture} (pid ${this.proc.pid}, ${state})\n--- stdout ---\n${tail(this.stdout)}\n--- stderr ---\n${tail(this.stderr)}`;
  }

  waitFor<T>(check: () => T | undefined | false, opts: WaitOptions): Promise<T> {
    return waitFor(() => {
      if (this.spawnError) throw this.spawnError;
      return check();
    }, opts, () => this.describe());
  }

  /** Waits for a stdout line equal to `text` (or matching it). */
  waitForStdout(match: string | RegExp, timeoutMs = 5000): Promise<Line> {
    const ok = (l: Line): boolean => (typeof match === 'string' ? l.text === match : match.test(l.text));
    return this.waitFor(() => this.stdoutLines.find(ok), { timeoutMs, what: `stdout line ${String(match)}` });
  }

  /**
   * Waits for the fixture's ready line, {"watchdog": boolean, "at": Date.now(), ...}:
   * fixtures print it once the watchdog tracks blocks (test/fixtures/watchdog-ready.cjs),
   * or at once without an agent. Block lines written before it (the warm-up, a startup
   * block on a busy machine) are not counted by blocks(); test/agent/startup.test.ts
   * covers that phase.
   */
  async ready(opts: { watchdog?: boolean; timeoutMs?: number } = {}): Promise<Ready> {
    const expected = opts.watchdog ?? true;
    const found = await this.waitFor(() => {
      for (const line of this.stdoutLines) {
        if (!line.text.startsWith('{"')) continue;
        try {
          const j = JSON.parse(line.text) as Ready;
          if (typeof j.watchdog === 'boolean' && typeof j.at === 'number') return { j, at: line.at };
        } catch {
          // not a ready line
        }
      }
      return undefined;
    }, { timeoutMs: opts.timeoutMs ?? 15_000, what: 'the fixture\'s ready line {"watchdog": …}' });
    this.readyWallAt = found.j.at;
    if (found.j.watchdog !== expected) {
      throw new Error(`fixture ready with watchdog=${found.j.watchdog}, expected ${expected}\n${this.describe()}`);
    }
    return found.j;
  }

  /** The port an HTTP fixture printed in its ready line, {"listening": port, "watchdog": true}. */
  async port(opts: { watchdog?: boolean } = {}): Promise<number> {
    const r = await this.ready(opts);
    if (typeof r.listening !== 'number') throw new Error(`no port in the ready line\n${this.describe()}`);
    return r.listening;
  }

  /** Waits for `count` block lines (at least) and returns them all. */
  waitForBlocks(count = 1, opts: { timeoutMs?: number; stream?: 'stderr' | 'stdout' } = {}): Promise<(BlockLine & { at: number })[]> {
    const stream = opts.stream ?? 'stderr';
    return this.waitFor(() => {
      const b = this.blocks(stream);
      return b.length >= count ? b : undefined;
    }, { timeoutMs: opts.timeoutMs ?? 5000, what: `${count} block line(s) on ${stream}` });
  }

  /** Resolves when the process has exited and its output is complete; fails past the deadline. */
  async waitForExit(timeoutMs = 5000): Promise<Exit> {
    await this.waitFor(() => this.exit !== null, { timeoutMs, what: 'the fixture to exit by itself' });
    return this.exit!;
  }

  /** Kills the process (SIGKILL) and waits until it is gone. */
  async kill(): Promise<Exit> {
    if (this.exit) return this.exit;
    if (this.running && this.proc.pid !== undefined) this.proc.kill('SIGKILL');
    return this.exited;
  }
}

export function spawnFixture(fixture: string, opts?: SpawnOptions): Child {
  return new Child(fixture, opts);
}

/** For afterEach: aborts requests in flight and kills every fixture still running. */
export async function cleanup(): Promise<void> {
  abortRequests();
  await Promise.all([...live].map((c) => c.kill()));
}

/** Asks an HTTP fixture to quit (it idles 200 ms, prints "done" and exits by itself) and waits for the exit. */
export async function quit(child: Child, port: number, timeoutMs = 5000): Promise<Exit> {
  const res = await request(port, '/quit');
  if (res.status !== 200) throw new Error(`GET /quit answered ${res.status}`);
  return child.waitForExit(timeoutMs);
}

/** Warning lines Node printed for a code: "(node:PID) [CODE] LoopwatchWarning: …". */
export function warnings(stderr: string, code: string): string[] {
  return stderr.split('\n').filter((l) => l.includes(`[${code}]`));
}
