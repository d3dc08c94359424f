/**
 * The in-flight ledger (main-thread/inflight.ts): its bound, run() as a ledger job, and how
 * a stack tells code resumed from the microtask queue from a callback of Node's own.
 */
import { describe, expect, it } from 'vitest';
import { Ledger, LEDGER_MAX, ledger, resumedFromQueue, runInLedger } from '../../src/main-thread/inflight.js';

/** A call site as V8 hands it to prepareStackTrace, reduced to what resumedFromQueue reads. */
function site(fn: string, file: string, isAsync = false) {
  return { getFunctionName: () => fn, getFileName: () => file, isAsync: () => isAsync };
}
const app = (fn: string) => site(fn, '/srv/app.js');
const node = (fn: string) => site(fn, 'node:internal/timers');

describe('resumedFromQueue', () => {
  it('after an await: app frames, then only async frames', () => {
    expect(resumedFromQueue([app('burnCpu'), app('handler'), site('Server.<anonymous>', '/srv/app.js', true)], 64)).toBe(true);
  });
  it("in a microtask Node's queue runner drained (nextTick queue, or inside a timer's runNextTicks)", () => {
    expect(resumedFromQueue([app('burnCpu'), site('processTicksAndRejections', 'node:internal/process/task_queues')], 64)).toBe(true);
    expect(resumedFromQueue([app('burnCpu'), site('runNextTicks', 'node:internal/process/task_queues'), node('listOnTimeout'), node('processTimers')], 64)).toBe(true);
  });
  it("in a callback of Node's own: a timer, a request's parser, a stream's nextTick", () => {
    expect(resumedFromQueue([app('burnCpu'), app('Timeout._onTimeout'), node('listOnTimeout'), node('processTimers')], 64)).toBe(false);
    expect(resumedFromQueue([app('burnCpu'), site('Server.emit', 'node:events'), site('parserOnIncoming', 'node:_http_server')], 64)).toBe(false);
    expect(resumedFromQueue([app('onEnd'), site('endReadableNT', 'node:internal/streams/readable'), site('processTicksAndRejections', 'node:internal/process/task_queues')], 64)).toBe(false);
  });
  it('built-ins above the app frames do not count; a stack of Node frames only is no continuation', () => {
    expect(resumedFromQueue([site('JSON.parse', ''), app('load'), site('x', '/srv/app.js', true)], 64)).toBe(true);
    expect(resumedFromQueue([node('listOnTimeout'), node('processTimers')], 64)).toBe(false);
  });
  it('null when the stack was cut at the limit before its bottom', () => {
    const deep = Array.from({ length: 8 }, (_, i) => app(`f${i}`));
    expect(resumedFromQueue(deep, 8)).toBeNull();
    expect(resumedFromQueue(deep, 64)).toBe(true);
  });
});

describe('Ledger', () => {
  /** A request as the ledger sees it: its socket says whether the client went away. */
  const req = (destroyed = false) => ({ socket: { destroyed } });

  it(`holds at most ${LEDGER_MAX} entries: a full one drops those whose socket is destroyed, then the oldest`, () => {
    const l = new Ledger();
    const keys = [req(true), ...Array.from({ length: LEDGER_MAX + 9 }, () => req())];
    for (const key of keys) l.add(key);
    expect(l.size).toBe(LEDGER_MAX);
    expect(l.has(keys[0])).toBe(false);
    expect(l.has(keys[1])).toBe(false);
    expect(l.has(keys[keys.length - 1])).toBe(true);
  });
  it('live() skips destroyed sockets and counts past its scan limit', () => {
    const l = new Ledger();
    for (let i = 0; i < 300; i++) l.add(req(i % 3 === 0));
    const { entries, total } = l.live();
    expect(total).toBe(200);
    expect(entries.length).toBe(200);
  });
  it("a request's store is made once, when asked for, and only while it is in flight", () => {
    const l = new Ledger();
    const r = req();
    expect(l.storeFor(r)).toBeUndefined();
    l.add(r);
    const store = l.storeFor(r);
    expect(store).toEqual({ kind: 'http', req: r });
    expect(l.storeFor(r)).toBe(store);
    l.finish(r);
    expect(l.storeFor(r)).toBeUndefined();
  });
});

describe('Ledger.scheduling', () => {
  /** A timer's `_idleStart` for "now", as Node sets it when the timer is scheduled. */
  function idleNow(): number {
    const t = setTimeout(() => undefined, 1000) as unknown as { _idleStart: number };
    clearTimeout(t as never);
    return t._idleStart;
  }
  it('names what was in flight when a timer was scheduled, finished since or not, and not what started later', async () => {
    const l = new Ledger();
    const before = {};
    l.add(before, { kind: 'http', path: '/a' });
    await new Promise((r) => setTimeout(r, 20));
    const scheduled = idleNow();
    l.finish(before);
    await new Promise((r) => setTimeout(r, 20));
    l.add({}, { kind: 'http', path: '/later' });
    const { entries } = l.scheduling(scheduled);
    expect(entries.map((e) => e.store?.path)).toEqual(['/a']);
  });
  it('nothing for a timer scheduled while nothing was in flight', async () => {
    const l = new Ledger();
    const a = {};
    l.add(a, { kind: 'http' });
    l.finish(a);
    await new Promise((r) => setTimeout(r, 20));
    expect(l.scheduling(idleNow()).total).toBe(0);
  });
});

describe('runInLedger', () => {
  it('the job is current while its synchronous part runs and in flight until its promise settles', async () => {
    const store = { kind: 'job', job: 'a' };
    let release!: () => void;
    const seen: unknown[] = [];
    const done = runInLedger(store, async () => {
      seen.push(ledger().current);
      await new Promise<void>((r) => (release = r));
    });
    expect(seen).toEqual([store]);
    expect(ledger().current).toBeUndefined();
    expect(ledger().live().entries.map((e) => e.store)).toContain(store);
    release();
    await done;
    expect(ledger().live().entries.map((e) => e.store)).not.toContain(store);
  });
  it('a rejection passes through as it was, and the job leaves the ledger', async () => {
    const store = { kind: 'job' };
    const err = new Error('boom');
    await expect(runInLedger(store, async () => { throw err; })).rejects.toBe(err);
    expect(ledger().live().entries.map((e) => e.store)).not.toContain(store);
  });
  it('a synchronous throw and a plain value leave no entry behind', () => {
    const a = { kind: 'job' };
    const b = { kind: 'job' };
    expect(() => runInLedger(a, () => { throw new Error('sync'); })).toThrow('sync');
    expect(runInLedger(b, () => 42)).toBe(42);
    const stores = ledger().live().entries.map((e) => e.store);
    expect(stores).not.toContain(a);
    expect(stores).not.toContain(b);
  });
});
