'use strict';
// The flood bench's app: one HTTP route whose handler blocks for BENCH_BLOCK_MS (a hot
// serializer), called by its own timer every BENCH_EVERY_MS for BENCH_FLOOD_MS, so the
// blocks come at a fixed rate whatever the machine. Prints {ready, pid}, then {done, blocks,
// events} with its own count of blocks (the truth) and of the monitor's 'block' events.
const http = require('node:http');
const { current } = require(process.env.BENCH_AGENT_INDEX);

const BLOCK_MS = Number(process.env.BENCH_BLOCK_MS ?? 60);
const EVERY_MS = Number(process.env.BENCH_EVERY_MS ?? 70);
const FLOOD_MS = Number(process.env.BENCH_FLOOD_MS ?? 20_000);

function serializeReport(ms) {
  const end = Date.now() + ms;
  let x = 0;
  while (Date.now() < end) x += Math.sqrt(x + 1);
  return x;
}

let blocks = 0;
let events = 0;
let started = Infinity;
current()?.on('block', (e) => {
  if (!e.ongoing && Date.parse(e.startedAt) + e.durationMs > started) events++;
});
const server = http.createServer((req, res) => {
  if (req.url === '/report') {
    blocks++;
    serializeReport(BLOCK_MS);
    res.end('ok');
  } else res.end();
});
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address();
  console.log(JSON.stringify({ ready: true, pid: process.pid, port }));
  process.once('SIGUSR2', () => {
    started = Date.now();
    const stopAt = started + FLOOD_MS;
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const fire = () => {
      if (Date.now() >= stopAt) {
        const until = Date.now() + 3000;
        const report = () => {
          if (events < blocks && Date.now() < until) setTimeout(report, 20);
          else console.log(JSON.stringify({ done: true, blocks, events }));
        };
        report();
        return;
      }
      http.get({ port, path: '/report', agent }, (res) => res.resume());
      setTimeout(fire, EVERY_MS);
    };
    fire();
  });
});
setInterval(() => {}, 1000);
