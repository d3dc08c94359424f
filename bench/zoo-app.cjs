'use strict';
// The detection zoo's app: one server (node:http, Express or Fastify, per BENCH_FRAMEWORK)
// whose routes block the loop in the ways services really do, each inside a named function
// (the culprit the agent should name). Every block is recorded by the app itself and printed
// on stdout as one JSON line {kind, start, end} (Unix epoch ms on the monotonic clock), so
// the driver can match the agent's log lines against the truth.
const http = require('node:http');
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const zlib = require('node:zlib');
const os = require('node:os');
const { execSync } = require('node:child_process');
const { AsyncResource } = require('node:async_hooks');

const BLOCK_MS = Number(process.env.BENCH_BLOCK_MS ?? 200);
const FRAMEWORK = process.env.BENCH_FRAMEWORK ?? 'http';
const now = () => performance.timeOrigin + performance.now();
const emit = (obj) => process.stdout.write(JSON.stringify(obj) + '\n');

// ---- the blocking functions (names are what the agent should report) ----
function burnCpu(ms) {
  const end = Date.now() + ms;
  let x = 0;
  while (Date.now() < end) x += Math.sqrt(x + 1);
  return x;
}
let bigJson = '';
function parseHugeJson() {
  return JSON.parse(bigJson).length;
}
const mediumJson = JSON.stringify(Array.from({ length: 2000 }, (_, i) => ({ id: i, name: `item-${i}`, tags: ['a', 'b', 'c'] })));
function parseManyJson(ms) {
  const end = Date.now() + ms;
  let n = 0;
  while (Date.now() < end) n += JSON.parse(mediumJson).length;
  return n;
}
let evilInput = '';
function matchEvil() {
  return /^(a+)+$/.test(evilInput);
}
const payload = crypto.randomBytes(256 * 1024);
function compressPayloads(ms) {
  const end = Date.now() + ms;
  let n = 0;
  while (Date.now() < end) n += zlib.gzipSync(payload).length;
  return n;
}
function hashPasswords(ms) {
  const end = Date.now() + ms;
  let n = 0;
  while (Date.now() < end) n += crypto.pbkdf2Sync('secret', 'salt', 20000, 32, 'sha256').length;
  return n;
}
const configFile = path.join(os.tmpdir(), `loopwatch-zoo-${process.pid}.json`);
fs.writeFileSync(configFile, JSON.stringify({ big: 'x'.repeat(512 * 1024) }));
process.on('exit', () => fs.rmSync(configFile, { force: true }));
function readConfigFiles(ms) {
  const end = Date.now() + ms;
  let n = 0;
  while (Date.now() < end) n += fs.readFileSync(configFile).length;
  return n;
}
function runShell() {
  return execSync(`sleep ${BLOCK_MS / 1000}`).length;
}
const sab = new Int32Array(new SharedArrayBuffer(4));
function waitSync() {
  return Atomics.wait(sab, 0, 0, BLOCK_MS);
}
let records = [];
function sortRecords() {
  return records.slice().sort((a, b) => a.score - b.score || a.id - b.id).length;
}
let bcrypt = null;
let bcryptSalt = null;
function hashWithBcrypt() {
  return bcrypt.hashSync('correct horse battery staple', bcryptSalt).length;
}
function deferredWork() {
  const end = Date.now() + BLOCK_MS;
  let x = 0;
  while (Date.now() < end) x += Math.sqrt(x + 1);
  return x;
}
// A cron-like job: an interval whose callback blocks, outside any request.
function nightlyCron() {
  const start = now();
  const end = Date.now() + BLOCK_MS * 0.75;
  let x = 0;
  while (Date.now() < end) x += Math.sqrt(x + 1);
  emit({ kind: 'cron', start, end: now() });
  return x;
}
// Bound at load, so the interval starts outside the request that asks for it, like a
// scheduler set up at start-up (a timer created inside a handler inherits its context).
const startCronOutsideRequest = AsyncResource.bind(startCron);
function startCron(runs, everyMs) {
  let left = runs;
  const timer = setInterval(() => {
    if (--left <= 0) clearInterval(timer);
    nightlyCron();
  }, everyMs);
}

