/**
 * Express route templates for many app shapes, on real Express 4 and 5 apps served on
 * 127.0.0.1 in this process: each handler answers with what the capture-time reader makes
 * of its own `req` (no blocking needed for that; frameworks.test.ts blocks for real).
 */
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expressRoute } from '../../integrations/express.js';
import { request } from '../helpers/http.js';

const require = createRequire(import.meta.url);

/* eslint-disable @typescript-eslint/no-explicit-any */
function buildApp(express: any, major: 4 | 5): any {
  const answer = (req: any, res: any) => res.json({ route: expressRoute(req) });
  const app = express();
  app.get('/plain/:x', answer);

  const api = express.Router();
  api.get('/', answer);
  api.get('/users/:id', answer);
  api.get(['/one', '/two'], answer);
  app.use('/api', api);

  const members = express.Router({ mergeParams: true });
  members.get('/members/:m', answer);
  const teams = express.Router({ mergeParams: true });
  teams.use('/teams/:team', members);
  app.use('/orgs/:org', teams);

  const jobs = express.Router();
  jobs.get('/jobs/:j', answer);
  const admin = express();
  admin.use('/t/:t', jobs);
  app.use('/admin', admin);

  const inner = express.Router();
  inner.get('/items/:i', answer);
  const versioned = express();
  versioned.use('/shop', inner);
  app.use('/v/:ver', versioned);

  const shared = express.Router();
  shared.get('/things/:id', answer);
  app.use('/v1', shared);
  app.use('/v2', shared);

  const rootRouter = express.Router();
  rootRouter.get('/at-root/:r', answer);
  app.use(rootRouter);

  app.get(/^\/re\/\d+$/, answer);
  if (major === 5) app.get('/files/*rest', answer);
  else app.get('/files/*', answer);
  app.use((req: any, res: any) => res.status(404).json({ route: expressRoute(req) }));
  return app;
}

const CASES: [string, string | null][] = [
  ['/plain/1', '/plain/:x'],
  ['/api', '/api'],
  ['/api/users/7?q=1', '/api/users/:id'],
  ['/api/one', null],
  ['/orgs/acme/teams/red/members/3', '/orgs/:org/teams/:team/members/:m'],
  ['/orgs/orgs/teams/teams/members/members', '/orgs/:org/teams/:team/members/:m'],
  ['/admin/t/x1/jobs/9', '/admin/t/:t/jobs/:j'],
  ['/v/2/shop/items/5', '/v/:ver/shop/items/:i'],
  ['/at-root/4', '/at-root/:r'],
  ['/v1/things/3', '/v1/things/:id'],
  ['/v2/things/3', '/v2/things/:id'],
  ['/re/42', String(/^\/re\/\d+$/)],
  ['/nope/1', null],
];

describe.each([[4, 'express4'], [5, 'express']] as const)('Express %i', (major, name) => {
  let server: Server;
  let port: number;
  beforeAll(async () => {
    const app = buildApp(require(name), major);
    server = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => new Promise((resolve) => server.close(resolve)));

  it.each(CASES)('%s → %s', async (path, template) => {
    const res = await request(port, path);
    expect(JSON.parse(res.body), res.body).toEqual({ route: template });
  });

  it('a wildcard route keeps its pattern', async () => {
    const res = await request(port, '/files/a/b/c.txt');
    expect(JSON.parse(res.body)).toEqual({ route: major === 5 ? '/files/*rest' : '/files/*' });
  });
});
