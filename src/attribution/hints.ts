import type { Frame } from './frames.js';

/**
 * What a blocking library call is and what to do instead. One table: add a row to teach
 * loopwatch a new call.
 *
 * A row matches a frame of a sample by function name (`fn`), optionally restricted to a file
 * (`file`: Node internals keep their module path, dependencies their node_modules path;
 * V8 built-ins such as `JSON.parse` or `Array.sort` have no file). Many long calls never show
 * up as a frame: V8 serves the sampling interrupt only when native code returns to
 * JavaScript, by which time `JSON.parse` or `gzipSync` has returned. For those, `call`
 * matches the text of the app's source lines around the culprit (see source-hints.ts), which
 * is looked at only when the samples show such a wait.
 */
export interface HintRule {
  /** A short name for tests and docs. */
  name: string;
  fn: RegExp;
  file?: RegExp;
  /** The call as written in source code. */
  call?: RegExp;
  hint: string;
}

const FS_SYNC = 'readFileSync|writeFileSync|appendFileSync|readdirSync|statSync|lstatSync|existsSync|copyFileSync|cpSync|rmSync|mkdirSync|readSync|writeSync|openSync|fsyncSync';
const ZLIB_SYNC = 'gzipSync|gunzipSync|deflateSync|inflateSync|deflateRawSync|inflateRawSync|unzipSync|brotliCompressSync|brotliDecompressSync|zstdCompressSync|zstdDecompressSync';
const CHILD_SYNC = 'execSync|execFileSync|spawnSync';
const REGEX_FNS = 'RegExp\\.(?:test|exec|\\[Symbol\\.(?:replace|match|matchAll|split|search)\\])|String\\.(?:replace|replaceAll|match|matchAll|split|search)';

export const HINTS: readonly HintRule[] = [
  {
    name: 'JSON.parse',
    fn: /^JSON\.parse$/,
    call: /\bJSON\.parse\s*\(/,
    hint: 'JSON.parse of a large payload blocks the loop; limit the body size, parse in a worker thread, or use a streaming parser',
  },
  {
    name: 'JSON.stringify',
    fn: /^JSON\.stringify$/,
    call: /\bJSON\.stringify\s*\(/,
    hint: 'JSON.stringify of a large value blocks the loop; send less (paginate), serialize in a worker thread, or stream the output',
  },
  {
    name: 'pbkdf2Sync',
    fn: /^pbkdf2Sync$/,
    file: /crypto/,
    call: /\bpbkdf2Sync\s*\(/,
    hint: 'crypto.pbkdf2Sync blocks the loop; use crypto.pbkdf2 (async, runs on the libuv pool)',
  },
  {
    name: 'scryptSync',
    fn: /^scryptSync$/,
    file: /crypto/,
    call: /\bscryptSync\s*\(/,
    hint: 'crypto.scryptSync blocks the loop; use crypto.scrypt (async, runs on the libuv pool)',
  },
  {
    name: 'crypto *Sync',
    fn: /^(generateKeyPairSync|generatePrimeSync|randomFillSync|hkdfSync)$/,
    file: /crypto/,
    call: /\b(generateKeyPairSync|generatePrimeSync|hkdfSync)\s*\(/,
    hint: 'a synchronous crypto call blocks the loop; use its async form (runs on the libuv pool)',
  },
  {
    name: 'bcrypt hashSync',
    fn: /^(hashSync|compareSync|genSaltSync)$/,
    file: /node_modules[\\/](bcryptjs|bcrypt)[\\/]/,
    call: /\b(hashSync|compareSync)\s*\(/,
    hint: 'bcrypt hashSync/compareSync block the loop for the whole (deliberately slow) hash; use the async hash/compare or a worker thread',
  },
  {
    name: 'fs *Sync',
    fn: new RegExp(`^(${FS_SYNC})$`),
    file: /^node:fs$|fs/,
    call: new RegExp(`\\b(${FS_SYNC})\\s*\\(`),
    hint: 'synchronous file system calls block the loop; use fs/promises or streams',
  },
  {
    name: 'zlib *Sync',
    fn: new RegExp(`^(${ZLIB_SYNC}|zlibBufferSync|syncBufferWrapper|processChunkSync)$`),
    file: /zlib/,
    call: new RegExp(`\\b(${ZLIB_SYNC})\\s*\\(`),
    hint: 'zlib *Sync calls block the loop; use the async zlib functions (libuv pool) or zlib streams',
  },
  {
    name: 'child_process *Sync',
    fn: new RegExp(`^(${CHILD_SYNC})$`),
    file: /child_process/,
    call: new RegExp(`\\b(${CHILD_SYNC})\\s*\\(`),
    hint: 'child_process *Sync calls block the loop until the child exits; use exec/execFile/spawn (async)',
  },
  {
    name: 'RegExp',
    fn: new RegExp(`^(${REGEX_FNS})$`),
    hint: 'a regular expression is backtracking over its input; bound the input length, rewrite the pattern without nested quantifiers, or match in a worker thread',
  },
  {
    name: 'Atomics.wait',
    fn: /^Atomics\.wait$/,
    call: /\bAtomics\.wait\s*\(/,
    hint: 'Atomics.wait puts the thread to sleep until it is notified or times out; use Atomics.waitAsync on the main thread, or wait in a worker thread',
  },
  {
    name: 'Array sort',
    fn: /^(Array|[A-Za-z0-9]+Array)\.(sort|toSorted)$/,
    hint: 'sorting a large array blocks the loop; sort less (paginate, keep the data sorted, let the database sort) or sort in a worker thread',
  },
];

function ruleFor(frame: Frame): HintRule | undefined {
  if (frame.origin === 'app') return undefined;
  return HINTS.find((rule) => rule.fn.test(frame.function) && (!rule.file || rule.file.test(frame.file)));
}

/** Whether a frame is one of the blocking library calls of the table. */
export function isKnownBlockingCall(frame: Frame): boolean {
  return ruleFor(frame) !== undefined;
}

/** The rule of the first known blocking call seen in any sample, innermost first. */
export function findRule(samples: readonly { frames: Frame[] }[]): HintRule | null {
  for (const sample of samples) {
    for (const frame of sample.frames) {
      const rule = ruleFor(frame);
      if (rule) return rule;
    }
  }
  return null;
}

/** The hint for the first known blocking call seen in any sample, innermost first. */
export function findHint(samples: readonly { frames: Frame[] }[]): string | null {
  return findRule(samples)?.hint ?? null;
}

/** The rule whose call appears in a line of source text, or null. */
export function ruleForSource(line: string): HintRule | null {
  return HINTS.find((rule) => rule.call?.test(line)) ?? null;
}
