/**
 * Which request or job a block belongs to: with LOOPWATCH_CONTEXT=off, and from run().
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, cleanup, quit, spawnFixture } from '../helpers/child.js';
import { request } from '../helpers/http.js';
import { asyncContextFrame } from '../../src/main-thread/context.js';

beforeAll(assertBuilt);
afterEach(cleanup);

describe('LOOPWATCH_CONTEXT=off (no AsyncLocalStorage)', () => {
  it('a block in synchronous handler code still gets method and path, from the executing async resource', async () => {
    const child = spawnFixture('http-app.cjs', { env: { LOOPWATCH_CONTEXT: 'off' } });
    const port = await child.port();
    expect((await request(port, '/block/sync?ms=200&user=42')).status).toBe(200);
    const [line] = await child.waitForBlocks(1);
    expect(line.block.context, JSON.stringify(line)).toMatchObject({ kind: 'http', method: 'GET', path: '/block/sync' });
    expect(line.block.culprit?.function).toBe('burnCpu');
    expect(await quit(child, port)).toEqual({ code: 0, signal: null });
    expect(child.blocks(), child.describe()).toHaveLength(1);
  });

  it('a block after an await has no request: documented cost of turning context off', async () => {
    // Without a store, the request is known only through executionAsyncResource(), which is
    // the HTTP parser's resource while the handler runs synchronously. After an await the
    // code runs from a promise job, whose resource knows nothing of the request, so the
    // block is reported (with its culprit) but without method and path.
    const child = spawnFixture('http-app.cjs', { env: { LOOPWATCH_CONTEXT: 'off' } });
    const port = await child.port();
    expect((await request(port, '/block/after-await?ms=200')).status).toBe(200);
    const [line] = await child.waitForBlocks(1);
    expect(line.block.context, JSON.stringify(line)).toMatchObject({ method: null, path: null, route: null });
    expect(line.block.culprit?.function).toBe('burnCpu');
    expect(line.block.durationMs).toBeGreaterThanOrEqual(190);
    expect(await quit(child, port)).toEqual({ code: 0, signal: null });
    expect(child.blocks(), child.describe()).toHaveLength(1);
  });
});

describe('run() for jobs', () => {
  it("run({ kind: 'job', name: 'nightly-report' }, async () => { await …; block }) → the job's context", async () => {
    const child = spawnFixture('job.cjs');
    await child.ready();
    await child.waitForStdout('done');
    expect(await child.waitForExit(5000)).toEqual({ code: 0, signal: null });
    const lines = child.blocks();
    expect(lines, child.describe()).toHaveLength(1);
    const b = lines[0].block;
    const seen = JSON.stringify(lines[0]);
    // Where an AsyncLocalStorage would cost promise hooks, the job is found in the in-flight
    // ledger after its await, which says so.
    const inferred = asyncContextFrame() ? {} : { inFlight: 1 };
    expect(b.context, seen).toEqual({ kind: 'job', method: null, route: null, path: null, job: 'nightly-report', traceId: null, spanId: null, ...inferred });
    expect(b.culprit?.function, seen).toBe('buildReport');
    expect(b.durationMs, seen).toBeGreaterThanOrEqual(190);
    expect(b.durationMs, seen).toBeLessThanOrEqual(260);
  });
});
