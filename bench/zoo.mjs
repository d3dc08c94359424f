// Detection zoo: does the agent see every kind of block, name the function that ran it,
// the route it served and what the call was?
//
//   node bench/zoo.mjs [--node /path/to/node] [--reps 3] [--frameworks http,express,fastify]
//
// For each framework, bench/zoo-app.cjs runs under `--require` of the agent with
// LOOPWATCH_LOG pointing at a file (as a user would). This script requests every block kind
// `reps` times, one at a time (kind "cron" starts an interval whose callback blocks twice,
// outside the request); the app prints the truth for each block ({kind, start, end}); the
// log file is matched against it. Blocks of the app's start-up (it sizes the payloads so each
// block lasts --block-ms) are reported with kind "startup" and counted apart.
//   detected   exactly one finished line overlaps the block
//   culprit    culprit.function is the function the app ran the block in
//   route      Express/Fastify: the route template; node:http: the path (no template exists)
//   hint       a hint is present where the block is a known library call
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  BENCH_DIR, benchCli, emitJson, httpGet, machineFacts, median, max, onJsonLines, pinSelf, printMachine, printTable, round, spawnNode, stopChild, waitForJsonLine,
} from './lib.mjs';

const HELP = `usage: node bench/zoo.mjs [options]
  --agent DIR         agent build to load (a dist/ folder; default dist/, copied first)
  --node PATH         node binary for the app (default: this node)
  --reps N            requests per block kind, default 3
  --block-ms MS       length of each block, default 200
  --frameworks LIST   comma-separated: http, express, fastify (default all three)
  --context on|off    LOOPWATCH_CONTEXT, default on
  --app-cpu N         core for the app, default '' (not pinned)`;

const { opts, build, nodeBin } = benchCli(HELP, {
  reps: { type: 'string', default: '3' },
  'block-ms': { type: 'string', default: '200' },
  frameworks: { type: 'string', default: 'http,express,fastify' },
});
opts['app-cpu'] = opts['app-cpu'] === '0' ? '' : opts['app-cpu'];
pinSelf('');

const APP = join(BENCH_DIR, 'zoo-app.cjs');
const CULPRIT = {
  cpu: 'burnCpu', json: 'parseHugeJson', jsonloop: 'parseManyJson', regex: 'matchEvil', gzip: 'compressPayloads',
  pbkdf2: 'hashPasswords', readfile: 'readConfigFiles', exec: 'runShell', sleep: 'waitSync', sort: 'sortRecords',
  bcrypt: 'hashWithBcrypt', await: 'burnCpu', timer: 'deferredWork', cron: 'nightlyCron',
};
// What the block was doing (README, "How the cause is told"): every kind runs on the CPU
// except the two that sleep in the kernel. readfile reads a file from the page cache: a copy
// on the CPU, so code.
const CAUSE = Object.fromEntries(Object.keys(CULPRIT).map((k) => [k, k === 'exec' || k === 'sleep' ? 'native' : 'code']));
const LIBRARY_CALL = new Set(['json', 'jsonloop', 'regex', 'gzip', 'pbkdf2', 'readfile', 'exec', 'sleep', 'sort', 'bcrypt']);
const TEMPLATE = '/api/items/:id/:kind';

