import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BlockCollector, formatTable, sourceOf, summarize } from '../../src/cli/summary.js';
import { assertBuilt } from '../helpers/child.js';
import { runCli, stackLines } from '../helpers/cli.js';

let tmp: string;
/** The demo's raw block lines and the rows of the table it printed. */
let demoLines: string[];
let demoRows: string[];

/** The rows of the summary table in `text` (after its header and dashes, up to a blank line). */
function tableRows(text: string): string[] {
  const lines = text.split('\n');
  const head = lines.findIndex((l) => l.startsWith('route / job / test'));
  if (head === -1) return [];
  const rows: string[] = [];
  for (const l of lines.slice(head + 2)) {
    if (l.trim() === '') break;
    rows.push(l.trimEnd());
  }
  return rows;
}

/** An app's own pino lines, interleaved with loopwatch's, as `kubectl logs` shows a pod's output. */
function mixedStream(lines: string[]): string {
  const out: string[] = [];
  lines.forEach((line, i) => {
    out.push(JSON.stringify({ level: 30, time: 1795660233000 + i, pid: 7, hostname: 'api-7', msg: 'request completed', req: { url: `/r/${i}` }, responseTime: 3 }));
    out.push(line);
    if (i % 3 === 0) out.push(JSON.stringify({ level: 50, time: 1795660233000 + i, pid: 7, hostname: 'api-7', name: 'payments', msg: 'charge failed' }));
  });
  return `${out.join('\n')}\n`;
}

beforeAll(async () => {
  assertBuilt();
  tmp = mkdtempSync(join(tmpdir(), 'loopwatch-report-test-'));
  const demo = await runCli(['demo', '--raw'], { timeoutMs: 40_000 });
  expect(demo.code, demo.stdout + demo.stderr).toBe(0);
  demoLines = demo.stdout.split('\n').filter((l) => l.startsWith('{'));
  demoRows = tableRows(demo.stdout);
  expect(demoRows.length).toBeGreaterThanOrEqual(7);
}, 60_000);
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('loopwatch report', () => {
  it('gives the demo\'s table from a pino stream that mixes app lines with loopwatch\'s, on stdin', async () => {
    const r = await runCli(['report', '-'], { input: mixedStream(demoLines) });
    expect(r.code, r.stderr).toBe(0);
    expect(tableRows(r.stdout).sort()).toEqual([...demoRows].sort());
    const others = demoLines.length + Math.ceil(demoLines.length / 3);
    expect(r.stderr.trim()).toBe(`loopwatch report: skipped ${others} other JSON lines`);
  });

  it('reads a file the same way, and piped input without -', async () => {
    const file = join(tmp, 'mixed.jsonl');
    writeFileSync(file, mixedStream(demoLines));
    const fromFile = await runCli(['report', file]);
    expect(fromFile.code).toBe(0);
    expect(tableRows(fromFile.stdout).sort()).toEqual([...demoRows].sort());
    const piped = await runCli(['report'], { input: mixedStream(demoLines) });
    expect(tableRows(piped.stdout).sort()).toEqual([...demoRows].sort());
  });

  it('--json parses, and counts what the lines hold', async () => {
    const r = await runCli(['report', '--json', '-'], { input: mixedStream(demoLines) });
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as {
      blocks: number; worstMs: number; skipped: { otherJson: number; notJson: number };
      groups: { source: string; culprit: { function: string } | null; count: number; totalMs: number }[];
    };
    const finals = demoLines.filter((l) => (JSON.parse(l) as { block: { ongoing: boolean } }).block.ongoing === false);
    expect(report.blocks).toBe(finals.length);
    expect(report.groups.reduce((n, g) => n + g.count, 0)).toBe(finals.length);
    expect(report.skipped).toEqual({ otherJson: demoLines.length + Math.ceil(demoLines.length / 3), notJson: 0 });
    const hash = report.groups.find((g) => g.source === 'GET /hash');
    expect(hash?.culprit?.function).toBe('hashPassword');
    expect(report.worstMs).toBeGreaterThanOrEqual(100);
  });

  it('--min leaves out shorter blocks', async () => {
    const r = await runCli(['report', '--json', '--min', '120', '-'], { input: mixedStream(demoLines) });
    const report = JSON.parse(r.stdout) as { groups: { source: string }[] };
    // The job blocks ~80 ms; the routes ~150 ms.
    expect(report.groups.map((g) => g.source)).not.toContain('job nightly-rollup');
    expect(report.groups.map((g) => g.source)).toContain('GET /cpu');
  });
});

