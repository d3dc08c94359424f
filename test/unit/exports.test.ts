import { createRequire } from 'node:module';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../', import.meta.url));
const require = createRequire(`${root}package.json`);

// The public surface, pinned: a change here is a change of the package's API.
const PROMETHEUS_NAMES = ['registerMetrics'];
const INDEX_NAMES = ['DEFAULTS', 'ERROR_CODES', 'LoopwatchBlockedError', 'LoopwatchError', 'LoopwatchRangeError', 'LoopwatchTypeError', 'WARNING_CODES', 'assertNoBlock', 'current', 'run', 'start'];
const KOA_NAMES = ['koa'];

describe('package exports', () => {
  it('has a build to test', () => {
    expect(existsSync(`${root}dist/index.cjs`), 'run `npm run build` first').toBe(true);
  });

  it('loopwatch: same names from require and import', async () => {
    const cjs = require('loopwatch');
    const esm = await import('loopwatch');
    expect(Object.keys(cjs).sort()).toEqual(INDEX_NAMES);
    expect(Object.keys(esm).filter((k) => k !== 'default').sort()).toEqual(INDEX_NAMES);
  });

  it('loopwatch/otel: same names from require and import', async () => {
    const names = ['BLOCK_SPAN_ATTRIBUTES', 'BLOCK_SPAN_NAME', 'INSTRUMENTATION_SCOPE', 'useOpenTelemetry'];
    const cjs = require('loopwatch/otel');
    const esm = await import('loopwatch/otel');
    expect(Object.keys(cjs).sort()).toEqual(names);
    expect(Object.keys(esm).filter((k) => k !== 'default').sort()).toEqual(names);
    expect(cjs.BLOCK_SPAN_NAME).toBe('event_loop.block');
    expect(require.resolve('loopwatch/otel')).toMatch(/dist[/\\]otel\.cjs$/);
  });

  it('the loopwatch bin is the CommonJS CLI build, a node script', () => {
    const pkg = require('loopwatch/package.json') as { bin: Record<string, string> };
    expect(pkg.bin).toEqual({ loopwatch: './dist/cli.cjs' });
    expect(readFileSync(`${root}dist/cli.cjs`, 'utf8').startsWith('#!/usr/bin/env node\n')).toBe(true);
  });

  it('loopwatch/register resolves both ways (side effects only, no exports)', () => {
    expect(require.resolve('loopwatch/register')).toMatch(/dist[/\\]register\.cjs$/);
    expect(import.meta.resolve?.('loopwatch/register') ?? 'dist/register.js').toMatch(/dist[/\\]register\.js$/);
  });

  it('loopwatch/koa: same names from require and import, a middleware factory both ways', async () => {
    const cjs = require('loopwatch/koa');
    const esm = await import('loopwatch/koa');
    expect(Object.keys(cjs).sort()).toEqual(KOA_NAMES);
    expect(Object.keys(esm).filter((k) => k !== 'default').sort()).toEqual(KOA_NAMES);
    expect(require.resolve('loopwatch/koa')).toMatch(/dist[/\\]koa\.cjs$/);
    expect(typeof cjs.koa()).toBe('function');
    expect(typeof esm.koa()).toBe('function');
  });

  it('loopwatch/prometheus: same names from require and import, types for both', async () => {
    expect(require.resolve('loopwatch/prometheus')).toMatch(/dist[/\\]prometheus\.cjs$/);
    const cjs = require('loopwatch/prometheus');
    const esm = await import('loopwatch/prometheus');
    expect(Object.keys(cjs).sort()).toEqual(PROMETHEUS_NAMES);
    expect(Object.keys(esm).filter((k) => k !== 'default').sort()).toEqual(PROMETHEUS_NAMES);
    expect(typeof cjs.registerMetrics).toBe('function');
    expect(existsSync(`${root}dist/prometheus.d.ts`) && existsSync(`${root}dist/prometheus.d.cts`)).toBe(true);
  });
});