async function runFramework(framework) {
  const dir = mkdtempSync(join(tmpdir(), 'loopwatch-zoo-'));
  const logFile = join(dir, 'blocks.jsonl');
  // No flood control: the zoo counts a line per block (a starved block has no culprit, so all
  // of a route's starved blocks share one fingerprint).
  const env = { LOOPWATCH_LOG: logFile, LOOPWATCH_LOG_LIMIT: '0', LOOPWATCH_CONTEXT: opts.context, BENCH_FRAMEWORK: framework, BENCH_BLOCK_MS: opts['block-ms'] };
  const child = spawnNode({ nodeBin, script: APP, agent: build.register, env, cpu: opts['app-cpu'] });
  const truth = [];
  onJsonLines(child.stdout, (v) => {
    if (v.kind) truth.push({ ...v, framework });
  });
  const ready = waitForJsonLine(child, (v) => v.ready, 60_000, `${framework}: the app's ready line`);
  try {
    const { port, kinds } = await ready;
    for (let r = 0; r < Number(opts.reps); r++) {
      for (const kind of kinds) {
        const path = `/api/items/${r + 1}/${kind}?q=${r}`;
        const { status } = await httpGet(port, path);
        if (status !== 200) throw new Error(`${framework}: GET ${path} answered ${status}`);
        // Let the block end (timer and cron kinds) and the loop settle before the next one.
        const wait = kind === 'cron' ? 5 * Number(opts['block-ms']) : 150;
        await new Promise((res) => setTimeout(res, wait + Math.random() * 100));
      }
    }
    await new Promise((res) => setTimeout(res, 300));
  } finally {
    await stopChild(child);
  }
  const lines = readFileSync(logFile, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
  rmSync(dir, { recursive: true, force: true });
  return { truth, lines };
}

function judge(framework, truth, lines) {
  // Start-up lines (the app sizing its payloads) are counted apart: the first request can
  // arrive within the matching tolerance of their end.
  const startup = lines.filter((l) => l.block && !l.block.ongoing && l.block.context.kind === 'startup').length;
  const finished = lines.filter((l) => l.block && !l.block.ongoing && l.block.context.kind !== 'startup');
  const used = new Set();
  const results = truth.map((t) => {
    const hits = finished.filter((l) => {
      const s = Date.parse(l.block.startedAt);
      const e = s + l.block.durationMs;
      return s < t.end + 5 && e > t.start - 5;
    });
    hits.forEach((h) => used.add(h));
    const b = hits[0]?.block;
    const ctx = b?.context ?? {};
    const expectRoute = t.kind === 'cron' ? null : framework === 'http' ? null : TEMPLATE;
    const routeOk = t.kind === 'cron'
      ? ctx.kind !== 'http'
      : ctx.route === expectRoute && ctx.method === 'GET' && /^\/api\/items\/\d+\/\w+$/.test(ctx.path ?? '');
    return {
      framework, kind: t.kind, lines: hits.length, detected: hits.length === 1,
      culpritOk: b?.culprit?.function === CULPRIT[t.kind], culprit: b?.culprit?.function ?? null,
      routeOk, hint: Boolean(b?.hint), cause: b?.cause ?? null, causeOk: b?.cause === CAUSE[t.kind],
      cpuShare: b && b.cpuMs !== null ? round(b.cpuMs / b.durationMs, 2) : null, durationErr: b ? b.durationMs - (t.end - t.start) : null,
      truth: { start: new Date(t.start).toISOString(), ms: round(t.end - t.start, 1) },
      matched: hits.map((h) => ({ startedAt: h.block.startedAt, durationMs: h.block.durationMs, kind: h.block.context.kind, culprit: h.block.culprit?.function ?? null })),
    };
  });
  const falsePositives = finished.filter((l) => !used.has(l)).map((l) => ({ durationMs: l.block.durationMs, kind: l.block.context.kind, culprit: l.block.culprit?.function ?? null }));
  return { results, falsePositives, startup };
}

const facts = machineFacts(nodeBin, build);
printMachine('loopwatch detection zoo', facts, { reps: opts.reps, blockMs: opts['block-ms'], frameworks: opts.frameworks, context: opts.context });

const all = [];
const falsePositives = [];
let startupLines = 0;
for (const framework of opts.frameworks.split(',')) {
  const { truth, lines } = await runFramework(framework);
  const j = judge(framework, truth, lines);
  all.push(...j.results);
  startupLines += j.startup;
  falsePositives.push(...j.falsePositives.map((f) => ({ framework, ...f })));
}

const byKey = new Map();
for (const r of all) {
  const key = `${r.framework} ${r.kind}`;
  if (!byKey.has(key)) byKey.set(key, []);
  byKey.get(key).push(r);
}
const rows = [...byKey].map(([key, rs]) => {
  const n = rs.length;
  const count = (f) => `${rs.filter(f).length}/${n}`;
  const culprits = [...new Set(rs.map((r) => r.culprit))].join(' ');
  const causes = [...new Set(rs.map((r) => r.cause))].join(' ');
  const errs = rs.map((r) => r.durationErr).filter((x) => x !== null);
  return [key, count((r) => r.detected), count((r) => r.culpritOk), count((r) => r.routeOk),
    LIBRARY_CALL.has(rs[0].kind) ? count((r) => r.hint) : '-', errs.length ? round(median(errs), 1) : '-', count((r) => r.causeOk), causes, culprits];
});
printTable(['framework kind', 'detected', 'culprit', 'route', 'hint', 'dur err ms', 'cause', 'causes named', 'culprits named'], rows);
const total = (f) => `${all.filter(f).length}/${all.length}`;
console.log(`\nall: detected ${total((r) => r.detected)}, culprit ${total((r) => r.culpritOk)}, route ${total((r) => r.routeOk)}, ` +
  `hint ${all.filter((r) => LIBRARY_CALL.has(r.kind) && r.hint).length}/${all.filter((r) => LIBRARY_CALL.has(r.kind)).length}, cause ${total((r) => r.causeOk)}; ` +
  `start-up lines ${startupLines}; lines matching no block: ${falsePositives.length}; max |duration error| ${round(max(all.filter((r) => r.durationErr !== null).map((r) => Math.abs(r.durationErr))), 1)} ms`);
if (falsePositives.length) console.log('unmatched lines:', JSON.stringify(falsePositives));

emitJson('zoo', { machine: facts, params: { reps: Number(opts.reps), blockMs: Number(opts['block-ms']), frameworks: opts.frameworks, context: opts.context }, results: all, falsePositives, startupLines });
