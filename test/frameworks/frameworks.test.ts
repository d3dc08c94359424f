/**
 * Route templates from real framework apps, zero-code (Express 4 and 5, Fastify 5, NestJS on
 * both platforms) or with `app.use(koa())` (Koa + @koa/router). Each app runs in a child
 * process under the built register entry, with the route nested under /api, and blocks
 * ~200 ms in a named function: once in GET /api/users/:id/report, once in the handling of
 * a path no route matches.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { BlockEvent } from '../../src/shared/event.js';
import { assertBuilt, type Child, cleanup, type Loader, quit, spawnFixture } from '../helpers/child.js';
import { request } from '../helpers/http.js';

beforeAll(assertBuilt);
afterEach(cleanup);

interface Case {
  name: string;
  fixture: string;
  args?: string[];
  loader: Loader;
  env?: Record<string, string>;
  /** Express: also routers mounted at paths with parameters, one inside a sub-app. */
  mounts?: boolean;
}

/** Express's parameterized mounts: request path → template (the value 'orgs' also appears in the literal part). */
const MOUNTED: [string, string][] = [
  ['/orgs/acme/reports/7', '/orgs/:org/reports/:id'],
  ['/orgs/orgs/reports/8', '/orgs/:org/reports/:id'],
  ['/admin/tenants/t1/jobs/9', '/admin/tenants/:tenant/jobs/:job'],
];

const CASES: Case[] = [
  { name: 'Express 5 (Router mounted at /api)', fixture: 'frameworks/express.cjs', args: ['express'], loader: 'require', mounts: true },
  { name: 'Express 5 under --import', fixture: 'frameworks/express.cjs', args: ['express'], loader: 'import', mounts: true },
  { name: 'Express 4 (Router mounted at /api)', fixture: 'frameworks/express.cjs', args: ['express4'], loader: 'require', mounts: true },
  // Without AsyncLocalStorage the request is found through the HTTP parser's async resource
  // (synchronous handler code only), and Express's template from it all the same.
  { name: 'Express 4 with LOOPWATCH_CONTEXT=off', fixture: 'frameworks/express.cjs', args: ['express4'], loader: 'require', env: { LOOPWATCH_CONTEXT: 'off' } },
  { name: 'Fastify 5 (plugin with prefix /api)', fixture: 'frameworks/fastify.cjs', loader: 'require' },
  { name: 'Fastify 5 under --import', fixture: 'frameworks/fastify.cjs', loader: 'import' },
  { name: 'Koa 3 + @koa/router (nested routers, app.use(koa()))', fixture: 'frameworks/koa.cjs', loader: 'require' },
  { name: 'NestJS on platform-express, under --import', fixture: 'frameworks/nest.mjs', args: ['express'], loader: 'import' },
  { name: 'NestJS on platform-fastify', fixture: 'frameworks/nest.mjs', args: ['fastify'], loader: 'require' },
];

/**
 * The fixture's blocks last ~200 ms. A loaded machine adds short stalls of its own (the
 * process descheduled for 50+ ms, no stack captured), which are no part of these tests.
 */
const MIN_MS = 120;
const ours = (child: Child): BlockEvent[] => child.blocks().map((l) => l.block).filter((b) => b.durationMs >= MIN_MS);

function nthBlock(child: Child, n: number): Promise<BlockEvent> {
  return child.waitFor(() => ours(child)[n - 1], { timeoutMs: 5000, what: `block #${n} of >= ${MIN_MS} ms` });
}

describe.each(CASES)('$name', (c) => {
  it('a block in the route handler carries the template, the method and the path; a 404 block has route null', async () => {
    const child = spawnFixture(c.fixture, { loader: c.loader, args: c.args, env: c.env });
    // Nest and the first request of each framework take a while on a busy machine.
    const port = await child.port();

    const hit = await request(port, '/api/users/42/report?ms=200&token=secret');
    expect(hit.status, child.describe()).toBe(200);
    const matched = await nthBlock(child, 1);
    const seen = JSON.stringify(matched);
    expect(matched.context, seen).toMatchObject({
      kind: 'http', method: 'GET', route: '/api/users/:id/report', path: '/api/users/42/report', job: null,
    });
    expect(matched.culprit?.function, seen).toBe('buildReport');
    expect(matched.durationMs, seen).toBeGreaterThanOrEqual(150);

    const miss = await request(port, '/nope/42?ms=200&token=secret');
    expect(miss.status, child.describe()).toBe(404);
    const unmatched = await nthBlock(child, 2);
    const seen404 = JSON.stringify(unmatched);
    // Never the raw path: the route is a template or null.
    expect(unmatched.context, seen404).toMatchObject({ kind: 'http', method: 'GET', route: null, path: '/nope/42', job: null });
    expect(unmatched.culprit?.function, seen404).toBe('inspectUnknownPath');
    expect(unmatched.durationMs, seen404).toBeGreaterThanOrEqual(150);

    let expected = 2;
    for (const [path, template] of c.mounts ? MOUNTED : []) {
      expect((await request(port, `${path}?ms=200`)).status, child.describe()).toBe(200);
      const b = await nthBlock(child, ++expected);
      expect(b.context, JSON.stringify(b)).toMatchObject({ kind: 'http', method: 'GET', route: template, path });
      expect(b.culprit?.function, JSON.stringify(b)).toBe('buildReport');
    }

    expect(await quit(child, port, 10_000)).toEqual({ code: 0, signal: null });
    expect(ours(child), child.describe()).toHaveLength(expected);
  });
});
