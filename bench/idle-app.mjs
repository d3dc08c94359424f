// Child of bench/idle.mjs: an idle server. It listens on 127.0.0.1 and does nothing else,
// so every wake-up and every ms of CPU after startup is the agent's (or Node's own).
import http from 'node:http';
import { getHeapSpaceStatistics } from 'node:v8';
import { Worker } from 'node:worker_threads';

// Baseline for the cost of a wake-up on this machine: a no-op timer at a given period.
const timerMs = Number(process.env.BENCH_TIMER_MS ?? 0);
if (timerMs > 0) setInterval(() => {}, timerMs);

// Baseline for memory: a Worker that loads nothing and sleeps (the floor of any watchdog
// thread), kept alive by a long timer of its own, unref'd from this side like the agent's.
if (process.env.BENCH_BARE_WORKER === '1') {
  new Worker('setInterval(() => {}, 2 ** 30);', { eval: true }).unref();
}

const server = http.createServer((_req, res) => res.end('ok\n'));
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(JSON.stringify({ ready: true, pid: process.pid, agent: globalThis[Symbol.for('loopwatch.agent.v1')] !== undefined, node: process.version }) + '\n');
});
// SIGUSR2 (bench/idle.mjs, after the window): the main thread's V8 heap, per space, in kB
// committed (what the process holds for it; new space counts its semi-spaces).
process.on('SIGUSR2', () => {
  const heap = {};
  for (const s of getHeapSpaceStatistics()) heap[s.space_name.replace(/_space$/, '')] = Math.round(s.space_size / 1024);
  process.stdout.write(JSON.stringify({ heap }) + '\n');
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
