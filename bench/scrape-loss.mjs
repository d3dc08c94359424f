// Blocks next to a scrape: how many a max-delay gauge that resets at every scrape misses
// (prom-client's nodejs_eventloop_lag_max_seconds; the OpenTelemetry runtime metrics reset
// the same way), and how many loopwatch counts.
//
//   node bench/scrape-loss.mjs [--rounds 5] [--blocks 50] [--block-ms 60]
//
// Each round starts a fresh service (bench/scrape-loss-app.cjs: prom-client's default metrics
// and loopwatch's collectors in one registry) and sends --blocks requests that block in a
// timer 0–40 ms later, each with a scrape at a random moment before, during or after the
// block, over one kept-alive connection as Prometheus scrapes. The service tells, with each
// scrape, how many blocks ran since the previous one: an interval with a block whose
// lag_max stays under 0.75 × the block is a lost block.
import { Agent, get } from 'node:http';
import { dirname, join } from 'node:path';
import {
  BENCH_DIR, benchCli, emitJson, machineFacts, printMachine, printTable, round, sleep, spawnNode, stopChild,
  waitForJsonLine,
} from './lib.mjs';

const HELP = `usage: node bench/scrape-loss.mjs [options]
  --agent DIR      agent build to load (a dist/ folder; default dist/, copied first)
  --node PATH      node binary for the service (default: this node)
  --rounds N       fresh services, default 5
  --blocks N       blocks per round, default 50
  --block-ms MS    length of each block, default 60 (the threshold is 50)
  --app-cpu N      core for the service, default 0 ('' = not pinned)`;

const { opts, build, nodeBin } = benchCli(HELP, {
  rounds: { type: 'string', default: '5' },
  blocks: { type: 'string', default: '50' },
  'block-ms': { type: 'string', default: '60' },
});
const sum = (values) => values.reduce((s, x) => s + x, 0);
const rounds = Number(opts.rounds);
const blocks = Number(opts.blocks);
const blockMs = Number(opts['block-ms']);

function request(port, path, agent) {
  return new Promise((resolve, reject) => {
    const req = get({ host: '127.0.0.1', port, path, agent: agent ?? false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ body, headers: res.headers }));
    });
    req.setTimeout(10_000, () => req.destroy(new Error(`GET ${path}: no answer`)));
    req.on('error', reject);
  });
}

/** Sum of the samples of `name` whose label text contains `match`. */
function value(body, name, match = '') {
  let total = 0;
  for (const line of body.split('\n')) {
    if (!line.startsWith(name) || (line[name.length] !== ' ' && line[name.length] !== '{')) continue;
    if (match && !line.includes(match)) continue;
    total += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return total;
}

const machine = machineFacts(nodeBin, build);
const params = { rounds, blocks, blockMs };
printMachine('blocks next to a scrape: prom-client lag_max vs loopwatch', machine, params);

const results = [];
for (let r = 0; r < rounds; r++) {
  const child = spawnNode({ nodeBin, script: join(BENCH_DIR, 'scrape-loss-app.cjs'), agent: build.register, env: { BENCH_AGENT_DIR: dirname(build.register), LOOPWATCH_LOG: 'off' }, cpu: opts['app-cpu'] });
  try {
    const { port } = await waitForJsonLine(child, (v) => v.ready === true, 10_000, 'the service');
    await sleep(1000); // the watchdog boots
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const first = await request(port, '/metrics', agent);
    const countBefore = value(first.body, 'loopwatch_block_duration_seconds_count');
    const intervals = [];
    for (let i = 0; i < blocks; i++) {
      const after = Math.round(Math.random() * 40);
      const offset = Math.round(Math.random() * (after + blockMs + 40));
      const block = request(port, `/block?ms=${blockMs}&after=${after}`);
      await sleep(offset);
      const [s] = await Promise.all([request(port, '/metrics', agent), block]);
      intervals.push({ blocks: Number(s.headers['x-blocks-in-interval']), lagMax: value(s.body, 'nodejs_eventloop_lag_max_seconds') });
      await sleep(Math.random() * 60);
    }
    await sleep(200);
    const last = await request(port, '/metrics', agent);
    intervals.push({ blocks: Number(last.headers['x-blocks-in-interval']), lagMax: value(last.body, 'nodejs_eventloop_lag_max_seconds') });
    agent.destroy();
    const withBlock = intervals.filter((x) => x.blocks > 0);
    const seen = withBlock.filter((x) => x.lagMax >= (0.75 * blockMs) / 1e3);
    const counted = value(last.body, 'loopwatch_block_duration_seconds_count') - countBefore;
    results.push({ round: r + 1, intervalsWithBlock: withBlock.length, promSeen: seen.length, promLost: withBlock.length - seen.length, loopwatchCounted: counted });
    process.stderr.write(`round ${r + 1}/${rounds}: prom-client missed ${withBlock.length - seen.length} of ${withBlock.length} intervals with a block; loopwatch counted ${counted} of ${blocks} blocks\n`);
  } finally {
    await stopChild(child);
  }
}

printTable(['round', 'intervals with a block', 'prom-client saw', 'prom-client lost', `loopwatch counted (of ${blocks})`],
  results.map((x) => [String(x.round), String(x.intervalsWithBlock), String(x.promSeen), String(x.promLost), String(x.loopwatchCounted)]));
const totalIntervals = sum(results.map((x) => x.intervalsWithBlock));
const totalLost = sum(results.map((x) => x.promLost));
const summary = {
  intervalsWithBlock: totalIntervals,
  promLost: totalLost,
  promLostPct: round((100 * totalLost) / totalIntervals, 1),
  loopwatchCounted: sum(results.map((x) => x.loopwatchCounted)),
  blocks: rounds * blocks,
};
console.log(`prom-client lag_max missed ${summary.promLost} of ${summary.intervalsWithBlock} intervals with a block (${summary.promLostPct} %); loopwatch counted ${summary.loopwatchCounted} of ${summary.blocks} blocks`);
emitJson('scrape-loss', { machine, params, summary, rounds: results });
