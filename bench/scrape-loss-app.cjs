'use strict';
// Child of bench/scrape-loss.mjs: prom-client's default metrics and loopwatch's collectors in
// one registry on GET /metrics; GET /block?ms=60&after=20 blocks in a timer `after` ms later
// and answers after the block. /metrics answers with x-blocks-in-interval: the blocks run
// since the previous scrape.
const http = require('node:http');
const path = require('node:path');
const client = require('prom-client');

const agentDir = process.env.BENCH_AGENT_DIR;
const { registerMetrics } = require(path.join(agentDir, 'prometheus.cjs'));
const registry = new client.Registry();
client.collectDefaultMetrics({ register: registry });
registerMetrics({ registry });

let blocksInInterval = 0;
function burnCpu(ms) {
  const end = Date.now() + ms;
  while (Date.now() < end);
}

const server = http.createServer((req, res) => {
  const url = new URL(req.url, 'http://localhost');
  if (url.pathname === '/metrics') {
    res.setHeader('x-blocks-in-interval', String(blocksInInterval));
    blocksInInterval = 0;
    registry.metrics().then((text) => res.end(text));
    return;
  }
  if (url.pathname === '/block') {
    setTimeout(() => {
      burnCpu(Number(url.searchParams.get('ms')));
      blocksInInterval++;
      res.end('ok');
    }, Number(url.searchParams.get('after') ?? 0));
    return;
  }
  res.statusCode = 404;
  res.end();
});
server.listen(0, '127.0.0.1', () => {
  console.log(JSON.stringify({ ready: true, port: server.address().port, agent: globalThis[Symbol.for('loopwatch.agent.v1')] !== undefined }));
});
process.on('SIGTERM', () => process.exit(0));
