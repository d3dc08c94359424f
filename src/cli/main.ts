#!/usr/bin/env node
/**
 * The `loopwatch` command. Bad input is one line on stderr and exit code 2, never a stack
 * trace; the codes of each command are in its --help.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError } from './args.js';
import { demo, DEMO_HELP } from './demo.js';
import { report, REPORT_HELP } from './report.js';
import { RUN_HELP, runCommand } from './run.js';

const HELP = `Usage: loopwatch <command> [options]

Finds what blocks the Node.js event loop.

Commands:
  run [options] -- <command…>   run a command with loopwatch in every Node process it
                                starts; --fail-on-block fails a CI run that blocked
  report [file.jsonl | -]       the summary table of a block log (or of standard input)
  demo                          a service that blocks in several ways, and what
                                loopwatch reports about it
  help [command]                this text, or a command's

Options: -h, --help (also after a command), --version

Examples:
  npx loopwatch run -- node app.js
  npx loopwatch run --fail-on-block -- npx vitest run
  kubectl logs deploy/api | npx loopwatch report

Exit codes: 0 success, 2 bad options or input; run and report list theirs in --help.`;

const HELPS: Record<string, string> = { run: RUN_HELP, report: REPORT_HELP, demo: DEMO_HELP };

/** The package root: this file is dist/cli.cjs (or dist/cli.js). */
const ROOT = join(__dirname, '..');

function version(): string {
  return (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
}

export async function main(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  const io = { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, env: process.env };
  switch (command) {
    case undefined:
    case '-h':
    case '--help':
      io.stdout.write(`${HELP}\n`);
      return command === undefined ? 2 : 0;
    case '--version':
      io.stdout.write(`${version()}\n`);
      return 0;
    case 'help': {
      const text = rest[0] === undefined ? HELP : HELPS[rest[0]];
      if (text === undefined) throw new UsageError(`loopwatch help: unknown command ${JSON.stringify(rest[0])} (commands: run, report, demo)`);
      io.stdout.write(`${text}\n`);
      return 0;
    }
    case 'run':
      return runCommand(rest, join(__dirname, 'register.cjs'), io);
    case 'report':
      return report(rest, io);
    case 'demo':
      return demo(rest, ROOT, io.stdout, io.stderr);
    default:
      throw new UsageError(`loopwatch: unknown command ${JSON.stringify(command)} (commands: run, report, demo; see loopwatch --help)`);
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    if (err instanceof UsageError) {
      process.stderr.write(`${err.message}\n`);
      process.exitCode = 2;
    } else {
      // A defect of ours: still one line, with a way to see more.
      process.stderr.write(`loopwatch: internal error: ${(err as Error)?.message ?? String(err)} (NODE_DEBUG=loopwatch shows more)\n`);
      if (/\bloopwatch\b/.test(process.env.NODE_DEBUG ?? '')) process.stderr.write(`${(err as Error)?.stack}\n`);
      process.exitCode = 1;
    }
  },
);
