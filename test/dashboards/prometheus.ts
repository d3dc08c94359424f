/**
 * A real Prometheus for the end-to-end test: a temporary config and data directory, a
 * loopback listen address, our rule file, and a client for the HTTP API. Started as a
 * child process and stopped by its PID (SIGTERM, wait; SIGKILL if it lingers).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from '../helpers/poll.js';

/** Whether a process with this PID exists (signal 0 checks without sending anything). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export interface PrometheusOptions {
  binary: string;
  job: string;
  /** host:port of each target. */
  targets: string[];
  ruleFiles: string[];
  /** Scrape and rule evaluation interval. */
  intervalSeconds: number;
}

export interface Sample {
  metric: Record<string, string>;
  value?: [number, string];
  values?: [number, string][];
}

export interface Alert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  state: 'pending' | 'firing';
  activeAt: string;
  value: string;
}

const OUTPUT_LIMIT = 64 * 1024;

export class Prometheus {
  readonly dir: string;
  readonly port: number;
  readonly proc: ChildProcess;
  readonly closed: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  exit: { code: number | null; signal: NodeJS.Signals | null } | null = null;
  output = '';

  private constructor(opts: PrometheusOptions, port: number) {
    this.port = port;
    this.dir = mkdtempSync(join(tmpdir(), 'loopwatch-prometheus-'));
    const config = [
      'global:',
      `  scrape_interval: ${opts.intervalSeconds}s`,
      `  scrape_timeout: ${opts.intervalSeconds}s`,
      `  evaluation_interval: ${opts.intervalSeconds}s`,
      'rule_files:',
      ...opts.ruleFiles.map((f) => `  - ${JSON.stringify(f)}`),
      'scrape_configs:',
      `  - job_name: ${JSON.stringify(opts.job)}`,
      '    static_configs:',
      `      - targets: ${JSON.stringify(opts.targets)}`,
      '',
    ].join('\n');
    writeFileSync(join(this.dir, 'prometheus.yml'), config);
    this.proc = spawn(opts.binary, [
      `--config.file=${join(this.dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(this.dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ], { cwd: this.dir, stdio: ['ignore', 'pipe', 'pipe'] });
    const keep = (chunk: Buffer): void => {
      this.output = (this.output + chunk.toString('utf8')).slice(-OUTPUT_LIMIT);
    };
    this.proc.stdout!.on('data', keep);
    this.proc.stderr!.on('data', keep);
    this.closed = new Promise((resolve) => {
      this.proc.on('close', (code, signal) => {
        this.exit = { code, signal };
        resolve(this.exit);
      });
    });
    this.proc.on('error', (err) => {
      keep(Buffer.from(`spawn error: ${err.message}\n`));
      this.exit ??= { code: null, signal: null };
    });
  }

  /** Starts Prometheus and resolves once /-/ready answers 200; stops it again on failure. */
  static async start(opts: PrometheusOptions, timeoutMs = 30_000): Promise<Prometheus> {
    const p = new Prometheus(opts, await freePort());
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      if (p.exit) throw new Error(`Prometheus exited at startup\n${p.describe()}`);
      try {
        const res = await fetch(`${p.base}/-/ready`, { signal: AbortSignal.timeout(2_000) });
        if (res.ok) return p;
      } catch {
        // not listening yet
      }
      if (performance.now() > deadline) {
        await p.stop();
        throw new Error(`Prometheus not ready within ${timeoutMs} ms\n${p.describe()}`);
      }
      await sleep(100);
    }
  }

  get pid(): number {
    return this.proc.pid!;
  }

  get base(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  describe(): string {
    return `prometheus (pid ${this.proc.pid}, ${this.exit ? `exited ${JSON.stringify(this.exit)}` : 'running'}) on ${this.base}\n--- output ---\n${this.output.slice(-4000)}`;
  }

  async api<T>(path: string, params: Record<string, string | string[]>): Promise<T> {
    const body = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) for (const one of Array.isArray(v) ? v : [v]) body.append(k, one);
    const res = await fetch(`${this.base}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body,
      signal: AbortSignal.timeout(10_000),
    });
    const json = (await res.json()) as { status: string; data: T; error?: string; errorType?: string };
    if (json.status !== 'success') throw new Error(`${path} ${JSON.stringify(params)}: ${json.errorType}: ${json.error}`);
    return json.data;
  }

  async query(expr: string, time?: number): Promise<Sample[]> {
    const data = await this.api<{ resultType: string; result: Sample[] }>('/api/v1/query', { query: expr, ...(time ? { time: String(time) } : {}) });
    if (data.resultType !== 'vector') throw new Error(`expected a vector from ${expr}, got ${data.resultType}`);
    return data.result;
  }

  async queryRange(expr: string, start: number, end: number, stepSeconds: number): Promise<Sample[]> {
    const data = await this.api<{ resultType: string; result: Sample[] }>('/api/v1/query_range', {
      query: expr, start: String(start), end: String(end), step: String(stepSeconds),
    });
    if (data.resultType !== 'matrix') throw new Error(`expected a matrix from ${expr}, got ${data.resultType}`);
    return data.result;
  }

  async series(match: string, start: number, end: number): Promise<Record<string, string>[]> {
    return this.api<Record<string, string>[]>('/api/v1/series', { 'match[]': match, start: String(start), end: String(end) });
  }

  async alerts(): Promise<Alert[]> {
    const res = await fetch(`${this.base}/api/v1/alerts`, { signal: AbortSignal.timeout(10_000) });
    const json = (await res.json()) as { data: { alerts: Alert[] } };
    return json.data.alerts;
  }

  /** SIGTERM by PID, wait for the exit; SIGKILL after `graceMs`. Removes the data directory. */
  async stop(graceMs = 10_000): Promise<void> {
    if (!this.exit && this.proc.pid !== undefined) {
      process.kill(this.pid, 'SIGTERM');
      const timer = setTimeout(() => {
        if (!this.exit) process.kill(this.pid, 'SIGKILL');
      }, graceMs);
      await this.closed;
      clearTimeout(timer);
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
