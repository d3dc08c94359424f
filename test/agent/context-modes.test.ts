/**
 * Context through `await` with each mode, on the Node running the suite (CI runs it on 20,
 * 22, 24 and 26). The default keeps an AsyncLocalStorage where that is free (Node >= 24,
 * Node 22 with --experimental-async-context-frame) and the in-flight ledger elsewhere: a
 * block after an `await` keeps its request either way, and the ledger says it inferred it
 * (`context.inFlight`).
 */
import { Agent, get } from 'node:http';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, type Child, cleanup, quit, spawnFixture } from '../helpers/child.js';
import { request, startRequest } from '../helpers/http.js';
import { asyncContextFrame } from '../../src/main-thread/context.js';
import type { BlockEvent } from '../../src/shared/event.js';

beforeAll(assertBuilt);
afterEach(cleanup);

const major = Number(process.versions.node.split('.')[0]);
/** What `context: true` means on this Node. */
const DEFAULT_MODE = asyncContextFrame() ? 'als' : 'inflight';

/** Blocks of at least 120 ms: a loaded machine adds short stalls of its own. */
async function longBlocks(child: Child, n: number): Promise<BlockEvent[]> {
  return child.waitFor(() => {
    const found = child.blocks().map((l) => l.block).filter((b) => b.durationMs >= 120);
    return found.length >= n ? found : undefined;
  }, { timeoutMs: 5000, what: `${n} block(s) of >= 120 ms` });
}

describe(`the default on Node ${major} (${DEFAULT_MODE})`, () => {
  it('a block after an await in a node:http handler keeps its method and path', async () => {
    const child = spawnFixture('http-app.cjs');
    const port = await child.port();
    expect((await request(port, '/block/after-await?ms=200')).status).toBe(200);
    const [b] = await longBlocks(child, 1);
    expect(b.context, JSON.stringify(b)).toMatchObject({ kind: 'http', method: 'GET', path: '/block/after-await' });
    expect(b.context.inFlight, JSON.stringify(b)).toBe(DEFAULT_MODE === 'inflight' ? 1 : undefined);
    expect(b.culprit?.function).toBe('burnCpu');
    expect(await quit(child, port)).toEqual({ code: 0, signal: null });
  });

  it.each([
    ['Express 5', 'frameworks/express.cjs', ['express']],
    ['Fastify 5', 'frameworks/fastify.cjs', []],
    ['Koa 3 + @koa/router', 'frameworks/koa.cjs', []],
  ])('%s: a block after an await in a route handler keeps the route template', async (_name, fixture, args) => {
    const child = spawnFixture(fixture, { args });
    const port = await child.port();
    expect((await request(port, '/api/users/7/later?ms=200')).status).toBe(200);
    const [b] = await longBlocks(child, 1);
    expect(b.context, JSON.stringify(b)).toMatchObject({ kind: 'http', method: 'GET', route: '/api/users/:id/later', path: '/api/users/7/later' });
    expect(b.culprit?.function).toBe('buildReport');
    expect(await quit(child, port)).toEqual({ code: 0, signal: null });
  });
});