// Sizes chosen at start-up so each single-call block lasts about BLOCK_MS on this machine.
function calibrate() {
  const unit = JSON.stringify(Array.from({ length: 20000 }, (_, i) => ({ id: i, name: `user-${i}`, email: `u${i}@example.com`, roles: ['reader'] })));
  let t = now();
  JSON.parse(unit);
  JSON.parse(unit);
  t = (now() - t) / 2;
  const copies = Math.max(1, Math.round(BLOCK_MS / Math.max(t, 0.1)));
  bigJson = `[${Array.from({ length: copies }, () => unit).join(',')}]`;

  for (let n = 16; n < 40; n++) {
    evilInput = `${'a'.repeat(n)}!`;
    const s = now();
    matchEvil();
    if (now() - s >= BLOCK_MS / 2) {
      // Backtracking doubles per character: one more lands near BLOCK_MS.
      evilInput = `${'a'.repeat(n + 1)}!`;
      break;
    }
  }

  let size = 20000;
  for (;;) {
    records = Array.from({ length: size }, (_, i) => ({ id: i, score: (i * 7919) % 1000 }));
    const s = now();
    sortRecords();
    const took = now() - s;
    if (took >= BLOCK_MS / 4 || size > 2e7) {
      size = Math.round((size * BLOCK_MS) / Math.max(took, 1));
      records = Array.from({ length: size }, (_, i) => ({ id: i, score: (i * 7919) % 1000 }));
      break;
    }
    size *= 4;
  }

  try {
    bcrypt = require('bcryptjs');
    for (let rounds = 4; rounds <= 14; rounds++) {
      bcryptSalt = bcrypt.genSaltSync(rounds);
      const s = now();
      hashWithBcrypt();
      if (now() - s >= BLOCK_MS / 2) break;
    }
  } catch {
    bcrypt = null;
  }
}

/** kind → [culprit the agent should name, the blocking call]. */
const KINDS = {
  cpu: () => burnCpu(BLOCK_MS),
  json: () => parseHugeJson(),
  jsonloop: () => parseManyJson(BLOCK_MS),
  regex: () => matchEvil(),
  gzip: () => compressPayloads(BLOCK_MS),
  pbkdf2: () => hashPasswords(BLOCK_MS),
  readfile: () => readConfigFiles(BLOCK_MS),
  exec: () => runShell(),
  sleep: () => waitSync(),
  sort: () => sortRecords(),
  bcrypt: () => hashWithBcrypt(),
};

function blockNow(kind) {
  const start = now();
  KINDS[kind]();
  emit({ kind, start, end: now() });
}

async function handle(kind, respond) {
  if (kind === 'await') {
    await new Promise((r) => setImmediate(r));
    const start = now();
    burnCpu(BLOCK_MS);
    emit({ kind, start, end: now() });
    return respond(200, 'ok');
  }
  if (kind === 'cron') {
    startCronOutsideRequest(2, BLOCK_MS * 2);
    return respond(200, 'ok');
  }
  if (kind === 'timer') {
    setTimeout(() => {
      const start = now();
      deferredWork();
      emit({ kind, start, end: now() });
    }, 1);
    return respond(200, 'ok');
  }
  if (!KINDS[kind] || (kind === 'bcrypt' && !bcrypt)) return respond(404, 'no such kind');
  blockNow(kind);
  respond(200, 'ok');
}

calibrate();

function ready(port) {
  emit({ ready: true, port, framework: FRAMEWORK, kinds: [...Object.keys(KINDS).filter((k) => k !== 'bcrypt' || bcrypt), 'await', 'timer', 'cron'] });
}

if (FRAMEWORK === 'express') {
  const express = require('express');
  const app = express();
  const api = express.Router();
  api.get('/items/:id/:kind', (req, res) => handle(req.params.kind, (code, body) => res.status(code).send(body)));
  app.use('/api', api);
  const server = app.listen(0, '127.0.0.1', () => ready(server.address().port));
} else if (FRAMEWORK === 'fastify') {
  const app = require('fastify')();
  app.get('/api/items/:id/:kind', (req, reply) => {
    handle(req.params.kind, (code, body) => reply.code(code).send(body));
    return reply;
  });
  app.listen({ port: 0, host: '127.0.0.1' }).then(() => ready(app.server.address().port));
} else {
  const server = http.createServer((req, res) => {
    const kind = /^\/api\/items\/[^/]+\/([^/?]+)/.exec(req.url)?.[1] ?? '';
    handle(kind, (code, body) => res.writeHead(code).end(body));
  });
  server.listen(0, '127.0.0.1', () => ready(server.address().port));
}
