/**
 * The `loopwatch` bin as users run it: `node dist/cli.cjs …` as a child process, in an
 * environment cleared of the test runner's own (no LOOPWATCH_*, NODE_OPTIONS, VITEST*,
 * NODE_TEST_CONTEXT), with its output collected.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { cpSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DIST, ROOT } from './child.js';

export const CLI = `${DIST}cli.cjs`;

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface CliRun {
  proc: ChildProcess;
  /** Output so far. */
  out: { stdout: string; stderr: string };
  done: Promise<CliResult>;
}

const live = new Set<ChildProcess>();

export function cleanEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v === undefined || /^(LOOPWATCH_|VITEST|TINYPOOL|NODE_OPTIONS$|NODE_TEST_CONTEXT$|FORCE_COLOR$|GITHUB_ACTIONS$)/.test(k)) continue;
    env[k] = v;
  }
  return { ...env, NO_COLOR: '1', ...extra };
}

/** Starts `loopwatch <args>`; `done` settles when it exits, killed after `timeoutMs` (then code is null). */
export function startCli(args: string[], opts: { cwd?: string; env?: Record<string, string>; input?: string; timeoutMs?: number } = {}): CliRun {
  const proc = spawn(process.execPath, [CLI, ...args], { cwd: opts.cwd ?? ROOT, env: cleanEnv(opts.env), stdio: ['pipe', 'pipe', 'pipe'] });
  live.add(proc);
  const out = { stdout: '', stderr: '' };
  proc.stdout!.setEncoding('utf8').on('data', (d: string) => (out.stdout += d));
  proc.stderr!.setEncoding('utf8').on('data', (d: string) => (out.stderr += d));
  if (opts.input !== undefined) proc.stdin!.end(opts.input);
  else proc.stdin!.end();
  const killer = setTimeout(() => proc.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
  const done = (async () => {
    const [code, signal] = (await once(proc, 'close')) as [number | null, NodeJS.Signals | null];
    clearTimeout(killer);
    live.delete(proc);
    return { code, signal, ...out };
  })();
  return { proc, out, done };
}

export function runCli(args: string[], opts?: Parameters<typeof startCli>[1]): Promise<CliResult> {
  return startCli(args, opts).done;
}

/** Kills whatever a test left running. */
export function killCliRuns(): void {
  for (const p of live) p.kill('SIGKILL');
  live.clear();
}

/**
 * A copy of a fixture project in a temporary folder, with this checkout's node_modules
 * linked in (so `npx vitest` finds the installed vitest) and a package.json of its own.
 */
export function copyProject(fixture: string): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'loopwatch-project-'));
  cpSync(fixture, dir, { recursive: true, filter: (src) => !src.includes('node_modules') });
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir');
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'fixture-project', private: true, type: 'module' }));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** The lines of `text` that look like a JavaScript stack frame: an error for bad input must have none. */
export function stackLines(text: string): string[] {
  return text.split('\n').filter((l) => /^\s+at /.test(l));
}