describe('loopwatch report: bad input', () => {
  it('a line that is not JSON: one line naming it, exit 2; --skip-invalid skips and counts it', async () => {
    const file = join(tmp, 'plain.log');
    writeFileSync(file, `${demoLines[0]}\nServer listening on 3000\n${demoLines[1]}\n`);
    const strict = await runCli(['report', file]);
    expect(strict.code).toBe(2);
    expect(strict.stderr.trim()).toBe(`loopwatch report: line 2 of ${file} is not JSON: "Server listening on 3000" (--skip-invalid skips such lines)`);
    expect(strict.stdout).toBe('');
    const lenient = await runCli(['report', '--skip-invalid', file]);
    expect(lenient.code).toBe(0);
    expect(lenient.stderr.trim()).toBe('loopwatch report: skipped 1 line that is not JSON (the first is line 2)');
  });

  it('an unreadable file, a folder, a missing file: one line, exit 2, no stack trace', async () => {
    const locked = join(tmp, 'locked.jsonl');
    writeFileSync(locked, demoLines.join('\n'));
    chmodSync(locked, 0o000);
    const missing = await runCli(['report', join(tmp, 'nope.jsonl')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr.trim()).toMatch(/^loopwatch report: cannot read \S+nope\.jsonl: ENOENT \(/);
    const folder = await runCli(['report', tmp]);
    expect(folder.code).toBe(2);
    expect(folder.stderr.trim()).toMatch(/^loopwatch report: cannot read \S+: EISDIR \(/);
    for (const r of [missing, folder]) {
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(stackLines(r.stderr)).toEqual([]);
    }
    // root reads any file whatever its mode; as another user it is EACCES.
    if (process.getuid?.() !== 0) {
      const denied = await runCli(['report', locked]);
      expect(denied.code).toBe(2);
      expect(denied.stderr).toMatch(/EACCES/);
    }
  });

  it('unknown options and extra arguments: one line, exit 2', async () => {
    const unknown = await runCli(['report', '--tabel', '-'], { input: '' });
    expect(unknown.code).toBe(2);
    expect(unknown.stderr.trim()).toBe('loopwatch report: unknown option --tabel (see loopwatch report --help)');
    const two = await runCli(['report', 'a.jsonl', 'b.jsonl']);
    expect(two.code).toBe(2);
    expect(two.stderr.trim()).toBe('loopwatch report: give one file (or - for standard input)');
    const min = await runCli(['report', '--min', 'x', '-'], { input: '' });
    expect(min.stderr.trim()).toBe('loopwatch report: --min must be a number of milliseconds >= 0, got "x"');
  });

  it('an empty log: no blocks, exit 0', async () => {
    const r = await runCli(['report', '-'], { input: '' });
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe('no blocks in standard input');
  });
});

describe('BlockCollector', () => {
  const line = (block: Record<string, unknown>, extra: Record<string, unknown> = { name: 'loopwatch' }): string =>
    JSON.stringify({ level: 40, pid: 9, msg: 'event loop blocked', ...extra, block: { thread: { id: 0, name: 'main' }, context: { kind: 'timer' }, culprit: null, stack: [], hint: null, ...block } });

  it('an ongoing line stands for its block until the final line comes', () => {
    const c = new BlockCollector();
    expect(c.add(line({ startedAt: 'A', durationMs: 500, ongoing: true }))).toBe('ongoing');
    expect(c.add(line({ startedAt: 'A', durationMs: 1000, ongoing: true }))).toBe('ongoing');
    expect(c.blocks()).toMatchObject([{ stillBlocked: true, block: { durationMs: 1000 } }]);
    expect(c.add(line({ startedAt: 'A', durationMs: 1200, ongoing: false }))).toBe('block');
    expect(c.blocks()).toMatchObject([{ stillBlocked: false, block: { durationMs: 1200 } }]);
    // A late ongoing line of a finished block does not bring it back.
    c.add(line({ startedAt: 'A', durationMs: 1100, ongoing: true }));
    expect(c.blocks()).toHaveLength(1);
  });

  it('reads the lines written through the app\'s pino logger (component: loopwatch) and skips look-alikes', () => {
    const c = new BlockCollector();
    expect(c.add(line({ startedAt: 'B', durationMs: 80, ongoing: false }, { name: 'api', component: 'loopwatch' }))).toBe('block');
    expect(c.add(line({ startedAt: 'C', durationMs: 80, ongoing: false }, { name: 'api' }))).toBe('other');
    expect(c.add('{"msg":"event loop blocked","name":"loopwatch","block":{"durationMs":"80"}}')).toBe('other');
    expect(c.add('{"truncated":')).toBe('not-json');
    expect(c.add('   ')).toBe('empty');
    expect([c.lines, c.other, c.notJson, c.firstNotJson]).toEqual([5, 2, 1, 4]);
  });

  it("counts flood control's summary lines apart, and report says so", async () => {
    const c = new BlockCollector();
    const summary = JSON.stringify({ level: 40, pid: 9, name: 'loopwatch', msg: 'event loop blocks suppressed', suppressed: { fingerprint: 'f', count: 12, totalMs: 800.5, worstMs: 75.2 } });
    expect(c.add(summary)).toBe('summary');
    expect(c.add(summary)).toBe('summary');
    expect(c.suppressed).toEqual({ lines: 2, blocks: 24, totalMs: 1601, worstMs: 75.2 });
    expect(c.blocks()).toEqual([]);
    const r = await runCli(['report', '-'], { input: `${demoLines[0]}\n${summary}\n` });
    expect(r.stdout).toContain('12 more blocks (800.5 ms in all, worst 75.2 ms) are in 1 flood-control summary line, not in the table');
  });

  it('reads a line behind a prefix: kubectl logs --timestamps, docker compose logs', () => {
    const c = new BlockCollector();
    expect(c.add(`2026-12-03T06:00:00.123456789Z ${line({ startedAt: 'D', durationMs: 70, ongoing: false })}`)).toBe('block');
    expect(c.add(`api-1  | ${line({ startedAt: 'E', durationMs: 90, ongoing: false })}`)).toBe('block');
    expect(c.add('api-1  | listening on {port}')).toBe('not-json');
    expect(c.blocks().map((b) => b.block.durationMs)).toEqual([70, 90]);
  });

  it('groups by where and culprit, most blocked time first, with the worst block as the example', () => {
    const c = new BlockCollector();
    const culprit = (line: number) => ({ function: 'parse', file: 'app.js', line, column: 1 });
    c.add(line({ startedAt: '1', durationMs: 60, ongoing: false, culprit: culprit(3) }));
    c.add(line({ startedAt: '2', durationMs: 90, ongoing: false, culprit: culprit(4), cause: 'native' }));
    c.add(line({ startedAt: '4', durationMs: 70, ongoing: false, culprit: culprit(3), cause: 'native' }));
    c.add(line({ startedAt: '3', durationMs: 300, ongoing: false, context: { kind: 'job', job: 'nightly' }, cause: 'starved' }));
    const groups = summarize(c.blocks());
    expect(groups.map((g) => [g.source, g.culprit, g.where, g.count, g.worstMs, g.totalMs, g.causes])).toEqual([
      ['job nightly', '(no stack)', '', 1, 300, 300, ['starved']],
      ['(timer)', 'parse', 'app.js:4', 3, 90, 220, ['native']],
    ]);
    expect(formatTable(groups).split('\n')[0]).toMatch(/^route \/ job \/ test +culprit +blocks +worst ms +total ms +cause +hint$/);
  });
});

describe('sourceOf', () => {
  it('names the candidates of a block the in-flight ledger could not settle, and a settled one as usual', () => {
    const base = { kind: 'http', method: null, route: null, path: null, job: null, traceId: null, spanId: null };
    expect(sourceOf({ ...base, inFlight: 2, candidates: ['GET /a', 'POST /b'] })).toBe('http: one of GET /a, POST /b');
    expect(sourceOf({ ...base, kind: 'timer', inFlight: 3, candidates: ['GET /a', 'GET /c'] })).toBe('timer: one of GET /a, GET /c');
    expect(sourceOf({ ...base, method: 'GET', route: '/users/:id', inFlight: 1 })).toBe('GET /users/:id');
  });
});
