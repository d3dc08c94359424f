// Shared helpers for the bench scripts: machine facts, child processes pinned with
// taskset, /proc readers, statistics and output (a readable table plus one JSON line).
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

export const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
export const ROOT = resolve(BENCH_DIR, '..');
export const PROBE_KEY_NAME = 'loopwatch.probe.v1';
/** Where each run leaves its readable output, for docs/performance.md to quote. */
export const RESULTS_DIR = join(BENCH_DIR, 'results');

// The readable output of this run (everything printed through console.log from the machine
// header on), kept for its results file: the figures the docs quote are the ones printed.
const printed = [];
let capturing = false;
const consoleLog = console.log.bind(console);
console.log = (...args) => {
  consoleLog(...args);
  if (capturing) printed.push(args.map((a) => (typeof a === 'string' ? a : JSON.stringify(a))).join(' '));
};
let resultsName = null;

function git(args) {
  try {
    return execFileSync('git', args, { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return null;
  }
}

/**
 * The agent build the bench measures. dist/ is copied to .bench-out/agent-<hash>/ (inside
 * the repo, so `pino` still resolves from node_modules) and the copy is what the children
 * load: a rebuild of dist/ during a long run cannot mix two builds into one result.
 * `--agent DIR` measures another build (a dist/ folder) instead.
 */
export function agentBuild(distDir = join(ROOT, 'dist')) {
  const dist = resolve(distDir);
  if (!existsSync(join(dist, 'register.cjs'))) {
    console.error(`bench: ${join(dist, 'register.cjs')} is missing; run \`npm run build\` first`);
    process.exit(2);
  }
  const hash = createHash('sha256');
  for (const f of ['register.cjs', join('watchdog', 'worker.cjs')]) {
    if (existsSync(join(dist, f))) hash.update(readFileSync(join(dist, f)));
  }
  const sha = hash.digest('hex').slice(0, 12);
  const copy = join(ROOT, '.bench-out', `agent-${sha}`);
  if (!existsSync(join(copy, 'register.cjs'))) {
    mkdirSync(copy, { recursive: true });
    cpSync(dist, copy, { recursive: true });
  }
  const status = git(['status', '--porcelain', '--', 'src']);
  return {
    register: join(copy, 'register.cjs'),
    distSha: sha,
    distBuiltAt: statSync(join(dist, 'register.cjs')).mtime.toISOString(),
    commit: git(['rev-parse', '--short', 'HEAD']),
    srcDirty: status === null ? null : status.length > 0,
  };
}

/** Clock ticks per second for /proc/<pid>/stat (100 on Linux x64). */
export const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** Unix epoch milliseconds on the monotonic clock; the children use the same formula. */
export const epochNow = () => performance.timeOrigin + performance.now();

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export function nodeVersion(nodeBin) {
  return execFileSync(nodeBin, ['--version'], { encoding: 'utf8' }).trim();
}

function affinity() {
  try {
    return /^Cpus_allowed_list:\s*(.+)$/m.exec(readFileSync('/proc/self/status', 'utf8'))[1];
  } catch {
    return null;
  }
}

/** What the numbers were measured on (and which agent build, when given). */
export function machineFacts(nodeBin, build) {
  let cpuModel = 'unknown';
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    if (m) cpuModel = m[1].trim();
  } catch {
    // Not Linux.
  }
  let mhz = null;
  try {
    const m = /^cpu MHz\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    if (m) mhz = Math.round(Number(m[1]));
  } catch {
    // Not Linux.
  }
  return {
    date: new Date().toISOString(),
    cpuModel,
    cpuMHz: mhz,
    cores: os.cpus().length,
    // What this process may use (taskset): a pinned bench reports its core here.
    affinity: affinity(),
    kernel: `${os.type()} ${os.release()}`,
    memTotalMB: Math.round(os.totalmem() / 2 ** 20),
    loadavg: os.loadavg().map((x) => Math.round(x * 100) / 100),
    node: nodeVersion(nodeBin),
    nodeBin,
    runnerNode: process.version,
    agent: build ? { distSha: build.distSha, distBuiltAt: build.distBuiltAt, commit: build.commit, srcDirty: build.srcDirty } : null,
  };
}

export function printMachine(title, facts, params) {
  capturing = true;
  console.log(`# ${title}`);
  console.log(`date       ${facts.date}`);
  console.log(`cpu        ${facts.cpuModel}${facts.cpuMHz ? ` @ ${facts.cpuMHz} MHz` : ''}, ${facts.cores} cores, ${facts.memTotalMB} MB`);
  console.log(`kernel     ${facts.kernel}, loadavg ${facts.loadavg.join(' ')}`);
  console.log(`node       ${facts.node} (${facts.nodeBin}); runner ${facts.runnerNode}`);
  if (facts.agent) {
    const a = facts.agent;
    console.log(`agent      dist ${a.distSha} built ${a.distBuiltAt}, commit ${a.commit}${a.srcDirty ? ' + uncommitted src changes' : ''}`);
  }
  console.log(`params     ${Object.entries(params).map(([k, v]) => `${k}=${v}`).join(' ')}`);
  console.log('');
}

/** Pins this (the measuring) process to a core so it stays off the app's core. */
export function pinSelf(cpu) {
  if (cpu === '' || cpu == null) return false;
  const r = spawnSync('taskset', ['-a', '-cp', String(cpu), String(process.pid)], { encoding: 'utf8' });
  return r.status === 0;
}

/** Resolves --node (default: this process's node) and checks it runs. */
export function resolveNode(value) {
  const bin = value ? resolve(value) : process.execPath;
  try {
    nodeVersion(bin);
  } catch (err) {
    console.error(`bench: --node ${bin} does not run: ${err.message}`);
    process.exit(2);
  }
  return bin;
}

/**
 * Starts `node [--require register] script` pinned to `cpu` with taskset. `agent` is the
 * register entry's path, or null to leave the agent out entirely (not just disabled).
 */
export function spawnNode({ nodeBin, script, args = [], agent, env = {}, cpu, nodeFlags = [] }) {
  const nodeArgs = [...nodeFlags];
  if (agent) nodeArgs.push('--require', agent);
  nodeArgs.push(script, ...args);
  const childEnv = { ...process.env, ...env };
  delete childEnv.NODE_OPTIONS;
  const cmd = cpu === '' || cpu == null ? nodeBin : 'taskset';
  const argv = cpu === '' || cpu == null ? nodeArgs : ['-c', String(cpu), nodeBin, ...nodeArgs];
  return spawn(cmd, argv, { env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Calls `onLine(line, arrivalEpochMs)` for each complete line of a stream. */
export function onLines(stream, onLine) {
  let buf = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk) => {
    const at = epochNow();
    buf += chunk;
    let i;
    while ((i = buf.indexOf('\n')) !== -1) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      onLine(line, at);
    }
  });
}

/** Calls `onJson(value, arrivalEpochMs)` for each line of a stream that parses as JSON. */
export function onJsonLines(stream, onJson) {
  onLines(stream, (line, at) => {
    let v;
    try {
      v = JSON.parse(line);
    } catch {
      return;
    }
    onJson(v, at);
  });
}

/** Resolves with the first stdout line that parses as JSON and passes `test`. */
export function waitForJsonLine(child, test, timeoutMs = 10_000, what = 'child output') {
  return new Promise((resolvePromise, reject) => {
    const t = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)), timeoutMs);
    const onExit = (code) => {
      clearTimeout(t);
      reject(new Error(`child exited (code ${code}) before ${what}`));
    };
    child.once('exit', onExit);
    onJsonLines(child.stdout, (v) => {
      if (test(v)) {
        clearTimeout(t);
        child.off('exit', onExit);
        resolvePromise(v);
      }
    });
  });
}

