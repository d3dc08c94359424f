'use strict';
// The routes bench's app: GET /many?n=&ms=&gap= runs n short blocks, each inside its own
// route /r/<i> (run() of the measured agent), one every ms + gap; GET /memory answers
// process.memoryUsage() after a full GC (the app runs with --expose-gc). Prints {ready, port}.
const http = require('node:http');
const { run } = require(process.env.BENCH_AGENT_INDEX);

function renderPage(ms) {
  const end = Date.now() + ms;
  let x = 0;
  while (Date.now() < end) x += Math.sqrt(x + 1);
  return x;
}

let next = 0;
function many(n, ms, gap, done) {
  let left = n;
  const step = () => {
    if (left-- <= 0) return done();
    run({ kind: 'http', route: `/r/${next++}` }, () => renderPage(ms));
    setTimeout(step, gap);
  };
  step();
}

const server = http.createServer((req, res) => {
  const url = new URL(req.url, 'http://localhost');
  const num = (k, d) => Number(url.searchParams.get(k) ?? d);
  if (url.pathname === '/many') many(num('n', 1000), num('ms', 8), num('gap', 4), () => res.end('ok'));
  else if (url.pathname === '/memory') {
    globalThis.gc?.();
    res.end(JSON.stringify(process.memoryUsage()));
  } else res.end();
});
server.listen(0, '127.0.0.1', () => console.log(JSON.stringify({ ready: true, port: server.address().port })));
