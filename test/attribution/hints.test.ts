/**
 * The hint table against frame lists as the probe returns them for real calls (taken from
 * block lines of test/attribution/fixtures/library-calls.cjs on Node 20 and 24), and the
 * culprit each list gives.
 */
import { describe, expect, it } from 'vitest';
import { culpritFrame, type Sample } from '../../src/attribution/culprit.js';
import type { Frame } from '../../src/attribution/frames.js';
import { findHint, findRule, HINTS, ruleForSource } from '../../src/attribution/hints.js';

type Row = [fn: string, file: string];
const APP = 'src/routes.js';

function frames(rows: Row[]): Frame[] {
  return rows.map(([fn, file]) => ({
    function: fn, file, line: 10, column: 3, atEntry: false,
    inApp: file === APP,
    origin: file === APP ? 'app' : file.includes('node_modules/') ? 'dependency' : 'node',
  }));
}

const TAIL: Row[] = [['Timeout._onTimeout', APP], ['listOnTimeout', 'node:internal/timers'], ['processTimers', 'node:internal/timers']];

/** Realistic stacks: rule name, frames, the app function that made the call. */
const STACKS: [rule: string, rows: Row[], culprit: string][] = [
  ['JSON.parse', [['Object.<anonymous>', APP], ['JSON.parse', ''], ['parseBody', APP]], 'parseBody'],
  ['JSON.stringify', [['toJSON', APP], ['JSON.stringify', ''], ['sendReport', APP]], 'sendReport'],
  ['pbkdf2Sync', [['from', 'node:buffer'], ['pbkdf2Sync', 'node:internal/crypto/pbkdf2'], ['deriveKeys', APP]], 'deriveKeys'],
  ['scryptSync', [['scryptSync', 'node:internal/crypto/scrypt'], ['hashPin', APP]], 'hashPin'],
  ['crypto *Sync', [['generateKeyPairSync', 'node:internal/crypto/keygen'], ['makeKeys', APP]], 'makeKeys'],
  ['fs *Sync', [['closeSync', 'node:fs'], ['readFileSync', 'node:fs'], ['loadTemplate', APP]], 'loadTemplate'],
  ['zlib *Sync', [['slice', 'node:buffer'], ['processChunkSync', 'node:zlib'], ['zlibBufferSync', 'node:zlib'], ['syncBufferWrapper', 'node:zlib'], ['compressBody', APP]], 'compressBody'],
  ['zlib *Sync', [['Buffer.get byteOffset', ''], ['subarray', 'node:buffer'], ['processChunkSync', 'node:zlib'], ['zlibBufferSync', 'node:zlib'], ['inflateBody', APP]], 'inflateBody'],
  ['child_process *Sync', [['getStderr', 'node:internal/bootstrap/switches/is_main_thread'], ['execSync', 'node:child_process'], ['runGitStatus', APP]], 'runGitStatus'],
  ['RegExp', [['RegExp.test', ''], ['validateInput', APP]], 'validateInput'],
  ['RegExp', [['RegExp.exec', ''], ['tokenize', APP]], 'tokenize'],
  ['RegExp', [['String.replace', ''], ['slugify', APP]], 'slugify'],
  ['RegExp', [['RegExp.[Symbol.replace]', ''], ['String.replaceAll', ''], ['escapeAll', APP]], 'escapeAll'],
  ['RegExp', [['String.match', ''], ['findTags', APP]], 'findTags'],
  ['Atomics.wait', [['Atomics.wait', ''], ['waitForLock', APP]], 'waitForLock'],
  ['Array sort', [['<anonymous>', APP], ['Array.sort', ''], ['rankScores', APP]], 'rankScores'],
  ['Array sort', [['byPrice', APP], ['Array.toSorted', ''], ['cheapestFirst', APP]], 'cheapestFirst'],
  ['Array sort', [['Float64Array.sort', ''], ['medianLatency', APP]], 'medianLatency'],
  ['bcrypt hashSync', [['_key', 'node_modules/bcryptjs/umd/index.js'], ['next', 'node_modules/bcryptjs/umd/index.js'], ['_crypt', 'node_modules/bcryptjs/umd/index.js'], ['_hash', 'node_modules/bcryptjs/umd/index.js'], ['hashSync', 'node_modules/bcryptjs/umd/index.js'], ['hashPassword', APP]], 'hashPassword'],
  ['bcrypt hashSync', [['_crypt', 'node_modules/bcryptjs/index.js'], ['compareSync', 'node_modules/bcryptjs/index.js'], ['checkLogin', APP]], 'checkLogin'],
];

describe('hint table', () => {
  for (const [rule, rows, culprit] of STACKS) {
    it(`${rule}: ${rows.map((r) => r[0]).join(' < ')} → ${culprit}`, () => {
      const sample: Sample = { frames: frames([...rows, ...TAIL]), latencyMs: 3 };
      expect(findRule([sample])?.name).toBe(rule);
      expect(findHint([sample])).toBe(HINTS.find((h) => h.name === rule)?.hint);
      expect(culpritFrame(sample)?.function).toBe(culprit);
    });
  }

  it('every rule is covered by a stack above, and each hint names an alternative', () => {
    expect(new Set(STACKS.map((s) => s[0]))).toEqual(new Set(HINTS.map((h) => h.name)));
    for (const h of HINTS) expect(h.hint, h.name).toMatch(/; (use|limit|send|sort|bound)/);
  });

  it('app functions with a library name are not library calls', () => {
    const sample: Sample = { frames: frames([['readFileSync', APP], ['JSON.parse', APP], ...TAIL]), latencyMs: 3 };
    expect(findHint([sample])).toBeNull();
    expect(findHint([{ frames: frames([['pbkdf2Sync', 'node_modules/other/index.js'], ['x', APP]]) }])).toBeNull();
  });

  it('matches calls as written in source lines', () => {
    const cases: [string, string | null][] = [
      ['const data = JSON.parse(body);', 'JSON.parse'],
      ['res.end(JSON.stringify(rows))', 'JSON.stringify'],
      ['crypto.pbkdf2Sync(pw, salt, 1e5, 64, "sha512")', 'pbkdf2Sync'],
      ['const { scryptSync } = require("node:crypto"); scryptSync(a, b, 64)', 'scryptSync'],
      ['const html = fs.readFileSync(file, "utf8")', 'fs *Sync'],
      ['zlib.gunzipSync(buf)', 'zlib *Sync'],
      ['execSync("git status")', 'child_process *Sync'],
      ['bcrypt.compareSync(pw, hash)', 'bcrypt hashSync'],
      ['const parsed = parseJSON(body)', null],
      ['// JSON.parse is slow', null],
    ];
    for (const [line, rule] of cases) expect(ruleForSource(line)?.name ?? null, line).toBe(rule);
  });
});
