'use strict';
// Child of bench/ledger-cost.mjs: what the context subscribers cost per request, without
// a network in the way. Each iteration is the part of a node:http request the context
// modes touch: a request and a response object, the `http.server.request.start` message
// published before 'request', and `http.server.response.finish` after the response, each
// published only when the channel has subscribers (as node:http does). With no agent, or
// with LOOPWATCH_CONTEXT=off, nobody subscribes and the iteration is the objects alone.
//
// stdout: one JSON line {"nsPerRequest":…, "iterations":…, "inFlight":…}.
const diagnosticsChannel = require('node:diagnostics_channel');

const ITERATIONS = Number(process.env.BENCH_ITERATIONS ?? 300_000);
/** Requests kept in flight at once (a server with this many concurrent requests). */
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 10);

const start = diagnosticsChannel.channel('http.server.request.start');
const finish = diagnosticsChannel.channel('http.server.response.finish');
const server = {};

function request(i) {
  const socket = { destroyed: false };
  const req = { socket, method: 'GET', url: `/items/${i % 100}`, headers: {} };
  const res = { req, socket, statusCode: 200 };
  return { req, res, socket };
}

/** Requests per turn of the loop: a few ms, well under the agent's threshold (no block, no capture). */
const CHUNK = 5_000;

/**
 * Runs n requests, CONCURRENCY at a time (a ring of open ones), CHUNK per turn of the event
 * loop, and resolves with the CPU ns used.
 */
async function runFor(n) {
  const open = new Array(CONCURRENCY).fill(null);
  const before = process.cpuUsage();
  for (let base = 0; base < n; base += CHUNK) {
    const end = Math.min(n, base + CHUNK);
    for (let i = base; i < end; i++) {
      const slot = i % CONCURRENCY;
      const done = open[slot];
      if (done !== null && finish.hasSubscribers) finish.publish({ request: done.req, response: done.res, socket: done.socket, server });
      const r = request(i);
      if (start.hasSubscribers) start.publish({ request: r.req, response: r.res, socket: r.socket, server });
      open[slot] = r;
    }
    await new Promise((resolve) => setImmediate(resolve));
  }
  for (const done of open) {
    if (done !== null && finish.hasSubscribers) finish.publish({ request: done.req, response: done.res, socket: done.socket, server });
  }
  const used = process.cpuUsage(before);
  return (used.user + used.system) * 1000;
}

// Warm-up (the optimizing compiler and the heap's sizes), then the measured run.
(async () => {
  await runFor(Math.min(50_000, ITERATIONS));
  const ns = await runFor(ITERATIONS);
  process.stdout.write(`${JSON.stringify({ nsPerRequest: ns / ITERATIONS, iterations: ITERATIONS, inFlight: CONCURRENCY, subscribed: start.hasSubscribers })}\n`);
})();
