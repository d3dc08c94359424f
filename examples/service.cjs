'use strict';
// A small node:http service whose routes block the event loop in different ways, each in
// one clearly named function, so loopwatch's block lines can be checked against the code.
//
//   node --require ./dist/register.cjs examples/service.cjs
//
// Plain CommonJS on purpose: it runs with --require and no build step.
// Every blocking function works until a deadline read with Date.now() (a V8 builtin with no
// JavaScript frame of its own) so each block lasts about BLOCK_MS on any machine.

const crypto = require('node:crypto');
const fs = require('node:fs');
const http = require('node:http');
const os = require('node:os');
const path = require('node:path');
const { setTimeout: sleep } = require('node:timers/promises');

// The package's own CJS build. run() works whether or not the agent has started.
const { run } = require('../dist/index.cjs');

const BLOCK_MS = 150;
const JOB_BLOCK_MS = 80;
const JOB_EVERY_MS = 2000;
/** Longest wait GET /block accepts: long enough to hold the loop past a stuck-loop alert. */
const MAX_WAIT_MS = 30_000;

// ---------------------------------------------------------------------------------------
// Data the blocking routes work on, made once at startup in small steps (each well under
// the 50 ms threshold, so startup itself is not reported).

/** A report of ~20 000 rows as a JSON string (~1.5 MB). */
function makeReportJson() {
  const rows = [];
  for (let i = 0; i < 20_000; i++) {
    rows.push({ id: i, sku: `SKU-${i}`, qty: i % 7, price: (i % 100) + 0.99, tags: ['a', 'b'] });
  }
  return JSON.stringify({ generatedAt: new Date().toISOString(), rows });
}

const tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), 'loopwatch-demo-'));
const templateFile = path.join(tmpDir, 'templates.html');
fs.writeFileSync(templateFile, '<div class="invoice">{{line}}</div>\n'.repeat(50_000)); // ~1.8 MB
const reportJson = makeReportJson();
const prices = Array.from({ length: 10_000 }, (_, i) => 10 + (i % 90));

// ---------------------------------------------------------------------------------------
// The blocking functions. Each is what loopwatch should name as the culprit.

/** /cpu: pure JavaScript arithmetic in a hot loop. */
function computeDiscounts(deadline) {
  let total = 0;
  while (Date.now() < deadline) {
    for (let i = 0; i < prices.length; i++) {
      const p = prices[i];
      total += p > 50 ? p * 0.9 : Math.sqrt(p) * Math.log(p + 1);
    }
  }
  return Math.round(total);
}

/** /json: JSON.parse of a large string, again and again. */
function parseReport(deadline) {
  let rows = 0;
  while (Date.now() < deadline) {
    const report = JSON.parse(reportJson);
    rows += report.rows.length;
  }
  return rows;
}

/** /hash: synchronous key derivation. */
function hashPassword(deadline) {
  let last = null;
  while (Date.now() < deadline) {
    last = crypto.pbkdf2Sync('correct horse battery staple', 'salt', 20_000, 64, 'sha512');
  }
  return last ? last.toString('hex').slice(0, 16) : '';
}

/** /file: synchronous file reads. */
function loadTemplates(deadline) {
  let bytes = 0;
  while (Date.now() < deadline) {
    bytes += fs.readFileSync(templateFile, 'utf8').length;
  }
  return bytes;
}

/** /after-await: blocks after the handler has gone through several awaits. */
function renderInvoice(deadline) {
  let html = '';
  let n = 0;
  while (Date.now() < deadline) {
    html = `<tr><td>${n}</td><td>${(n * 1.07).toFixed(2)}</td></tr>`;
    n++;
  }
  return { lines: n, last: html.length };
}

/** /timer: runs in a setTimeout callback that the handler scheduled. */
function flushMetricsBuffer(deadline) {
  const buffer = [];
  while (Date.now() < deadline) {
    buffer.push(`requests_total{route="/timer"} ${buffer.length}`);
    if (buffer.length > 10_000) buffer.length = 0;
  }
  return buffer.length;
}

