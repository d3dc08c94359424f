/**
 * The capture-time rules of src/main-thread/context.ts on hand-made request objects shaped like the
 * frameworks' (the real apps are in frameworks.test.ts): how templates are put together,
 * what is never reported, and that reading never throws.
 */
import diagnosticsChannel from 'node:diagnostics_channel';
import type { IncomingMessage } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { contextStorage, type ContextStore, readContext, startContext } from '../../src/main-thread/context.js';

const req = (fields: Record<string, unknown>): IncomingMessage => ({ method: 'GET', url: '/x', ...fields }) as unknown as IncomingMessage;
const within = (store: ContextStore) => contextStorage().run(store, readContext);

describe('Express-shaped requests', () => {
  it('joins the mount pattern and the route path; the path comes from originalUrl without its query', () => {
    const route = { path: '/users/:id/report' };
    const app = { _router: { stack: [{ handle: { stack: [{ route }] }, keys: [], regexp: /^\/api\/?(?=\/|$)/i }] } };
    const r = req({ url: '/users/7/report?x=1', originalUrl: '/api/users/7/report?x=1#frag', baseUrl: '/api', route, app });
    expect(within({ kind: 'http', req: r })).toMatchObject({ kind: 'http', method: 'GET', route: '/api/users/:id/report', path: '/api/users/7/report' });
  });

  it('a mounted route whose mount cannot be found in the app (no app, a wrapped router) has route null, not baseUrl', () => {
    expect(within({ kind: 'http', req: req({ baseUrl: '/orgs/acme', route: { path: '/x' } }) }).route).toBeNull();
    const app = { router: { stack: [{ handle: () => undefined }] } };
    expect(within({ kind: 'http', req: req({ baseUrl: '/orgs/acme', route: { path: '/x' }, app }) }).route).toBeNull();
  });

  it("a route at '/' without a mount is '/'", () => {
    expect(within({ kind: 'http', req: req({ baseUrl: '', route: { path: '/' } }) }).route).toBe('/');
  });

  it('a RegExp route is reported as its source; an array of paths (which one matched is unknown) as null', () => {
    expect(within({ kind: 'http', req: req({ route: { path: /^\/files\/.*$/ } }) }).route).toBe('/^\\/files\\/.*$/');
    expect(within({ kind: 'http', req: req({ route: { path: ['/a', '/b'] } }) }).route).toBeNull();
  });

  it('before any route matched (middleware, 404), the route is null, never the path', () => {
    const c = within({ kind: 'http', req: req({ url: '/nope/1', originalUrl: '/api/nope/1', baseUrl: '/api' }) });
    expect(c).toMatchObject({ route: null, path: '/api/nope/1' });
  });
});

describe('Koa contexts (loopwatch/koa)', () => {
  it("reads @koa/router's _matchedRoute and the context's originalUrl", () => {
    const c = within({ kind: 'http', req: req({ url: '/mounted/7' }), koa: { _matchedRoute: '/api/users/:id', originalUrl: '/api/users/7?q=1' } });
    expect(c).toMatchObject({ route: '/api/users/:id', path: '/api/users/7' });
  });

  it('no matched route: null', () => {
    expect(within({ kind: 'http', req: req({}), koa: { originalUrl: '/nope' } })).toMatchObject({ route: null, path: '/nope' });
  });
});

describe('never throws', () => {
  it('a throwing getter on the request yields what was read before it', () => {
    const r = req({});
    Object.defineProperty(r, 'route', { get() { throw new Error('boom'); } });
    expect(() => within({ kind: 'http', req: r })).not.toThrow();
    expect(within({ kind: 'http', req: r })).toMatchObject({ kind: 'http', method: 'GET', route: null });
  });
});

/**
 * readContext as it reads outside a test runner: this file runs inside vitest, whose worker
 * state would make every context here `kind: "test"` (see the test-runner tests below).
 * Hidden only while the synchronous read runs.
 */
function readOutsideRunner(): ReturnType<typeof readContext> {
  const g = globalThis as { __vitest_worker__?: unknown };
  const worker = g.__vitest_worker__;
  g.__vitest_worker__ = undefined;
  try {
    return readContext();
  } finally {
    g.__vitest_worker__ = worker;
  }
}

describe('timers without context', () => {
  it('a setTimeout or setInterval callback (even one that cleared itself) reads kind "timer"; setImmediate does not', async () => {
    const fromTimeout = await new Promise((resolve) => setTimeout(() => resolve(readOutsideRunner()), 1));
    const fromInterval = await new Promise((resolve) => {
      const t = setInterval(() => {
        clearInterval(t);
        resolve(readOutsideRunner());
      }, 1);
    });
    const fromImmediate = await new Promise((resolve) => setImmediate(() => resolve(readOutsideRunner())));
    expect(fromTimeout).toMatchObject({ kind: 'timer', route: null, job: null });
    expect(fromInterval).toMatchObject({ kind: 'timer' });
    expect(fromImmediate).toMatchObject({ kind: null });
  });

  it('a store wins over the timer', async () => {
    const c = await contextStorage().run({ kind: 'job', job: 'sweep' }, () => new Promise((resolve) => setTimeout(() => resolve(readOutsideRunner()), 1)));
    expect(c).toMatchObject({ kind: 'job', job: 'sweep' });
  });
});

describe('inside a vitest test', () => {
  it('names the test: kind "test", its file and its name with its suites; in a timer too', async () => {
    const here = { file: expect.stringMatching(/test\/frameworks\/context-rules\.test\.ts$/), name: 'inside a vitest test > names the test: kind "test", its file and its name with its suites; in a timer too' };
    expect(readContext()).toMatchObject({ kind: 'test', test: here });
    const fromTimeout = await new Promise((resolve) => setTimeout(() => resolve(readContext()), 1));
    expect(fromTimeout).toMatchObject({ kind: 'test', test: here });
  });

  it('a job the test runs keeps its kind and gains the test', () => {
    const c = contextStorage().run({ kind: 'job', job: 'sweep' }, readContext);
    expect(c).toMatchObject({ kind: 'job', job: 'sweep', test: { name: 'inside a vitest test > a job the test runs keeps its kind and gains the test' } });
  });
});

describe("Fastify's handler channel", () => {
  let unsubscribe: (() => void) | undefined;
  afterEach(() => unsubscribe?.());
  const start = diagnosticsChannel.channel('tracing:fastify.request.handler:start');

  it("sets the template on the store of the request it belongs to, and on no other request's", () => {
    unsubscribe = startContext('als');
    const raw = req({ url: '/api/users/7' });
    const store: ContextStore = { kind: 'http', req: raw };
    contextStorage().run(store, () => start.publish({ request: { raw: req({}) }, route: { url: '/other/:x', method: 'GET' } }));
    expect(store.route).toBeUndefined();
    contextStorage().run(store, () => start.publish({ request: { raw }, route: { url: '/api/users/:id', method: 'GET' } }));
    expect(contextStorage().run(store, readContext)).toMatchObject({ route: '/api/users/:id', path: '/api/users/7' });
  });

  it('after unsubscribe it does nothing', () => {
    startContext('als')();
    const raw = req({});
    const store: ContextStore = { kind: 'http', req: raw };
    contextStorage().run(store, () => start.publish({ request: { raw }, route: { url: '/a/:b', method: 'GET' } }));
    expect(store.route).toBeUndefined();
  });
});
