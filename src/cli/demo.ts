/**
 * `loopwatch demo` (and `npm run demo`): starts the package's examples/service.cjs under
 * `--require register.cjs`, sends each route a few requests from outside, prints one short
 * line per block the agent logs on the child's stderr, stops the child and prints the
 * summary table of `loopwatch report`. Exit 1 if a blocking route (or the job) produced no
 * block line; with --strict also if a culprit is not the expected function or a route that
 * does not block was reported. --raw prints the agent's JSON lines as they are.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from './args.js';
import { BlockCollector, blockLine, formatStack, formatTable, type Group, summarize } from './summary.js';

export const DEMO_HELP = `Usage: loopwatch demo [--strict] [--raw]

Starts a small node:http service whose routes block the event loop in different ways,
with loopwatch preloaded, sends it traffic on 127.0.0.1, and prints each block and a
summary table (about 7 s).

Options:
  --strict   also fail when a culprit is not the expected function
  --raw      print loopwatch's JSON lines instead of one line per block
  -h, --help this text

Exit codes: 0 every blocking route was reported, 1 otherwise.`;

/** What each source should produce: the function that blocks, as written in service.cjs. */
const EXPECTED = [
  { source: 'GET /cpu', culprit: 'computeDiscounts' },
  { source: 'GET /json', culprit: 'parseReport' },
  { source: 'GET /hash', culprit: 'hashPassword' },
  { source: 'GET /file', culprit: 'loadTemplates' },
  { source: 'GET /after-await', culprit: 'renderInvoice' },
  { source: 'GET /timer', culprit: 'flushMetricsBuffer' },
  { source: 'job nightly-rollup', culprit: 'rollupDailyTotals' },
];
const NOT_BLOCKING = ['GET /ok'];
const ROUNDS = 3;
const ROUTES = ['/ok', '/cpu', '/json', '/hash', '/file', '/after-await', '/timer'];
/** Pause after a request so that consecutive blocks stay separate (the /timer block starts after its response). */
const PAUSE_MS: Record<string, number> = { '/timer': 300 };
const DEFAULT_PAUSE_MS = 100;
const REQUEST_TIMEOUT_MS = 5_000;
const STARTUP_TIMEOUT_MS = 5_000;
/** The job runs every 2 s in the service; traffic lasts ~6 s, so it has run at least twice. */
const MIN_RUN_MS = 4_500;
/** Hard bound on the whole demo, whatever happens. */
const DEADLINE_MS = 14_000;