export function stopChild(child, signal = 'SIGTERM', timeoutMs = 3000) {
  return new Promise((resolvePromise) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolvePromise();
    const t = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('exit', () => {
      clearTimeout(t);
      resolvePromise();
    });
    child.kill(signal);
  });
}

/** GET http://127.0.0.1:port/path with a fresh connection (no keep-alive pool): { status, body }. */
export function httpGet(port, path, timeoutMs = 10_000) {
  return new Promise((resolvePromise, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (body += c));
      res.on('end', () => resolvePromise({ status: res.statusCode, body }));
    });
    req.on('error', reject);
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`GET ${path} timed out`)));
  });
}

/** GET http://127.0.0.1:port/path as JSON. */
export async function getJson(port, path) {
  return JSON.parse((await httpGet(port, path, 5000)).body);
}

/** utime + stime of the whole process (all threads), in ms; 10 ms resolution. */
export function procCpuMs(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name, which may contain spaces: ") S ppid ...".
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(rest[11]);
  const stime = Number(rest[12]);
  return ((utime + stime) * 1000) / CLK_TCK;
}

/**
 * Busy CPU time of the whole machine (all cores, all processes), in ms, from /proc/stat.
 * Minus what the bench's own processes used, it shows what else ran during a window:
 * other sessions' tests on a shared VM are the largest source of noise here.
 */
