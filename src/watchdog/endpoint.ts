/**
 * The standalone /metrics endpoint, served from the watchdog worker so that it answers while
 * the main thread is blocked (and shows that block as it grows). It exports loopwatch's own
 * series only; the app's prom-client registry, if any, stays on the app's own server.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import type { BlockMetrics } from '../metrics/block-store.js';
import { contentType, type ExpositionFormat, negotiate, render } from '../metrics/exposition.js';
import { buildFamilies } from '../metrics/families.js';
import { LoopStatsReader } from '../metrics/loop-stats.js';
import type { SharedState } from '../shared/shared-state.js';

export interface EndpointOptions {
  port: number;
  host: string;
  /** Renders the metrics at scrape time. */
  render(format: ExpositionFormat): string;
  /** The number of open connections changed (a scraper connected, or its connection closed). */
  onConnections(open: number): void;
  /** Binding failed (port in use, bad host) or the server broke: the endpoint is gone. */
  onError(message: string): void;
}

export interface Endpoint {
  close(): void;
}

/**
 * Bounds for a server inside someone else's process: short timeouts, and a cap on sockets
 * (a connection costs a few KB; past the cap new ones are closed at once). The cap is far
 * above what scrapers open (one or two per Prometheus), so a crowd of them, as after a
 * scraper fleet restarts, is still served: test/faults/load.test.ts sends 200 at once.
 */
const MAX_CONNECTIONS = 256;
const nodeRequire = createRequire(__filename);
const HEADERS_TIMEOUT_MS = 5_000;
const REQUEST_TIMEOUT_MS = 10_000;
/**
 * Idle kept-alive connections are closed after this: while one is open the worker idles on
 * its event loop (dearer than its synchronous loop), so it should not stay open between
 * scrapes (15 s or more apart). Prometheus reconnects, and retries a GET that met a
 * connection closed while idle.
 */
const KEEP_ALIVE_TIMEOUT_MS = 2_000;

export function startEndpoint(opts: EndpointOptions): Endpoint {
  let failed = false;
  const fail = (server: Server, message: string): void => {
    if (failed) return;
    failed = true;
    try {
      server.close();
    } catch {
      // not listening
    }
    opts.onError(message);
  };

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    req.resume();
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('loopwatch serves /metrics only\n');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' }).end('method not allowed\n');
      return;
    }
    let body: string;
    const format = negotiate(req.headers.accept);
    try {
      body = opts.render(format);
    } catch (err) {
      res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' }).end(`loopwatch could not render its metrics: ${(err as Error)?.message ?? err}\n`);
      return;
    }
    res.writeHead(200, { 'content-type': contentType(format), 'content-length': Buffer.byteLength(body) });
    res.end(req.method === 'HEAD' ? undefined : body);
  };

  // Loaded here, not at import: a watchdog without the endpoint (the default) does not pay
  // for node:http in its isolate (~1 MB of RSS on Node 24, bench/idle.mjs).
  const { createServer } = nodeRequire('node:http') as typeof import('node:http');
  const server = createServer({ headersTimeout: HEADERS_TIMEOUT_MS, requestTimeout: REQUEST_TIMEOUT_MS }, (req, res) => {
    try {
      handle(req, res);
    } catch {
      res.destroy();
    }
  });
  server.maxConnections = MAX_CONNECTIONS;
  server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
  let open = 0;
  server.on('connection', (socket) => {
    open++;
    opts.onConnections(open);
    socket.once('close', () => {
      open--;
      opts.onConnections(open);
    });
  });
  server.on('clientError', (_err, socket) => socket.destroy());
  server.on('error', (err: NodeJS.ErrnoException & { address?: string }) => {
    fail(server, `loopwatch cannot serve Prometheus metrics on ${formatAddress(opts.host, opts.port)} (${listenProblem(err, opts.host, opts.port)}); the agent runs on without the endpoint`);
  });
  try {
    server.listen(opts.port, opts.host);
  } catch (err) {
    fail(server, `loopwatch cannot serve Prometheus metrics on ${formatAddress(opts.host, opts.port)} (${(err as Error)?.message ?? err}); the agent runs on without the endpoint`);
  }
  return {
    close(): void {
      failed = true;
      server.close();
      server.closeAllConnections?.();
    },
  };
}

/** Why listening failed, in words that point at the fix: one cause per error code. */
export function listenProblem(err: NodeJS.ErrnoException & { address?: string }, host: string, port: number): string {
  switch (err.code) {
    case 'EADDRINUSE':
      return 'the port is in use';
    case 'EACCES':
      return port < 1024 ? 'permission denied: ports below 1024 need privileges' : 'permission denied';
    case 'EADDRNOTAVAIL':
      // A name that resolved: say what it resolved to, since that is what is not here.
      return (nodeRequire('node:net') as typeof import('node:net')).isIP(host) || !err.address ? 'the address is not on this machine' : `the host name resolves to ${err.address}, which is not an address of this machine`;
    case 'EAFNOSUPPORT':
      return 'this machine does not support that address family (IPv6 disabled?)';
    case 'ENOTFOUND':
      return 'the host name does not resolve';
    case 'EAI_AGAIN':
      return 'the host name could not be resolved now (DNS temporarily unavailable)';
    default:
      return err.message;
  }
}

function formatAddress(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

export interface WorkerEndpointOptions {
  state: SharedState;
  blocks: BlockMetrics;
  port: number;
  host: string;
  heartbeatMs: number;
  thresholdMs: number;
  /** Label value of the watched thread. */
  thread: string;
  /** The main thread's performance.now(), read from this thread. */
  now: () => number;
  /** Whether a scraper is connected (the worker then idles on its event loop). */
  onConnected(connected: boolean): void;
  /** The endpoint is gone (cannot listen): one warning for the host. */
  onError(message: string): void;
}

/** The watchdog worker's endpoint: its own reading of the shared memory and its own block store. */
export function startWorkerEndpoint(o: WorkerEndpointOptions): Endpoint {
  const reader = new LoopStatsReader(o.state, { heartbeatMs: o.heartbeatMs, thresholdMs: o.thresholdMs, now: o.now });
  return startEndpoint({
    port: o.port,
    host: o.host,
    render: (format) => render(buildFamilies({ loop: reader.read(), blocks: o.blocks, thread: o.thread }), format),
    onConnections: (open) => o.onConnected(open > 0),
    onError: o.onError,
  });
}
