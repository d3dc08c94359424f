/**
 * The standalone /metrics endpoint, served from the watchdog worker so that it answers while
 * the main thread is blocked (and shows that block as it grows). It exports loopwatch's own
 * series only; the app's prom-client registry, if any, stays on the app's own server.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { contentType, type ExpositionFormat, negotiate } from '../metrics/exposition.js';

export interface EndpointOptions {
  port: number;
  host: string;
  /** Renders the metrics at scrape time. */
  render(format: ExpositionFormat): string;
  /** Once bound. */
  onListening(address: { port: number; host: string }): void;
  /** The number of open connections changed (a scraper connected, or its connection closed). */
  onConnections(open: number): void;
  /** Binding failed (port in use, bad host) or the server broke: the endpoint is gone. */
  onError(message: string): void;
}

export interface Endpoint {
  close(): void;
}

/** Bounds for a server inside someone else's process: few sockets, short timeouts. */
const MAX_CONNECTIONS = 32;
const HEADERS_TIMEOUT_MS = 5_000;
const REQUEST_TIMEOUT_MS = 10_000;

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

  const server = createServer({ headersTimeout: HEADERS_TIMEOUT_MS, requestTimeout: REQUEST_TIMEOUT_MS }, (req, res) => {
    try {
      handle(req, res);
    } catch {
      res.destroy();
    }
  });
  server.maxConnections = MAX_CONNECTIONS;
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
  server.on('error', (err: NodeJS.ErrnoException) => {
    const why = err.code === 'EADDRINUSE' ? 'the port is in use'
      : err.code === 'EACCES' ? 'permission denied'
      : err.code === 'ENOTFOUND' || err.code === 'EAI_AGAIN' ? 'the host does not resolve'
      : err.code === 'EADDRNOTAVAIL' ? 'the address is not on this machine'
      : err.message;
    fail(server, `loopwatch cannot serve Prometheus metrics on ${formatAddress(opts.host, opts.port)} (${why}); the agent runs on without the endpoint`);
  });
  server.on('listening', () => {
    const a = server.address();
    if (a && typeof a === 'object') opts.onListening({ port: a.port, host: a.address });
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

function formatAddress(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}
