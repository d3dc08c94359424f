import { describe, expect, it } from 'vitest';
import { chooseCulprit, LATE_SAMPLE_MS, type Sample, sampleCulprit } from '../../src/attribution/culprit.js';
import type { Frame } from '../../src/attribution/frames.js';
import { fingerprint } from '../../src/attribution/fingerprint.js';
import { findHint } from '../../src/attribution/hints.js';

const app = (fn: string, atEntry = false): Frame => ({ function: fn, file: 'src/app.js', line: 1, column: 1, inApp: true, atEntry, origin: 'app' });
const node = (fn: string, atEntry = false, file = 'node:internal/x'): Frame => ({ function: fn, file, line: 1, column: 1, inApp: false, atEntry, origin: 'node' });
const dep = (fn: string): Frame => ({ function: fn, file: 'node_modules/lib/index.js', line: 1, column: 1, inApp: false, atEntry: false, origin: 'dependency' });
const sample = (frames: Frame[], latencyMs = 0.2): Sample => ({ frames, latencyMs });
const name = (s: Sample): string | undefined => s.frames[sampleCulprit(s)]?.function;

describe('sampleCulprit', () => {
  it('names the innermost app frame when it is resuming its own code', () => {
    expect(name(sample([app('burnCpu'), app('handler'), node('emit')]))).toBe('burnCpu');
  });

  it('skips Node internals above the app frame', () => {
    expect(name(sample([node('from'), node('pbkdf2Sync'), app('hashLoop'), app('handler')], 3))).toBe('hashLoop');
  });

  it('gives the work of a helper caught at its entry to its caller', () => {
    // while (now() < end) pbkdf2Sync(...): the late interrupt lands at now()'s entry.
    expect(name(sample([app('now', true), app('hashUntil'), app('handler')], 3))).toBe('hashUntil');
    // Same for a JavaScript loop calling a helper, served promptly.
    expect(name(sample([app('now', true), app('spin')], 0.1))).toBe('spin');
  });

  it('after a long native call, a helper that just called into Node is not the culprit', () => {
    const frames = [node('now', true, 'node:internal/perf/utils'), app('clock'), app('hashUntil')];
    expect(name(sample(frames, LATE_SAMPLE_MS + 1))).toBe('hashUntil');
    // Served promptly the same stack means JavaScript was running in clock itself.
    expect(name(sample(frames, 0.1))).toBe('clock');
  });

  it('keeps a lone app frame even at its entry', () => {
    expect(name(sample([app('only', true), node('listOnTimeout')], 3))).toBe('only');
  });

  it('falls back to dependency frames, then to anything', () => {
    expect(name(sample([node('x'), dep('slowLib'), node('y')]))).toBe('slowLib');
    expect(name(sample([node('x'), node('y')]))).toBe('x');
    expect(sampleCulprit(sample([]))).toBe(-1);
  });
});

describe('chooseCulprit', () => {
  it('takes the majority, ties to the earliest sample', () => {
    const samples = [
      sample([app('a')]),
      sample([app('b')]),
      sample([app('b')]),
    ];
    expect(chooseCulprit(samples)).toMatchObject({ sample: 1, frame: { function: 'b' }, votes: 2 });
    expect(chooseCulprit([sample([app('a')]), sample([app('b')])])?.sample).toBe(0);
    expect(chooseCulprit([])).toBeNull();
  });
});

describe('fingerprint', () => {
  it('is stable and depends on culprit and route only', () => {
    const f = fingerprint({ function: 'parse', file: 'src/a.ts' }, '/users/:id');
    expect(f).toMatch(/^[0-9a-f]{16}$/);
    expect(fingerprint({ function: 'parse', file: 'src/a.ts' }, '/users/:id')).toBe(f);
    expect(fingerprint({ function: 'parse', file: 'src/b.ts' }, '/users/:id')).not.toBe(f);
    expect(fingerprint({ function: 'parse', file: 'src/a.ts' }, '/orders')).not.toBe(f);
    // Pinned: the fingerprint must not change between releases for the same input.
    expect(fingerprint(null, null)).toBe(fingerprint(null, null));
  });
});

describe('findHint', () => {
  it('finds the blocking call among non-app frames', () => {
    expect(findHint([{ frames: [node('pbkdf2Sync', false, 'node:internal/crypto/pbkdf2'), app('h')] }])).toMatch(/pbkdf2/);
    expect(findHint([{ frames: [node('readFileSync', false, 'node:fs')] }])).toMatch(/fs\/promises/);
    expect(findHint([{ frames: [node('execSync', false, 'node:child_process')] }])).toMatch(/child_process/);
    expect(findHint([{ frames: [node('gzipSync', false, 'node:zlib')] }])).toMatch(/zlib/);
    expect(findHint([{ frames: [node('JSON.parse', false, '')] }])).toMatch(/JSON\.parse/);
    expect(findHint([{ frames: [app('readFileSync')] }])).toBeNull();
  });
});

describe('sampleCulprit after a native call inside a library wrapper', () => {
  it('keeps the app frame that called a known blocking API', () => {
    // Node 26: pbkdf2Sync's wrapper calls Buffer.from right after the native job returns.
    const frames = [node('from', true, 'node:buffer'), node('pbkdf2Sync', false, 'node:internal/crypto/pbkdf2'), app('hashLoop'), app('handler')];
    expect(name(sample(frames, 3))).toBe('hashLoop');
    // A loop of readFileSync caught at the entry of the next call.
    expect(name(sample([node('readFileSync', true, 'node:fs'), app('readAll'), app('handler')], 3))).toBe('readAll');
  });
});
