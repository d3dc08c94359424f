/**
 * The standalone endpoint (LOOPWATCH_PROMETHEUS_PORT): served by the watchdog worker, so it
 * answers while the app's main thread is blocked.
 */
import { createServer, type Server } from 'node:net';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ALL_METRICS, BLOCK_ONGOING, BLOCKED_TIME, UNMATCHED_ROUTE_LABEL } from '../../src/metrics/names.js';
import { assertBuilt, cleanup, type Loader, spawnFixture, warnings } from '../helpers/child.js';
import { request, startRequest } from '../helpers/http.js';
import { freePort, pollUntil } from '../helpers/poll.js';
import { parseExposition, total } from './parse.js';
import { scrape } from './scrape.js';

beforeAll(assertBuilt);
const servers: Server[] = [];
afterEach(async () => {
  await cleanup();
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

async function holdPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  servers.push(s);
  return (s.address() as { port: number }).port;
}

const endpointEnv = (port: number): Record<string, string> => ({ LOOPWATCH_PROMETHEUS_PORT: String(port), LOOPWATCH_PROMETHEUS_HOST: '127.0.0.1' });

async function scrapeEndpoint(port: number, accept?: string): Promise<{ ms: number; status: number; body: string; type: string | undefined }> {
  const r = await scrape(port, { accept });
  return { ms: r.ms, status: r.status, body: r.body, type: r.headers['content-type'] };
}

describe('standalone /metrics endpoint', () => {
  it('answers during a 2 s block in under 100 ms, with loopwatch_block_ongoing_seconds rising', async () => {
    const metricsPort = await freePort();
    const child = spawnFixture('http-app.cjs', { env: endpointEnv(metricsPort) });
    const port = await child.port();

    const idle = await scrapeEndpoint(metricsPort);
    expect(idle.status, idle.body).toBe(200);
    expect(idle.type).toBe('text/plain; version=0.0.4; charset=utf-8');
    const idleFamilies = parseExposition(idle.body);
    for (const m of ALL_METRICS) expect(idleFamilies.get(m.prometheus)?.type, m.prometheus).toBe(m.type);
    expect(total(idleFamilies, BLOCK_ONGOING.prometheus, { thread: 'main' })).toBe(0);

    const block = startRequest(port, '/block/sync?ms=2000');
    let blockDone = false;
    void block.response.then(() => (blockDone = true));
    const during: { ms: number; ongoing: number }[] = [];
    const deadline = performance.now() + 1800;
    while (performance.now() < deadline && !blockDone) {
      const r = await scrapeEndpoint(metricsPort);
      expect(r.status).toBe(200);
      if (blockDone) break;
      during.push({ ms: r.ms, ongoing: total(parseExposition(r.body), BLOCK_ONGOING.prometheus, { thread: 'main' }) });
      if (during.filter((d) => d.ongoing > 0).length >= 4) break;
      await new Promise((r) => setTimeout(r, 150));
    }
    const seen = JSON.stringify(during);
    // Timed from the second scrape that saw the block on: the first may have been sent before
    // the watchdog noticed the stall, while it still idled (new connections wait up to 100 ms).
    const ongoing = during.slice(during.findIndex((d) => d.ongoing > 0) + 1);
    expect(ongoing.length, seen).toBeGreaterThanOrEqual(2);
    for (const d of ongoing) expect(d.ongoing, seen).toBeGreaterThan(0);
    for (const d of ongoing) expect(d.ms, seen).toBeLessThan(100);
    // Rising while the block lasts, and never more than the block itself.
    expect(ongoing.at(-1)!.ongoing, seen).toBeGreaterThan(ongoing[0].ongoing);
    expect(ongoing.at(-1)!.ongoing, seen).toBeLessThan(2.1);
    expect(blockDone, 'the block ended before the scrapes; the machine may be overloaded').toBe(false);

    expect((await block.response).status).toBe(200);
    // After the block: counted by the worker's own store, ongoing back to 0.
    // The interval gauges: the scrape whose interval holds the delay sample of the block.
    let delayMax = 0;
    const after = await pollUntil(async () => {
      const families = parseExposition((await scrapeEndpoint(metricsPort)).body);
      delayMax = Math.max(delayMax, total(families, 'nodejs_eventloop_delay_max_seconds'));
      // Waits for the 2 s block itself: a short stall of a loaded CI machine while the request
      // was in flight may be counted under the same route first (CI saw 0.085 s once).
      return total(families, BLOCKED_TIME.prometheus, { route: UNMATCHED_ROUTE_LABEL, thread: 'main' }) >= 1.9 ? families : undefined;
    }, { timeoutMs: 5000, intervalMs: 20, what: 'the 2 s block in the endpoint\'s blocked-time counter' });
    expect(total(after, BLOCKED_TIME.prometheus, { route: UNMATCHED_ROUTE_LABEL, thread: 'main' })).toBeLessThan(3);
    expect(total(after, BLOCK_ONGOING.prometheus, { thread: 'main' })).toBe(0);
    // The heartbeat fired ~2 s late (at least the block minus one heartbeat period).
    expect(delayMax).toBeGreaterThanOrEqual(1.9);
    expect(delayMax).toBeLessThan(2.5);
  });

  it('speaks OpenMetrics when the Accept header asks for it (as Prometheus does)', async () => {
    const metricsPort = await freePort();
    const child = spawnFixture('http-app.cjs', { env: endpointEnv(metricsPort) });
    await child.port();
    const accept = 'application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1';
    const r = await scrapeEndpoint(metricsPort, accept);
    expect(r.type).toBe('application/openmetrics-text; version=1.0.0; charset=utf-8');
    const families = parseExposition(r.body, 'openmetrics');
    expect(families.get('loopwatch_blocked_seconds')).toMatchObject({ type: 'counter', unit: 'seconds' });
    expect(families.get('nodejs_eventloop_time_seconds')?.samples.map((s) => s.name)).toEqual(['nodejs_eventloop_time_seconds_total', 'nodejs_eventloop_time_seconds_total']);
    expect(families.get('nodejs_eventloop_utilization_ratio')).toMatchObject({ type: 'gauge', unit: 'ratio' });
    // Anything else than /metrics is not found.
    expect((await request(metricsPort, '/')).status).toBe(404);
  });

  it('port in use: one warning, and the agent keeps detecting blocks', async () => {
    const taken = await holdPort();
    const child = spawnFixture('http-app.cjs', { env: endpointEnv(taken) });
    const port = await child.port();
    await request(port, '/block/sync?ms=150');
    await child.waitForBlocks(1);
    await child.waitFor(() => warnings(child.stderr, 'LOOPWATCH_WARN_PROMETHEUS_ENDPOINT').length > 0, { timeoutMs: 5000, what: 'the endpoint warning' });
    const warned = warnings(child.stderr, 'LOOPWATCH_WARN_PROMETHEUS_ENDPOINT');
    expect(warned, child.stderr).toHaveLength(1);
    expect(warned[0]).toMatch(new RegExp(`127\\.0\\.0\\.1:${taken} \\(the port is in use\\); the agent runs on without the endpoint`));
    // Still detecting after the endpoint failed (the worker went back to its idle loop).
    await request(port, '/block/sync?ms=150');
    await child.waitForBlocks(2);
  });

  it('an address not on this machine: one warning, the agent keeps running', async () => {
    const child = spawnFixture('http-app.cjs', { env: { LOOPWATCH_PROMETHEUS_PORT: String(await freePort()), LOOPWATCH_PROMETHEUS_HOST: '192.0.2.1' } });
    const port = await child.port();
    await child.waitFor(() => warnings(child.stderr, 'LOOPWATCH_WARN_PROMETHEUS_ENDPOINT').length > 0, { timeoutMs: 5000, what: 'the endpoint warning' });
    const warned = warnings(child.stderr, 'LOOPWATCH_WARN_PROMETHEUS_ENDPOINT');
    expect(warned, child.stderr).toHaveLength(1);
    expect(warned[0]).toMatch(/192\.0\.2\.1:\d+ \(the address is not on this machine\); the agent runs on without the endpoint/);
    await request(port, '/block/sync?ms=150');
    await child.waitForBlocks(1);
  });

  it('a bad LOOPWATCH_PROMETHEUS_PORT: one warning naming the variable, no endpoint', async () => {
    const child = spawnFixture('http-app.cjs', { env: { LOOPWATCH_PROMETHEUS_PORT: '70000' } });
    await child.port();
    const warned = warnings(child.stderr, 'LOOPWATCH_WARN_INVALID_ENV');
    expect(warned, child.stderr).toHaveLength(1);
    expect(warned[0]).toMatch(/LOOPWATCH_PROMETHEUS_PORT="70000" is not valid \(allowed: a TCP port from 1 to 65535\)/);
  });

  it('start({ prometheusPort }) serves it too, and stop() closes it', async () => {
    const metricsPort = await freePort();
    const child = spawnFixture('prom-start.cjs', { loader: 'none', args: [String(metricsPort)] });
    await child.waitForStdout(/^\{"started":true/);
    const res = await pollUntil(() => scrapeEndpoint(metricsPort), { timeoutMs: 5000, what: 'the endpoint started by start()', intervalMs: 50 }, () => child.describe()).catch(() => undefined);
    expect(res?.status, child.describe()).toBe(200);
    expect(parseExposition(res!.body).get(BLOCK_ONGOING.prometheus)?.type).toBe('gauge');
    child.proc.kill('SIGUSR2');
    await child.waitForStdout('stopped');
    await expect(scrapeEndpoint(metricsPort)).rejects.toThrow(/ECONNREFUSED/);
  });

  it.each<Loader>(['require', 'import'])('--%s: a script that only loads the agent with the port set exits 0 by itself, same output', async (loader) => {
    const bare = spawnFixture('hello.cjs', { loader: 'none' });
    expect(await bare.waitForExit(5000)).toEqual({ code: 0, signal: null });
    const metricsPort = await freePort();
    const withAgent = spawnFixture('hello.cjs', { loader, env: endpointEnv(metricsPort) });
    expect(await withAgent.waitForExit(5000)).toEqual({ code: 0, signal: null });
    expect(withAgent.stdout).toBe(bare.stdout);
    expect(withAgent.stderr).toBe(bare.stderr);
  });
});
