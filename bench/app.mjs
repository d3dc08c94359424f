// The server that bench/overhead.mjs loads with autocannon. Started with nothing loaded,
// with `--require dist/register.cjs`, or with one of the bench/overhead-preload-*.cjs files
// (another tool's runtime metrics); prints {"port": n} on stdout once it listens.
//   GET /hello     plain text
//   GET /await20   awaits a chain of 20 async calls, then answers
//   GET /__stats   {cpuUs, requests, ...}: process CPU (all threads) and requests answered,
//                  read together so the bench can take deltas over its window, and what
//                  was loaded, so the bench can check each side ran what it claims
import http from 'node:http';

let requests = 0;

const pick = ({ idle, active }) => ({ idleMs: idle, activeMs: active });

async function step(n) {
  return n + 1;
}

async function await20(res) {
  let n = 0;
  for (let i = 0; i < 20; i++) n = await step(n);
  res.writeHead(200, { 'content-type': 'text/plain', 'content-length': 3 });
  res.end(n === 20 ? 'ok\n' : 'no\n');
  requests++;
}

const server = http.createServer((req, res) => {
  switch (req.url) {
    case '/hello':
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': 12 });
      res.end('hello world\n');
      requests++;
      return;
    case '/await20':
      void await20(res);
      return;
    case '/__stats': {
      const cpu = process.cpuUsage();
      const agent = globalThis[Symbol.for('loopwatch.agent.v1')];
      // Set by the preloads: { name: 'prom-client' | 'otel', scrapes }.
      const tool = globalThis[Symbol.for('loopwatch.bench.tool')];
      const body = JSON.stringify({
        cpuUs: cpu.user + cpu.system,
        requests,
        pid: process.pid,
        node: process.version,
        agent: agent !== undefined,
        context: agent ? agent.config.context : null,
        tool: tool ? tool.name : null,
        // Scrapes (prom-client) or exports (OpenTelemetry) so far.
        scrapes: tool ? tool.scrapes : null,
        // Cumulative loop idle/active ms: the bench takes deltas (is the app saturated?).
        ...pick(performance.eventLoopUtilization()),
      });
      res.writeHead(200, { 'content-type': 'application/json', connection: 'close' });
      res.end(body);
      return;
    }
    default:
      res.writeHead(404);
      res.end();
  }
});

server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(JSON.stringify({ port: server.address().port, pid: process.pid }) + '\n');
});

process.on('SIGTERM', () => {
  server.closeAllConnections?.();
  server.close(() => process.exit(0));
});
