import { describe, expect, it } from 'vitest';
import { LATE_SAMPLE_MS, type Sample } from '../../src/attribution/culprit.js';
import type { Frame } from '../../src/attribution/frames.js';
import { readSource } from '../../src/attribution/source-hints.js';

const FILE = 'src/service.js';
const SOURCE = `'use strict';
function parseReport(deadline) {
  let rows = 0;
  while (Date.now() < deadline) {
    const report = JSON.parse(reportJson);
    rows += report.rows.length;
  }
  return rows;
}

function send(res, status, body) {
  res.end(JSON.stringify(body));
}

const routes = {
  '/json': (_req, res) => send(res, 200, { rows: parseReport(Date.now() + 150) }),
  '/two': (_req, res) => send(res, 200, { a: parseReport(1), b: format(2) }),
};

function format(x) {
  return String(x);
}

function record(kind, start) {
  emit({ kind, start, end: now() });
}

function emit(obj) {
  process.stdout.write(JSON.stringify(obj));
}

function now() {
  return performance.now();
}

function handleUpload(body) {
  const rows = JSON.parse(body);
  return summarize(rows);
}
`.split('\n');

const lineOf = (text: string): number => SOURCE.findIndex((l) => l.includes(text)) + 1;
const app = (fn: string, line: number, atEntry = false): Frame => ({ function: fn, file: FILE, line, column: 5, inApp: true, atEntry, origin: 'app' });
const node = (fn: string, atEntry = false): Frame => ({ function: fn, file: 'node:internal/console/constructor', line: 1, column: 1, inApp: false, atEntry, origin: 'node' });
const read = (file: string): string[] | null => (file === FILE ? SOURCE : null);
const late = (frames: Frame[], latencyMs = 120): Sample => ({ frames, latencyMs });

describe('readSource', () => {
  it('does not name a call that encloses the fresh call: it runs after it', () => {
    // Measured on Node 26 with a single long JSON.parse: the sample is served at now's entry,
    // inside emit's arguments; emit has not run yet.
    const line = lineOf('emit({ kind');
    const column = SOURCE[line - 1].indexOf('now()') + 1;
    const frames = [app('now', lineOf('function now'), true), { ...app('record', line), column }];
    const found = readSource(late(frames), read);
    expect(found.inferred).toBeNull();
  });

  it('names the function called just before a fresh call when the stack no longer holds it', () => {
    // Measured on the demo's /json: the loop of JSON.parse has no stack check inside, so the
    // sample is served at send's entry, after parseReport has returned.
    const line = lineOf("'/json'");
    const found = readSource(late([app('send', lineOf('function send'), true), app('/json', line)]), read);
    expect(found.inferred).toMatchObject({ function: 'parseReport', file: FILE, line: lineOf('function parseReport'), inApp: true });
    expect(found.rule?.name).toBe('JSON.parse');
  });

  it('infers nothing when the line calls several app functions, and hints only from lines before the call', () => {
    const found = readSource(late([app('send', lineOf('function send'), true), app('/two', lineOf("'/two'"))]), read);
    expect(found.inferred).toBeNull();
    // The lines before '/two' in the same function: none calls a known blocking function.
    expect(found.rule).toBeNull();
  });

  it('finds the call just before a fresh call (one huge JSON.parse, then the next function)', () => {
    const found = readSource(late([app('summarize', 1, true), app('handleUpload', lineOf('return summarize'))]), read);
    expect(found.inferred).toBeNull();
    expect(found.rule?.name).toBe('JSON.parse');
  });

  it('finds the call in the loop body when the sample resumes at the loop head', () => {
    const found = readSource(late([app('parseReport', lineOf('while (Date.now() < deadline)')), app('/json', lineOf("'/json'"))]), read);
    expect(found.rule?.name).toBe('JSON.parse');
  });

  it('does nothing for a prompt sample, a known call on the stack, or an unreadable file', () => {
    const frames = [app('parseReport', lineOf('while (Date.now() < deadline)'))];
    expect(readSource(late(frames, LATE_SAMPLE_MS / 2), read)).toEqual({ inferred: null, rule: null });
    const withCall: Frame = { ...node('pbkdf2Sync'), file: 'node:internal/crypto/pbkdf2' };
    expect(readSource(late([withCall, ...frames]), read)).toEqual({ inferred: null, rule: null });
    expect(readSource(late([{ ...frames[0], file: 'src/missing.js' }]), read)).toEqual({ inferred: null, rule: null });
    expect(readSource(late([{ ...frames[0], line: 999 }]), read)).toEqual({ inferred: null, rule: null });
  });

  it('does not look past the start of the function for a call', () => {
    // console.log('done') right after a timer callback's start: the JSON.stringify two lines
    // up belongs to another function.
    const src = ['whenReady(() => {', '  console.log(JSON.stringify({ ready: true }));', '  setTimeout(() => {', '    run(kind);', "    console.log('done');", '  }, 20);', '});'];
    const found = readSource(late([node('log', true), app('Timeout._onTimeout', 5)]), (f) => (f === FILE ? src : null));
    expect(found).toEqual({ inferred: null, rule: null });
  });
});
