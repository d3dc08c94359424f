import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, FIXTURES } from '../helpers/child.js';
import { killCliRuns, runCli, stackLines, startCli } from '../helpers/cli.js';
import { waitFor } from '../helpers/child.js';

const BLOCK = `${FIXTURES}cli/block.cjs`;
let tmp: string;

beforeAll(() => {
  assertBuilt();
  tmp = mkdtempSync(join(tmpdir(), 'loopwatch-run-test-'));
});
afterEach(killCliRuns);
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('loopwatch run --fail-on-block', () => {
  it('fails a passing command that blocked 120 ms, naming the culprit and its stack', async () => {
    const r = await runCli(['run', '--fail-on-block', '--', process.execPath, BLOCK]);
    expect(r.code, r.stderr).toBe(3);
    expect(r.stderr).toMatch(/FAILED: 1 block of 50 ms or more/);
    expect(r.stderr).toMatch(/culprit: spinFor \(test\/fixtures\/cli\/block\.cjs:\d+\)/);
    expect(r.stderr).toMatch(/at blockOnce \(test\/fixtures\/cli\/block\.cjs:\d+:\d+\)/);
    // The live line came while the command ran, with the process that blocked.
    // 120 ms of process CPU time (the watchdog's and V8's threads count too): 90-200 ms here.
    const live = /loopwatch: blocked +(\d+\.\d) ms {2}\(timer\) {2}spinFor .*\[pid \d+\]/.exec(r.stderr);
    expect(Number(live?.[1]), r.stderr).toBeGreaterThanOrEqual(80);
  });

  it('passes a command whose blocks are all shorter than the threshold (five of 20 ms)', async () => {
    // A threshold of 100 ms: on a machine shared with other work, the process itself can be
    // kept off the CPU for 50 ms now and then, which is a block too.
    const r = await runCli(['run', '--threshold', '100', '--fail-on-block', '--', process.execPath, BLOCK], { env: { BLOCK_MS: '20' } });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('loopwatch: no block of 100 ms or more in tests or app code');
    expect(r.stderr).not.toContain('blocked ');
  });

  it('uses the budget given: --fail-on-block=200 passes the 120 ms block, and lowers the threshold below 50', async () => {
    const high = await runCli(['run', '--fail-on-block=200', '--', process.execPath, BLOCK]);
    expect(high.code, high.stderr).toBe(0);
    // Reported as it happened, not counted against the budget.
    expect(high.stderr).toMatch(/loopwatch: blocked +\d+\.\d ms {2}\(timer\) {2}spinFor/);
    expect(high.stderr).toContain('no block of 200 ms or more');
    const low = await runCli(['run', '--fail-on-block', '10', '--', process.execPath, BLOCK], { env: { BLOCK_MS: '20' } });
    expect(low.code, low.stderr).toBe(3);
    const failed = Number(/FAILED: (\d+) blocks? of 10 ms or more/.exec(low.stderr)?.[1]);
    // A block the machine's load starved (runnable, not running) is reported but not counted;
    // each of the five is one or the other.
    const starved = Number(/\((\d+) starved \(the process was runnable/.exec(low.stderr)?.[1] ?? 0);
    expect(failed, low.stderr).toBeGreaterThanOrEqual(1);
    expect(failed + starved, low.stderr).toBeGreaterThanOrEqual(5);
  });

  it('in GitHub Actions, annotates the culprit\'s file and line', async () => {
    const r = await runCli(['run', '--fail-on-block', '--', process.execPath, BLOCK], { env: { GITHUB_ACTIONS: 'true' } });
    expect(r.code, r.stderr).toBe(3);
    expect(r.stdout).toMatch(/^::error file=test\/fixtures\/cli\/block\.cjs,line=\d+,title=loopwatch%3A blocked \d+\.\d ms \(budget 50 ms\)::\(timer\): 1 block in spinFor$/m);
    const plain = await runCli(['run', '--fail-on-block', '--', process.execPath, BLOCK]);
    expect(plain.stdout).not.toContain('::error');
  });

  it('counts what ran in tests or app code, not start-up, the runner or starved blocks', async () => {
    // The command appends block lines to the shared log itself (LOOPWATCH_LOG is its path),
    // one of each kind, so what counts is decided on known lines.
    const line = (kind: string | null, cause: string, fn: string): string => JSON.stringify({
      level: 40, time: Date.now(), pid: process.pid, hostname: 'h', name: 'loopwatch', msg: 'event loop blocked',
      block: {
        id: fn, thread: { id: 0, name: 'main' }, startedAt: new Date().toISOString(), durationMs: 200, ongoing: false, thresholdMs: 50,
        context: { kind, method: null, route: null, path: null, job: null, traceId: null, spanId: null },
        culprit: { function: fn, file: 'app.js', line: 1, column: 1 }, stack: [], hint: null, fingerprint: fn, profile: [], cause, cpuMs: null, gcMs: null,
      },
    });
    const lines = [line('startup', 'code', 'loadConfig'), line('runner', 'code', 'transpile'), line('timer', 'starved', 'whileThrottled'), line('test', 'native', 'readsFileSync')];
    const script = `require('fs').appendFileSync(process.env.LOOPWATCH_LOG, ${JSON.stringify(lines.join('\n') + '\n')})`;
    const failed = await runCli(['run', '--fail-on-block', '--', process.execPath, '-e', script]);
    expect(failed.code, failed.stderr).toBe(3);
    expect(failed.stderr).toContain('FAILED: 1 block of 50 ms or more (--fail-on-block) (2 more at start-up or in the test runner\'s own work were not counted (--count-startup counts them); 1 starved (the process was runnable but not running: machine load or a CPU limit) were not counted)');
    expect(failed.stderr).toContain('culprit: readsFileSync (app.js:1)');
    const all = await runCli(['run', '--fail-on-block', '--count-startup', '--', process.execPath, '-e', script]);
    expect(all.stderr).toMatch(/FAILED: 3 blocks of 50 ms or more/);
    expect(all.stderr).not.toContain('culprit: whileThrottled');
  });

  it("keeps the command's own failing exit code, blocks or not", async () => {
    const blocked = await runCli(['run', '--fail-on-block', '--', process.execPath, BLOCK], { env: { EXIT_CODE: '7' } });
    expect(blocked.code, blocked.stderr).toBe(7);
    expect(blocked.stderr).toContain('FAILED');
    const clean = await runCli(['run', '--threshold', '100', '--fail-on-block', '--', process.execPath, BLOCK], { env: { EXIT_CODE: '7', BLOCK_MS: '20' } });
    expect(clean.code).toBe(7);
  });

  it('without --fail-on-block, reports the block and exits with the command\'s code', async () => {
    const r = await runCli(['run', '--', process.execPath, BLOCK]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/loopwatch: 1 block of 50 ms or more:/);
    expect(r.stderr).toMatch(/\(timer\) +spinFor \(test\/fixtures\/cli\/block\.cjs:\d+\) +1 +\d+\.\d/);
  });
});

describe('loopwatch run: the command and its processes', () => {
  for (const [signal, code] of [['SIGTERM', 42], ['SIGINT', 43]] as const) {
    it(`${signal} reaches the command, and its exit code comes back`, async () => {
      const run = startCli(['run', '--', process.execPath, `${FIXTURES}cli/signal.cjs`]);
      await waitFor(() => run.out.stdout.includes('ready'), { timeoutMs: 10_000, what: 'the child to print ready' }, () => run.out.stderr);
      run.proc.kill(signal);
      const r = await run.done;
      expect(r.stdout).toContain(`child got ${signal}`);
      expect(r.code).toBe(code);
    });
  }

  it("keeps the user's NODE_OPTIONS (a preload and a heap limit) beside its own preload", async () => {
    const nodeOptions = `--require ${FIXTURES}cli/user-preload.cjs --max-old-space-size=100`;
    const r = await runCli(['run', '--', process.execPath, `${FIXTURES}cli/options.cjs`], { env: { NODE_OPTIONS: nodeOptions } });
    expect(r.code, r.stderr).toBe(0);
    const seen = JSON.parse(r.stdout.trim().split('\n')[0]) as { nodeOptions: string; userPreload: boolean; heapLimitMb: number };
    expect(seen.userPreload).toBe(true);
    // Defaults are 2-4 GB here; 100 MB of old space gives 150-300 MB in all (Node 20-26).
    expect(seen.heapLimitMb).toBeLessThan(600);
    expect(seen.nodeOptions.startsWith(nodeOptions)).toBe(true);
    expect(seen.nodeOptions).toMatch(/--require \S*register\.cjs"?$/);
    expect(r.stderr).toMatch(/blockAfterOptions \(test\/fixtures\/cli\/options\.cjs:\d+\)/);
  });

  it('watches every Node process the command starts, all into one log kept by --log', async () => {
    const log = join(tmp, 'tree.jsonl');
    const r = await runCli(['run', '--log', log, '--', process.execPath, `${FIXTURES}cli/tree.cjs`]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('tree done');
    const pids = new Set([...r.stderr.matchAll(/spinFor .*\[pid (\d+)\]/g)].map((m) => m[1]));
    expect(pids.size).toBe(2);
    expect(r.stderr).toContain(`(log: ${log})`);
    const lines = readFileSync(log, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { pid: number; block: { culprit: { function: string } } });
    expect(new Set(lines.map((l) => String(l.pid)))).toEqual(pids);
    expect(lines.every((l) => l.block.culprit.function === 'spinFor')).toBe(true);
  });

  it('removes its temporary log when no --log is given', async () => {
    const r = await runCli(['run', '--', process.execPath, '-e', 'console.log(process.env.LOOPWATCH_LOG)']);
    const log = r.stdout.trim();
    expect(log).toMatch(/blocks\.jsonl$/);
    expect(existsSync(log)).toBe(false);
  });
});

describe('loopwatch run: bad input is one line and exit 2, never a stack trace', () => {
  const cases: [string, string[], RegExp][] = [
    ['an unknown option', ['run', '--bogus', '--', 'node', '-e', '1'], /^loopwatch run: unknown option --bogus \(see loopwatch run --help\)$/],
    ['a missing --', ['run', 'node', 'app.js'], /^loopwatch run: missing -- before "node"/],
    ['no command after --', ['run', '--fail-on-block', '--'], /^loopwatch run: no command after --/],
    ['a bad threshold', ['run', '--threshold', 'abc', '--', 'node'], /^loopwatch run: --threshold must be a number of milliseconds from 1 to 3600000, got "abc"$/],
    ['a bad budget', ['run', '--fail-on-block=0', '--', 'node'], /^loopwatch run: --fail-on-block must be a number of milliseconds from 1 to 3600000, got "0"$/],
    ['a log that is not a file', ['run', '--log', 'stderr', '--', 'node'], /^loopwatch run: --log must be a file path/],
    ['a bad switch', ['run', '--context=maybe', '--', 'node'], /^loopwatch run: --context must be on, off, als or inflight, got "maybe"$/],
    ['an unknown command', ['runn'], /^loopwatch: unknown command "runn"/],
  ];
  for (const [what, args, message] of cases) {
    it(what, async () => {
      const r = await runCli(args);
      expect(r.code).toBe(2);
      const lines = r.stderr.trim().split('\n');
      expect(lines, r.stderr).toHaveLength(1);
      expect(lines[0]).toMatch(message);
      expect(stackLines(r.stderr)).toEqual([]);
    });
  }

  it('a command that does not exist: exit 127 and one line', async () => {
    const r = await runCli(['run', '--', 'no-such-command-loopwatch-test']);
    expect(r.code).toBe(127);
    expect(r.stderr).toMatch(/loopwatch run: cannot run "no-such-command-loopwatch-test": command not found/);
    expect(stackLines(r.stderr)).toEqual([]);
  });

  it('--help for each command and the top level, exit 0', async () => {
    for (const args of [['--help'], ['run', '--help'], ['report', '-h'], ['demo', '--help'], ['help', 'run']]) {
      const r = await runCli(args);
      expect(r.code, args.join(' ')).toBe(0);
      expect(r.stdout).toMatch(/^Usage: loopwatch/);
      expect(r.stdout).toMatch(/Exit codes/);
    }
  });
});
