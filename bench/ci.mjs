// CI mode: what `loopwatch run --fail-on-block` adds to a test run, and whether it catches
// the block. For each runner (node --test, vitest), on copies of the test/fixtures/cli
// projects (one test runs pbkdf2Sync in a loop for ~150 ms):
// - the wall time of the test command alone and under `loopwatch run`, in A/B pairs
//   (fresh processes, the order alternating), median over --rounds;
// - how many runs under loopwatch failed naming the blocking test (detected), and how
//   many runs of the project without that test failed anyway (false failures).
//
//   node bench/ci.mjs [--rounds 7] [--budget 100] [--node PATH]
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { benchCli, emitJson, machineFacts, median, printMachine, printTable, ROOT, round } from './lib.mjs';

const HELP = `node bench/ci.mjs [--rounds N] [--budget MS] [--node PATH] [--agent DIR]

Wall time of node --test and vitest runs alone and under loopwatch run --fail-on-block, in
A/B pairs, and how often CI mode caught the blocking test (and failed a clean project).`;

const { opts, build, nodeBin } = benchCli(HELP, { rounds: { type: 'string', default: '7' }, budget: { type: 'string', default: '100' } });
const rounds = Number(opts.rounds);
const budget = Number(opts.budget);
const cli = join(dirname(build.register), 'cli.cjs');

function project(name, withBlock) {
  const dir = mkdtempSync(join(tmpdir(), 'loopwatch-bench-ci-'));
  cpSync(join(ROOT, 'test', 'fixtures', 'cli', name), dir, { recursive: true, filter: (src) => !src.includes('node_modules') });
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir');
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'bench-project', private: true, type: 'module' }));
  if (!withBlock) rmSync(join(dir, 'hash.test.mjs'));
  return dir;
}

const env = { ...process.env, NO_COLOR: '1' };
for (const k of Object.keys(env)) if (/^(LOOPWATCH_|VITEST|NODE_OPTIONS$|NODE_TEST_CONTEXT$)/.test(k)) delete env[k];
env.PATH = `${join(nodeBin, '..')}:${env.PATH}`;

function timed(cmd, args, cwd) {
  const t0 = performance.now();
  const r = spawnSync(cmd, args, { cwd, env, encoding: 'utf8', timeout: 120_000 });
  return { ms: performance.now() - t0, code: r.status, stderr: r.stderr ?? '' };
}

const RUNNERS = [
  { name: 'node --test', project: 'node-test-project', command: [nodeBin, '--test'] },
  { name: 'vitest run', project: 'vitest-project', command: ['npx', 'vitest', 'run'] },
];

printMachine('loopwatch run --fail-on-block: cost and detection', machineFacts(nodeBin, build), { rounds, budget });
const results = [];
for (const runner of RUNNERS) {
  const blocking = project(runner.project, true);
  const clean = project(runner.project, false);
  const plain = [];
  const watched = [];
  let detected = 0;
  let falseFailures = 0;
  try {
    for (let i = 0; i < rounds; i++) {
      const a = () => plain.push(timed(runner.command[0], runner.command.slice(1), blocking).ms);
      const b = () => {
        const r = timed(nodeBin, [cli, 'run', `--fail-on-block=${budget}`, '--quiet', '--', ...runner.command], blocking);
        watched.push(r.ms);
        if (r.code === 3 && /test hash\.test\.mjs > passwords > hashes them on the loop/.test(r.stderr)) detected++;
      };
      if (i % 2 === 0) { a(); b(); } else { b(); a(); }
      const c = timed(nodeBin, [cli, 'run', `--fail-on-block=${budget}`, '--quiet', '--', ...runner.command], clean);
      if (c.code !== 0) falseFailures++;
    }
  } finally {
    rmSync(blocking, { recursive: true, force: true });
    rmSync(clean, { recursive: true, force: true });
  }
  results.push({
    runner: runner.name,
    plainMs: round(median(plain), 0),
    watchedMs: round(median(watched), 0),
    ratio: round(median(watched) / median(plain), 2),
    detected: `${detected}/${rounds}`,
    falseFailures: `${falseFailures}/${rounds}`,
  });
}
printTable(['runner', 'alone ms', 'loopwatch run ms', 'ratio', 'detected', 'false failures'],
  results.map((r) => [r.runner, r.plainMs, r.watchedMs, r.ratio, r.detected, r.falseFailures]));
emitJson('ci', { machine: machineFacts(nodeBin, build), params: { rounds, budget }, results });
