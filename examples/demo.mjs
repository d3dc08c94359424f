// The loopwatch demo and smoke test: `npm run demo` (or `node examples/demo.mjs` after a build).
//
// Starts examples/service.cjs with `--require dist/register.cjs`, sends each route a few
// requests from outside, prints one short line per block the agent logs on the child's
// stderr, stops the child and prints a summary. Exits 1 if a blocking route (or the job)
// produced no block line; with --strict also if a culprit is not the expected function or
// a route that does not block was reported. --raw prints the agent's JSON lines as they are.

import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import http from 'node:http';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');
const register = join(root, 'dist', 'register.cjs');
const service = join(here, 'service.cjs');
const strict = process.argv.includes('--strict');
const raw = process.argv.includes('--raw');

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
const PAUSE_MS = { '/timer': 300, default: 100 };
const REQUEST_TIMEOUT_MS = 5_000;
const STARTUP_TIMEOUT_MS = 5_000;
/** The job runs every 2 s in the service; traffic lasts ~6 s, so it has run at least twice. */
const MIN_RUN_MS = 4_500;
/** Hard bound on the whole demo, whatever happens. */
const DEADLINE_MS = 14_000;

if (!existsSync(register)) {
  console.error(`demo: ${register} is missing; build first (npm run build), or use npm run demo`);
  process.exit(1);
}

const t0 = performance.now();
const blocks = [];
const otherStderr = [];

const child = spawn(process.execPath, ['--require', register, service], {
  cwd: root,
  env: { ...process.env, LOOPWATCH_ENABLED: 'true', LOOPWATCH_LOG: 'stderr', PORT: '0' },
  stdio: ['ignore', 'pipe', 'pipe'],
});
const exited = once(child, 'exit');
let childExited = false;
void exited.then(() => {
  childExited = true;
});

const hardStop = setTimeout(() => {
  console.error(`demo: still running after ${DEADLINE_MS} ms; stopping the service (pid ${child.pid})`);
  child.kill('SIGKILL');
  process.exit(1);
}, DEADLINE_MS);
hardStop.unref();

// ---------------------------------------------------------------------------------------
// The child's output.

function sourceOf(ctx) {
  if (!ctx || !ctx.kind) return '(no context)';
  if (ctx.kind === 'job') return `job ${ctx.job ?? '?'}`;
  const where = ctx.route ?? ctx.path;
  if (ctx.method || where) return `${ctx.method ?? '?'} ${where ?? '?'}`;
  return `(${ctx.kind})`;
}

function culpritOf(block) {
  const c = block.culprit;
  return c ? `${c.function} (${c.file}:${c.line})` : '(no stack)';
}

const fmtMs = (ms) => ms.toFixed(1);

function onBlockLine(block) {
  const source = sourceOf(block.context);
  blocks.push({ block, source });
  if (raw) return;
  const state = block.ongoing ? 'still blocked' : 'blocked';
  const hint = block.hint ? `  hint: ${block.hint}` : '';
  console.log(`${state} ${fmtMs(block.durationMs).padStart(6)} ms  ${source.padEnd(19)} ${culpritOf(block)}${hint}`);
}

const errLines = createInterface({ input: child.stderr, crlfDelay: Infinity });
errLines.on('line', (line) => {
  let parsed = null;
  if (line.startsWith('{')) {
    try {
      parsed = JSON.parse(line);
    } catch {
      parsed = null;
    }
  }
  if (parsed && parsed.name === 'loopwatch' && parsed.block) {
    if (raw) console.log(line);
    onBlockLine(parsed.block);
  } else {
    otherStderr.push(line);
    console.log(`service stderr: ${line}`);
  }
});
const stderrClosed = once(errLines, 'close');

const portPromise = new Promise((resolve, reject) => {
  const outLines = createInterface({ input: child.stdout, crlfDelay: Infinity });
  outLines.on('line', (line) => {
    const m = /^listening (\d+)$/.exec(line);
    if (m) resolve(Number(m[1]));
    else console.log(`service: ${line}`);
  });
  void exited.then(([code, signal]) => reject(new Error(`the service exited before listening (code ${code}, signal ${signal})`)));
  setTimeout(() => reject(new Error(`the service did not print "listening <port>" within ${STARTUP_TIMEOUT_MS} ms`)), STARTUP_TIMEOUT_MS).unref();
});

// ---------------------------------------------------------------------------------------
// Traffic: sequential requests to 127.0.0.1 only.

