// The prom-client side of bench/overhead.mjs, loaded with `--require` into bench/app.mjs:
// the default metrics on a registry, as most services run them, and registry.metrics()
// every BENCH_SCRAPE_MS (15 s, a common Prometheus scrape interval) in process, which is
// what a scrape costs the app minus the HTTP request. Prints nothing: the app's stdout
// carries its port.
'use strict';
const { Registry, collectDefaultMetrics } = require('prom-client');

const register = new Registry();
collectDefaultMetrics({ register });

// Read by bench/app.mjs's /__stats, so the bench can check this side ran prom-client and
// see whether a scrape fell into its window.
const tool = { name: 'prom-client', scrapes: 0 };
globalThis[Symbol.for('loopwatch.bench.tool')] = tool;

setInterval(() => {
  register.metrics().then(
    () => tool.scrapes++,
    (err) => process.emitWarning(`bench prom-client scrape failed: ${err.message}`),
  );
}, Number(process.env.BENCH_SCRAPE_MS) || 15_000).unref();
