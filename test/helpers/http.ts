/**
 * Requests to a fixture's node:http server on 127.0.0.1, made from the test process (never
 * from the blocked one).
 */
import { type ClientRequest, get as httpGet } from 'node:http';

const requests = new Set<ClientRequest>();

/** Destroys every request still in flight (a fixture killed while blocked never answers). */
export function abortRequests(): void {
  for (const req of requests) req.destroy();
  requests.clear();
}

export interface Response {
  status: number;
  body: string;
}

/**
 * A GET to the fixture's server on 127.0.0.1, from this (unblocked) process. No keep-alive,
 * so a fixture that closes its server can exit right away.
 */
export function startRequest(port: number, path: string): { req: ClientRequest; response: Promise<Response> } {
  let req!: ClientRequest;
  const response = new Promise<Response>((resolve, reject) => {
    req = httpGet({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => {
        requests.delete(req);
        resolve({ status: res.statusCode ?? 0, body });
      });
      res.on('error', reject);
    });
    req.on('error', (err) => {
      requests.delete(req);
      reject(err);
    });
  });
  requests.add(req);
  // Requests aborted by cleanup() must not surface as unhandled rejections.
  response.catch(() => undefined);
  return { req, response };
}

export async function request(port: number, path: string, timeoutMs = 10_000): Promise<Response> {
  const { req, response } = startRequest(port, path);
  const timer = setTimeout(() => req.destroy(new Error(`GET ${path}: no response within ${timeoutMs} ms`)), timeoutMs);
  try {
    return await response;
  } finally {
    clearTimeout(timer);
  }
}