function get(port: number, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, agent: false, timeout: REQUEST_TIMEOUT_MS }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${path} timed out after ${REQUEST_TIMEOUT_MS} ms`)));
    req.on('error', reject);
  });
}

function verdict(groups: Group[]): { problems: string[]; notes: string[] } {
  const problems: string[] = [];
  const notes: string[] = [];
  const missing = EXPECTED.filter((e) => !groups.some((g) => g.source === e.source));
  if (missing.length) problems.push(`no block seen for: ${missing.map((e) => e.source).join(', ')}`);
  for (const g of groups) {
    const e = EXPECTED.find((x) => x.source === g.source);
    if (e && g.culprit !== e.culprit) {
      notes.push(`${e.source}: culprit ${g.culprit} in ${g.count} block(s), expected ${e.culprit}; stack:\n${formatStack(g.example.block, 5, '      ')}`);
    } else if (NOT_BLOCKING.includes(g.source)) {
      notes.push(`${g.source} does not block, yet ${g.count} block(s) named it (culprit ${g.culprit})`);
    } else if (!e) {
      notes.push(`${g.count} block(s) from ${g.source} (culprit ${g.culprit})`);
    }
  }
  return { problems, notes };
}

/** Runs the demo from the package root `root` (which holds dist/ and examples/). */
export async function demo(argv: readonly string[], root: string, out: NodeJS.WritableStream, err: NodeJS.WritableStream): Promise<number> {
  const { flags } = parseArgs('loopwatch demo', argv, { strict: { takes: 'none' }, raw: { takes: 'none' } });
  if (flags.has('help')) {
    out.write(`${DEMO_HELP}\n`);
    return 0;
  }
  const strict = flags.has('strict');
  const raw = flags.has('raw');
  const register = join(root, 'dist', 'register.cjs');
  const service = join(root, 'examples', 'service.cjs');
  for (const f of [register, service]) {
    if (!existsSync(f)) {
      err.write(`loopwatch demo: ${f} is missing (from a clone of the repository: npm run build first)\n`);
      return 1;
    }
  }
  const say = (line = ''): boolean => out.write(`${line}\n`);
  const t0 = performance.now();
  const collector = new BlockCollector();
  const env: NodeJS.ProcessEnv = { ...process.env, LOOPWATCH_ENABLED: 'true', LOOPWATCH_LOG: 'stderr', PORT: '0' };
  delete env.NODE_OPTIONS;
  const child = spawn(process.execPath, ['--require', register, service], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = once(child, 'exit');
  let childExited = false;
  void exited.then(() => (childExited = true), () => undefined);
  const hardStop = setTimeout(() => {
    err.write(`loopwatch demo: still running after ${DEADLINE_MS} ms; stopping the service (pid ${child.pid})\n`);
    child.kill('SIGKILL');
  }, DEADLINE_MS);
  hardStop.unref();

  const otherStderr: string[] = [];
  const errLines = createInterface({ input: child.stderr, crlfDelay: Infinity });
  errLines.on('line', (line) => {
    const kind = collector.add(line);
    if ((kind === 'block' || kind === 'ongoing') && collector.last) {
      if (raw) return void say(line);
      say(blockLine(collector.last.block, { sourceWidth: 19 }));
    } else if (kind !== 'empty') {
      otherStderr.push(line);
      say(`service stderr: ${line}`);
    }
  });
  const stderrClosed = once(errLines, 'close');
  const portPromise = new Promise<number>((resolve, reject) => {
    const outLines = createInterface({ input: child.stdout, crlfDelay: Infinity });
    outLines.on('line', (line) => {
      const m = /^listening (\d+)$/.exec(line);
      if (m) resolve(Number(m[1]));
      else say(`service: ${line}`);
    });
    void exited.then(([code, signal]) => reject(new Error(`the service exited before listening (code ${code}, signal ${signal})`)));
    setTimeout(() => reject(new Error(`the service did not print "listening <port>" within ${STARTUP_TIMEOUT_MS} ms`)), STARTUP_TIMEOUT_MS).unref();
  });

  let failure: Error | null = null;
  try {
    const port = await portPromise;
    say(`demo: service pid ${child.pid} on http://127.0.0.1:${port}, loopwatch via --require ${register}`);
    say(`demo: ${ROUNDS} rounds of GET ${ROUTES.join(' ')}; the nightly-rollup job runs every 2 s\n`);
    for (let round = 0; round < ROUNDS; round++) {
      for (const path of ROUTES) {
        if (childExited) throw new Error('the service exited while the demo was sending requests');
        const status = await get(port, path);
        if (status >= 400) throw new Error(`GET ${path} answered ${status}`);
        await sleep(PAUSE_MS[path] ?? DEFAULT_PAUSE_MS);
      }
    }
    // Let the job run at least twice, whatever the speed of the traffic.
    const left = MIN_RUN_MS - (performance.now() - t0);
    if (left > 0) await sleep(left);
    // Block lines are written when a block ends: wait until none has come for a moment.
    const end = performance.now() + 2_000;
    let seen = collector.lines;
    let quietSince = performance.now();
    while (performance.now() < end && performance.now() - quietSince < 400) {
      await sleep(50);
      if (collector.lines !== seen) [seen, quietSince] = [collector.lines, performance.now()];
    }
  } catch (e) {
    failure = e as Error;
  }
  if (!childExited) {
    child.kill('SIGTERM');
    const killer = setTimeout(() => child.kill('SIGKILL'), 3_000);
    await exited;
    clearTimeout(killer);
  }
  await stderrClosed;
  clearTimeout(hardStop);

  const order = (g: Group): number => {
    const i = EXPECTED.findIndex((e) => e.source === g.source);
    return i === -1 ? EXPECTED.length : i;
  };
  const groups = summarize(collector.blocks().filter((b) => !b.stillBlocked)).sort((a, b) => order(a) - order(b) || b.totalMs - a.totalMs);
  const count = groups.reduce((n, g) => n + g.count, 0);
  say(`\nsummary (${count} blocks in ${((performance.now() - t0) / 1000).toFixed(1)} s, Node ${process.version}):\n`);
  say(groups.length ? formatTable(groups) : '(no blocks were reported)');
  const { problems, notes } = verdict(groups);
  if (failure) problems.unshift(failure.message);
  if (notes.length) {
    say('\nnotes:');
    for (const n of notes) say(`  - ${n}`);
  }
  if (strict) problems.push(...notes);
  if (problems.length) {
    err.write(`\ndemo FAILED: ${problems.join('; ')}\n`);
    if (otherStderr.length && !count) err.write('(service stderr shown above)\n');
    return 1;
  }
  say(`\ndemo OK: every blocking route and the job were reported${strict ? ' with the expected culprit' : ''}`);
  return 0;
}
