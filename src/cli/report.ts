/** `loopwatch report [file.jsonl | -]`: the summary table of any block log. */
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { numberFlag, parseArgs, UsageError } from './args.js';
import { BlockCollector, fmtMs, formatTable, summarize, toJson } from './summary.js';

export const REPORT_HELP = `Usage: loopwatch report [options] [file.jsonl | -]

Summarizes a block log: route / job / test -> culprit -> blocks, worst and total ms, cause, hint.
Reads the file, or standard input with - (or when no file is given and input is piped):
  kubectl logs deploy/api | npx loopwatch report
Lines that loopwatch did not write (the app's own pino lines) are skipped and counted;
a prefix before a line's JSON (kubectl logs --timestamps, docker compose logs) is allowed.

Options:
  --json           print the summary as JSON instead of a table
  --min <ms>       only blocks of at least this many milliseconds
  --skip-invalid   skip lines that are not JSON (plain-text output mixed in); without
                   it, such a line is an error
  -h, --help       this text

Exit codes: 0 the report was printed (with or without blocks), 2 bad input (an unknown
option, an unreadable file, a line that is not JSON).`;

const SPECS = { json: { takes: 'none' }, min: { takes: 'value' }, 'skip-invalid': { takes: 'none' } } as const;

/** Reads a whole line stream into a collector; with `strict`, the first line that is not JSON is an error. */
export async function collect(input: Readable, name: string, strict: boolean): Promise<BlockCollector> {
  const collector = new BlockCollector();
  const lines = createInterface({ input, crlfDelay: Infinity });
  const failed = new Promise<never>((_, reject) => {
    input.once('error', (err: NodeJS.ErrnoException) => reject(new UsageError(`loopwatch report: cannot read ${name}: ${err.code ?? err.message}${err.code ? ` (${err.message})` : ''}`)));
  });
  const read = (async () => {
    for await (const line of lines) {
      if (collector.add(line) === 'not-json' && strict) {
        lines.close();
        input.destroy();
        const shown = line.length > 60 ? `${line.slice(0, 60)}…` : line;
        throw new UsageError(`loopwatch report: line ${collector.lines} of ${name} is not JSON: ${JSON.stringify(shown)} (--skip-invalid skips such lines)`);
      }
    }
    return collector;
  })();
  return Promise.race([read, failed]);
}

export async function report(argv: readonly string[], io: { stdin: Readable; stdout: NodeJS.WritableStream; stderr: NodeJS.WritableStream }): Promise<number> {
  const { flags, positionals, rest } = parseArgs('loopwatch report', argv, SPECS);
  if (flags.has('help')) {
    io.stdout.write(`${REPORT_HELP}\n`);
    return 0;
  }
  if (rest !== null || positionals.length > 1) throw new UsageError('loopwatch report: give one file (or - for standard input)');
  const min = numberFlag('loopwatch report', flags, 'min', 0, Infinity, 'a number of milliseconds >= 0') ?? 0;
  const file = positionals[0];
  const fromStdin = file === '-' || (file === undefined && !(io.stdin as { isTTY?: boolean }).isTTY);
  if (file === undefined && !fromStdin) throw new UsageError('loopwatch report: give a block log file, or - to read standard input');
  const name = fromStdin ? 'standard input' : file;
  const input = fromStdin ? io.stdin : createReadStream(file);
  const collector = await collect(input, name, !flags.has('skip-invalid'));
  const groups = summarize(collector.blocks().filter((b) => b.block.durationMs >= min));
  if (flags.has('json')) {
    io.stdout.write(`${JSON.stringify(toJson(collector, groups), null, 2)}\n`);
    return 0;
  }
  const count = groups.reduce((n, g) => n + g.count, 0);
  io.stdout.write(count === 0
    ? `no blocks${min ? ` of ${min} ms or more` : ''} in ${name}\n`
    : `${count} block${count === 1 ? '' : 's'}${min ? ` of ${min} ms or more` : ''} in ${name}:\n\n${formatTable(groups)}\n`);
  const sup = collector.suppressed;
  if (sup.lines) {
    io.stdout.write(`\n${sup.blocks} more block${sup.blocks === 1 ? '' : 's'} (${fmtMs(sup.totalMs)} ms in all, worst ${fmtMs(sup.worstMs)} ms) are in ${sup.lines} flood-control summary line${sup.lines === 1 ? '' : 's'}, not in the table\n`);
  }
  const skipped = [
    collector.other ? `${collector.other} other JSON line${collector.other === 1 ? '' : 's'}` : '',
    collector.notJson ? `${collector.notJson} ${collector.notJson === 1 ? 'line that is' : 'lines that are'} not JSON (the first is line ${collector.firstNotJson})` : '',
  ].filter(Boolean);
  if (skipped.length) io.stderr.write(`loopwatch report: skipped ${skipped.join(' and ')}\n`);
  return 0;
}