function get(port, path) {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, agent: false, timeout: REQUEST_TIMEOUT_MS }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${path} timed out after ${REQUEST_TIMEOUT_MS} ms`)));
    req.on('error', reject);
  });
}

async function drive(port) {
  for (let round = 0; round < ROUNDS; round++) {
    for (const path of ROUTES) {
      if (childExited) throw new Error('the service exited while the demo was sending requests');
      const status = await get(port, path);
      if (status >= 400) throw new Error(`GET ${path} answered ${status}`);
      await sleep(PAUSE_MS[path] ?? PAUSE_MS.default);
    }
  }
  // Let the job run at least twice, whatever the speed of the traffic.
  const left = MIN_RUN_MS - (performance.now() - t0);
  if (left > 0) await sleep(left);
}

/** Block lines are written when a block ends: wait until none has come for a moment. */
async function settle(quietMs = 400, maxMs = 2_000) {
  const end = performance.now() + maxMs;
  let seen = blocks.length;
  let quietSince = performance.now();
  while (performance.now() < end) {
    await sleep(50);
    if (blocks.length !== seen) {
      seen = blocks.length;
      quietSince = performance.now();
    } else if (performance.now() - quietSince >= quietMs) return;
  }
}

async function stopChild() {
  if (!childExited) {
    child.kill('SIGTERM');
    const killer = setTimeout(() => child.kill('SIGKILL'), 3_000);
    await exited;
    clearTimeout(killer);
  }
  await stderrClosed;
}

// ---------------------------------------------------------------------------------------
// Summary.

function summarize() {
  const groups = new Map();
  for (const { block, source } of blocks) {
    if (block.ongoing) continue; // the final line of the same block follows
    const culprit = block.culprit ? block.culprit.function : '(no stack)';
    const key = `${source}\u0000${culprit}`;
    let g = groups.get(key);
    if (!g) {
      const where = block.culprit ? `${block.culprit.file}:${block.culprit.line}` : '';
      g = { source, culprit, where, count: 0, worst: 0, total: 0, hints: new Set(), example: block };
      groups.set(key, g);
    }
    g.count++;
    g.worst = Math.max(g.worst, block.durationMs);
    g.total += block.durationMs;
    if (block.hint) g.hints.add(block.hint);
  }
  const order = (g) => {
    const i = EXPECTED.findIndex((e) => e.source === g.source);
    return i === -1 ? EXPECTED.length : i;
  };
  return [...groups.values()].sort((a, b) => order(a) - order(b) || b.total - a.total);
}

function printTable(groups) {
  const rows = groups.map((g) => [
    g.source,
    `${g.culprit}${g.where ? ` (${g.where})` : ''}`,
    String(g.count),
    fmtMs(g.worst),
    fmtMs(g.total),
    [...g.hints].join('; ') || '-',
  ]);
  const head = ['route / job', 'culprit', 'blocks', 'worst ms', 'total ms', 'hint'];
  const right = [false, false, true, true, true, false];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : right[i] ? c.padStart(widths[i]) : c.padEnd(widths[i])))
      .join('  ');
  console.log(line(head));
  console.log(line(widths.map((w, i) => (i === widths.length - 1 ? '-'.repeat(head[i].length) : '-'.repeat(w)))));
  for (const r of rows) console.log(line(r));
}

/** The first frames of a block's stack, innermost first, for notes on unexpected culprits. */
function stackOf(block, max = 5) {
  const frames = block.stack.slice(0, max).map((f) => `${f.function} (${f.file}:${f.line}:${f.column})`);
  if (block.stack.length > max) frames.push('…');
  return frames.join(' < ') || '(empty)';
}

function verdict(groups) {
  const problems = [];
  const notes = [];
  const missing = EXPECTED.filter((e) => !groups.some((g) => g.source === e.source));
  if (missing.length) problems.push(`no block seen for: ${missing.map((e) => e.source).join(', ')}`);
  for (const e of EXPECTED) {
    for (const g of groups) {
      if (g.source === e.source && g.culprit !== e.culprit) {
        notes.push(`${e.source}: culprit ${g.culprit} in ${g.count} block(s), expected ${e.culprit}; stack: ${stackOf(g.example)}`);
      }
    }
  }
  for (const g of groups) {
    if (NOT_BLOCKING.includes(g.source)) notes.push(`${g.source} does not block, yet ${g.count} block(s) named it (culprit ${g.culprit})`);
    else if (!EXPECTED.some((e) => e.source === g.source)) notes.push(`${g.count} block(s) from ${g.source} (culprit ${g.culprit})`);
  }
  return { problems, notes };
}

// ---------------------------------------------------------------------------------------

let failure = null;
try {
  const port = await portPromise;
  console.log(`demo: service pid ${child.pid} on http://127.0.0.1:${port}, loopwatch via --require ${register.slice(root.length + 1)}`);
  console.log(`demo: ${ROUNDS} rounds of GET ${ROUTES.join(' ')}; the nightly-rollup job runs every 2 s\n`);
  await drive(port);
  await settle();
} catch (err) {
  failure = err;
}
await stopChild();
clearTimeout(hardStop);

const groups = summarize();
const seconds = ((performance.now() - t0) / 1000).toFixed(1);
console.log(`\nsummary (${blocks.filter((b) => !b.block.ongoing).length} blocks in ${seconds} s, Node ${process.version}):\n`);
if (groups.length) printTable(groups);
else console.log('(no blocks were reported)');

const { problems, notes } = verdict(groups);
if (failure) problems.unshift(failure.message);
if (notes.length) {
  console.log('\nnotes:');
  for (const n of notes) console.log(`  - ${n}`);
}
if (strict) problems.push(...notes);
if (problems.length) {
  console.error(`\ndemo FAILED: ${problems.join('; ')}`);
  if (otherStderr.length && !blocks.length) console.error('(service stderr shown above)');
  process.exit(1);
}
console.log(`\ndemo OK: every blocking route and the job were reported${strict ? ' with the expected culprit' : ''}`);
