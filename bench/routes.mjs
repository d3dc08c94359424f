// Distinct routes: N blocks, each under a route of its own, in rounds. Measured after each
// round: the process's RSS and heap (after a full GC), the block count and the label values
// on the standalone /metrics endpoint. The label sets must stay at top N + `other`, and
// memory must level off however many distinct routes went by.
//
//   node bench/routes.mjs [--routes 20000] [--rounds 10] [--block-ms 8] [--gap-ms 4] [--threshold 5] [--node PATH]
import { join } from 'node:path';
import { BENCH_DIR, benchCli, emitJson, httpGet, machineFacts, printMachine, printTable, procMemory, round, sleep, spawnNode, stopChild, waitForJsonLine } from './lib.mjs';

const HELP = 'node bench/routes.mjs [--routes N] [--rounds N] [--block-ms MS] [--gap-ms MS] [--threshold MS] [--top-n N] [--node PATH] [--agent DIR]';
const { opts, build, nodeBin } = benchCli(HELP, {
  routes: { type: 'string', default: '20000' },
  rounds: { type: 'string', default: '10' },
  'block-ms': { type: 'string', default: '8' },
  'gap-ms': { type: 'string', default: '4' },
  threshold: { type: 'string', default: '5' },
  'top-n': { type: 'string', default: '10' },
});
const facts = machineFacts(nodeBin, build);
printMachine('distinct routes: label sets and memory', facts, opts);

const metricsPort = 20000 + Math.floor(Math.random() * 20000);
const child = spawnNode({
  nodeBin, script: join(BENCH_DIR, 'routes-app.cjs'), agent: build.register, nodeFlags: ['--expose-gc'],
  env: {
    BENCH_AGENT_INDEX: join(build.register, '..', 'index.cjs'), LOOPWATCH_LOG: 'off', LOOPWATCH_THRESHOLD_MS: opts.threshold,
    LOOPWATCH_METRICS_TOP_N: opts['top-n'], LOOPWATCH_PROMETHEUS_PORT: String(metricsPort), LOOPWATCH_PROMETHEUS_HOST: '127.0.0.1',
  },
});
child.stderr.resume();
// The app is ours to stop, on error too: never leave it running.
const kill = () => child.kill('SIGKILL');
process.on('exit', kill);
const { port } = await waitForJsonLine(child, (v) => v.ready, 30_000, 'the app ready line');

const perRound = Math.round(Number(opts.routes) / Number(opts.rounds));
const rows = [];
const memory = async () => JSON.parse((await httpGet(port, '/memory')).body);
const scrape = async () => {
  const lines = (await httpGet(metricsPort, '/metrics')).body.split('\n').filter((l) => l.startsWith('loopwatch_block_duration_seconds_count'));
  const label = (l, name) => new RegExp(`${name}="([^"]*)"`).exec(l)?.[1];
  return {
    count: lines.reduce((n, l) => n + Number(l.split(' ').pop()), 0),
    routeLabels: new Set(lines.map((l) => label(l, 'route'))).size,
    culprits: new Set(lines.map((l) => label(l, 'culprit'))).size,
  };
};
// The endpoint comes up with the watchdog, a moment after the app's ready line.
for (let tries = 0; ; tries++) {
  try {
    await scrape();
    break;
  } catch (err) {
    if (tries >= 100) throw new Error(`no /metrics on port ${metricsPort} after 10 s: ${err.message}`);
    await sleep(100);
  }
}
const m0 = await memory();
rows.push({ distinct: 0, ...(await scrape()), rssMB: round(procMemory(child.pid).rss / 1024, 1), heapMB: round(m0.heapUsed / 2 ** 20, 1) });
for (let r = 1; r <= Number(opts.rounds); r++) {
  await httpGet(port, `/many?n=${perRound}&ms=${opts['block-ms']}&gap=${opts['gap-ms']}`, 600_000);
  const m = await memory();
  rows.push({ distinct: r * perRound, ...(await scrape()), rssMB: round(procMemory(child.pid).rss / 1024, 1), heapMB: round(m.heapUsed / 2 ** 20, 1) });
}
await stopChild(child);

printTable(['distinct routes so far', 'blocks counted', 'route labels', 'culprit labels', 'RSS MB', 'main heap MB'],
  rows.map((x) => [String(x.distinct), String(x.count), String(x.routeLabels), String(x.culprits), x.rssMB, x.heapMB]));
emitJson('routes', { machine: facts, params: opts, rows });