/**
 * /block?ms=N: holds the thread in a synchronous wait for N ms, as a lock or an execSync
 * would, without burning CPU (the dashboards' end-to-end test uses it to page on long
 * and stuck blocks). Short waits in a loop, so the thread comes back to JavaScript often
 * and loopwatch's stack samples are served during the block.
 */
const lockCell = new Int32Array(new SharedArrayBuffer(4));
function waitForLock(deadline) {
  let waits = 0;
  for (let left = deadline - Date.now(); left > 0; left = deadline - Date.now()) {
    Atomics.wait(lockCell, 0, 0, Math.min(left, 10));
    waits++;
  }
  return waits;
}

/** The nightly-rollup job, run every JOB_EVERY_MS with run({ kind: 'job' }). */
function rollupDailyTotals(deadline) {
  const totals = new Map();
  let i = 0;
  while (Date.now() < deadline) {
    const day = i % 365;
    totals.set(day, (totals.get(day) ?? 0) + prices[i % prices.length]);
    i++;
  }
  return totals.size;
}

// ---------------------------------------------------------------------------------------
// Routes.

function send(res, status, body) {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

async function fetchCustomer(id) {
  await sleep(5);
  return { id, name: 'ACME' };
}

async function fetchLines() {
  await Promise.resolve();
  await sleep(5);
  return [1, 2, 3];
}

const routes = {
  '/ok': (_req, res) => send(res, 200, { ok: true }),
  '/cpu': (_req, res) => send(res, 200, { total: computeDiscounts(Date.now() + BLOCK_MS) }),
  '/json': (_req, res) => send(res, 200, { rows: parseReport(Date.now() + BLOCK_MS) }),
  '/hash': (_req, res) => send(res, 200, { hash: hashPassword(Date.now() + BLOCK_MS) }),
  '/file': (_req, res) => send(res, 200, { bytes: loadTemplates(Date.now() + BLOCK_MS) }),
  '/after-await': async (_req, res) => {
    const [customer, lines] = await Promise.all([fetchCustomer(42), fetchLines()]);
    await sleep(5);
    const invoice = renderInvoice(Date.now() + BLOCK_MS);
    send(res, 200, { customer: customer.name, lines: lines.length, ...invoice });
  },
  '/timer': (_req, res) => {
    setTimeout(() => flushMetricsBuffer(Date.now() + BLOCK_MS), 10);
    send(res, 202, { scheduled: true });
  },
  '/block': (_req, res, url) => {
    const ms = Number(url.searchParams.get('ms') ?? BLOCK_MS);
    if (!Number.isInteger(ms) || ms < 0 || ms > MAX_WAIT_MS) {
      send(res, 400, { error: `ms must be an integer from 0 to ${MAX_WAIT_MS}, got ${url.searchParams.get('ms')}` });
      return;
    }
    send(res, 200, { waits: waitForLock(Date.now() + ms) });
  },
};

const server = http.createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const handler = routes[url.pathname];
  if (!handler) {
    send(res, 404, { error: 'not found' });
    return;
  }
  Promise.resolve()
    .then(() => handler(req, res, url))
    .catch((err) => {
      if (!res.headersSent) send(res, 500, { error: String(err) });
    });
});

const job = setInterval(() => {
  run({ kind: 'job', name: 'nightly-rollup' }, () => rollupDailyTotals(Date.now() + JOB_BLOCK_MS));
}, JOB_EVERY_MS);

function shutdown() {
  clearInterval(job);
  server.close();
  server.closeAllConnections();
  fs.rmSync(tmpDir, { recursive: true, force: true });
}

process.once('SIGTERM', shutdown);
process.once('SIGINT', shutdown);

server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  console.log(`listening ${server.address().port}`);
});