export function systemBusyMs() {
  const cpu = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal guest guest_nice
  const busy = cpu[0] + cpu[1] + cpu[2] + cpu[5] + cpu[6] + cpu[7];
  return (busy * 1000) / CLK_TCK;
}

function readStatus(path) {
  const out = {};
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    const i = line.indexOf(':');
    if (i > 0) out[line.slice(0, i)] = line.slice(i + 1).trim();
  }
  return out;
}

const kB = (v) => (v ? Number(v.split(/\s+/)[0]) : 0);

/** RSS breakdown of a process, in kB. */
export function procMemory(pid) {
  const s = readStatus(`/proc/${pid}/status`);
  return { rss: kB(s.VmRSS), anon: kB(s.RssAnon), file: kB(s.RssFile), shmem: kB(s.RssShmem), threads: Number(s.Threads) };
}

/**
 * Per-thread CPU (ns, from schedstat: exact, unlike the 10 ms ticks of /proc/<pid>/stat) and
 * context switches. A voluntary switch is a thread going to sleep, so its rate is the
 * thread's wake-up rate.
 */
export function procThreads(pid) {
  const threads = new Map();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const base = `/proc/${pid}/task/${tid}`;
      const comm = readFileSync(`${base}/comm`, 'utf8').trim();
      const runNs = Number(readFileSync(`${base}/schedstat`, 'utf8').split(' ')[0]);
      const s = readStatus(`${base}/status`);
      threads.set(tid, { tid, comm, runNs, voluntary: Number(s.voluntary_ctxt_switches), involuntary: Number(s.nonvoluntary_ctxt_switches) });
    } catch {
      // The thread ended between readdir and read.
    }
  }
  return threads;
}

/** Differences between two procThreads() snapshots, by thread. */
export function threadDeltas(before, after) {
  const rows = [];
  for (const [tid, a] of after) {
    const b = before.get(tid) ?? { runNs: 0, voluntary: 0, involuntary: 0 };
    rows.push({ tid, comm: a.comm, runMs: (a.runNs - b.runNs) / 1e6, voluntary: a.voluntary - b.voluntary, involuntary: a.involuntary - b.involuntary, isNew: !before.has(tid) });
  }
  return rows;
}

// ---------------------------------------------------------------- statistics