describe("LOOPWATCH_CONTEXT=inflight (the ledger, on any Node)", () => {
  const env = { LOOPWATCH_CONTEXT: 'inflight' };

  it('one request in flight: the block after its await is that request, inFlight 1', async () => {
    const child = spawnFixture('http-app.cjs', { env });
    const port = await child.port();
    await request(port, '/block/after-await?ms=200');
    const [b] = await longBlocks(child, 1);
    expect(b.context, JSON.stringify(b)).toMatchObject({ kind: 'http', method: 'GET', path: '/block/after-await', inFlight: 1 });
    expect(b.context.candidates).toBeUndefined();
    expect(await quit(child, port)).toEqual({ code: 0, signal: null });
  });

  it('finished requests leave the ledger, on kept-alive connections too', async () => {
    const child = spawnFixture('http-app.cjs', { env });
    const port = await child.port();
    const agent = new Agent({ keepAlive: true, maxSockets: 2 });
    try {
      const once = () => new Promise<void>((resolve, reject) => {
        get({ host: '127.0.0.1', port, path: '/status', agent }, (res) => res.resume().on('end', resolve)).on('error', reject);
      });
      await Promise.all([once(), once(), once(), once()]);
      await request(port, '/block/after-await?ms=200');
      const [b] = await longBlocks(child, 1);
      expect(b.context, JSON.stringify(b)).toMatchObject({ kind: 'http', path: '/block/after-await', inFlight: 1 });
    } finally {
      agent.destroy();
    }
    expect(await quit(child, port)).toEqual({ code: 0, signal: null });
  });

  /** The http-app with one request held open in its handler for `ms`. */
  async function holding(ms: number) {
    const child = spawnFixture('http-app.cjs', { env });
    const port = await child.port();
    const hold = startRequest(port, `/hold?ms=${ms}`);
    await child.waitForStdout('holding /hold');
    return { child, port, hold };
  }

  it('two requests in flight on different paths: no path, both named as candidates', async () => {
    const { child, port, hold } = await holding(2000);
    await request(port, '/block/after-await?ms=200');
    const [b] = await longBlocks(child, 1);
    expect(b.context, JSON.stringify(b)).toMatchObject({ kind: 'http', method: null, path: null, route: null, inFlight: 2 });
    expect([...(b.context.candidates ?? [])].sort()).toEqual(['GET /block/after-await', 'GET /hold']);
    expect((await hold.response).status).toBe(200);
    expect(await quit(child, port)).toEqual({ code: 0, signal: null });
  });

  it('a request whose client went away is no candidate', async () => {
    const { child, port, hold } = await holding(1500);
    hold.req.destroy();
    // The server sees the close at its next turn; the block's request starts after that.
    await request(port, '/status');
    await request(port, '/block/after-await?ms=200');
    const [b] = await longBlocks(child, 1);
    expect(b.context, JSON.stringify(b)).toMatchObject({ kind: 'http', path: '/block/after-await', inFlight: 1 });
    expect(await quit(child, port)).toEqual({ code: 0, signal: null });
  });

  it('a one-shot timer a request scheduled is that request, inFlight 1', async () => {
    const child = spawnFixture('http-app.cjs', { env });
    const port = await child.port();
    await request(port, '/block/timeout?ms=200');
    const [b] = await longBlocks(child, 1);
    expect(b.context, JSON.stringify(b)).toMatchObject({ kind: 'http', method: 'GET', path: '/block/timeout', inFlight: 1 });
    expect(await quit(child, port)).toEqual({ code: 0, signal: null });
  });

  it('a job run() names keeps its name after an await, inFlight 1', async () => {
    const child = spawnFixture('job.cjs', { env });
    await child.ready();
    await child.waitForStdout('done');
    expect(await child.waitForExit(5000)).toEqual({ code: 0, signal: null });
    const [b] = child.blocks().map((l) => l.block);
    expect(b?.context, child.describe()).toMatchObject({ kind: 'job', job: 'nightly-report', inFlight: 1 });
  });
});

describe('LOOPWATCH_CONTEXT=als (an AsyncLocalStorage, on any Node)', () => {
  it("a block after an await keeps its request exactly, and a request's own timer callback too", async () => {
    const child = spawnFixture('http-app.cjs', { env: { LOOPWATCH_CONTEXT: 'als' } });
    const port = await child.port();
    await request(port, '/block/after-await?ms=200');
    await request(port, '/block/timeout?ms=200');
    const [a, t] = await longBlocks(child, 2);
    expect(a.context, JSON.stringify(a)).toMatchObject({ kind: 'http', path: '/block/after-await' });
    expect(t.context, JSON.stringify(t)).toMatchObject({ kind: 'http', path: '/block/timeout' });
    expect(a.context.inFlight).toBeUndefined();
    expect(await quit(child, port)).toEqual({ code: 0, signal: null });
  });
});

// Only Node 22 has this flag and needs it: Node 20 rejects it, Node >= 24 has the frame on by default.
describe.runIf(major === 22)('Node 22 with --experimental-async-context-frame', () => {
  it('the default picks the AsyncLocalStorage (free with the flag): no inFlight', async () => {
    const child = spawnFixture('http-app.cjs', { env: { NODE_OPTIONS: '--experimental-async-context-frame' } });
    const port = await child.port();
    await request(port, '/block/timeout?ms=200');
    const [b] = await longBlocks(child, 1);
    expect(b.context, JSON.stringify(b)).toMatchObject({ kind: 'http', path: '/block/timeout' });
    expect(b.context.inFlight).toBeUndefined();
    expect(await quit(child, port)).toEqual({ code: 0, signal: null });
  });
});
