/** GET /metrics from this process, with the response headers and how long it took. */
import { type Agent, get, type IncomingHttpHeaders } from 'node:http';

export interface Scrape {
  status: number;
  body: string;
  headers: IncomingHttpHeaders;
  /** From sending the request to the end of the body. */
  ms: number;
}

export function scrape(port: number, opts: { accept?: string; path?: string; timeoutMs?: number; agent?: Agent } = {}): Promise<Scrape> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const req = get({ host: '127.0.0.1', port, path: opts.path ?? '/metrics', agent: opts.agent ?? false, headers: opts.accept ? { accept: opts.accept } : {} }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers, ms: performance.now() - t0 }));
      res.on('error', reject);
    });
    req.setTimeout(opts.timeoutMs ?? 10_000, () => req.destroy(new Error(`GET ${opts.path ?? '/metrics'} on port ${port}: no answer in time`)));
    req.on('error', reject);
  });
}