export function quantile(values, q) {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  const pos = (v.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return v[lo] + (v[hi] - v[lo]) * (pos - lo);
}
export const median = (values) => quantile(values, 0.5);
export const max = (values) => values.reduce((m, x) => (x > m ? x : m), -Infinity);
export const min = (values) => values.reduce((m, x) => (x < m ? x : m), Infinity);
export const mean = (values) => values.reduce((s, x) => s + x, 0) / values.length;

export function round(x, digits = 3) {
  if (!Number.isFinite(x)) return x;
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

// ---------------------------------------------------------------- output

/** Prints rows (arrays of cells) as an aligned table with a header. */
export function printTable(header, rows) {
  const cells = [header, ...rows].map((r) => r.map((c) => (typeof c === 'number' ? fmt(c) : String(c))));
  const widths = header.map((_, i) => Math.max(...cells.map((r) => r[i].length)));
  const line = (r) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  console.log(line(cells[0]));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const r of cells.slice(1)) console.log(line(r));
  console.log('');
}

export function fmt(x) {
  if (!Number.isFinite(x)) return String(x);
  const a = Math.abs(x);
  if (a >= 1000) return x.toFixed(0);
  if (a >= 100) return x.toFixed(1);
  if (a >= 10) return x.toFixed(2);
  return x.toFixed(3);
}

export const verdict = (ok) => (ok ? 'MET' : 'NOT MET');

/**
 * The machine-readable result: one JSON line on stdout, and a copy under .bench-out/
 * (git-ignored) named after the bench, the Node version and the time.
 */
export function emitJson(name, doc) {
  const line = JSON.stringify({ bench: name, ...doc });
  capturing = false;
  console.log(line);
  saveResults(name, doc.machine);
  try {
    const dir = join(ROOT, '.bench-out');
    mkdirSync(dir, { recursive: true });
    const stamp = doc.machine.date.replace(/[:.]/g, '-');
    const file = join(dir, `${name}-${doc.machine.node}-${stamp}.json`);
    writeFileSync(file, line + '\n');
    console.error(`bench: result saved to ${file}`);
  } catch (err) {
    console.error(`bench: could not save the result: ${err.message}`);
  }
}

/**
 * bench/results/<name>-node<major>.md (or the --results name): the command and what it
 * printed. docs/performance.md quotes these files (scripts/bench-docs.mjs copies them in; a
 * test fails when a quote is stale).
 */
function saveResults(name, machine) {
  while (printed.length > 0 && printed.at(-1).trim() === '') printed.pop();
  const major = /^v(\d+)/.exec(machine.node ?? '')?.[1] ?? 'x';
  const file = join(RESULTS_DIR, `${resultsName ?? `${name}-node${major}`}.md`);
  const args = process.argv.slice(2).filter((a, i, all) => a !== '--results' && all[i - 1] !== '--results');
  const text = [
    `# bench/${name}.mjs on Node ${machine.node}`,
    '',
    `\`node bench/${name}.mjs${args.length ? ` ${args.join(' ')}` : ''}\`, ${machine.date}`,
    '',
    '```text',
    ...printed,
    '```',
    '',
  ].join('\n');
  try {
    mkdirSync(RESULTS_DIR, { recursive: true });
    writeFileSync(file, text);
    console.error(`bench: readable result written to ${file}`);
  } catch (err) {
    console.error(`bench: could not write ${file}: ${err.message}`);
  }
}

/**
 * Command line of a bench script: the options every script shares (--node, --agent,
 * --context, --app-cpu, --help) plus its own. Prints `help` and exits on --help; checks
 * --context. Returns the options, the agent build and the node binary.
 */
export function benchCli(help, options) {
  const { values: opts } = parseArgs({
    options: {
      node: { type: 'string' },
      agent: { type: 'string' },
      context: { type: 'string', default: 'on' },
      'app-cpu': { type: 'string', default: '0' },
      results: { type: 'string' },
      help: { type: 'boolean', default: false },
      ...options,
    },
  });
  if (opts.help) {
    console.log(`${help}\n  --results NAME     results file bench/results/NAME.md (default: <bench>-node<major>)`);
    process.exit(0);
  }
  if (opts.results !== undefined) {
    if (!/^[\w.-]+$/.test(opts.results)) {
      console.error(`bench: --results must be a file name (letters, digits, . _ -), got ${JSON.stringify(opts.results)}`);
      process.exit(2);
    }
    resultsName = opts.results;
  }
  if (!['on', 'off'].includes(opts.context)) {
    console.error(`bench: --context must be on or off, got ${opts.context}`);
    process.exit(2);
  }
  return { opts, build: agentBuild(opts.agent), nodeBin: resolveNode(opts.node) };
}
