import type { Frame } from './frames.js';

/**
 * What a blocking library call is and what to do instead. One table: add a row to teach
 * loopwatch a new call. A row matches a frame of any sample by function name, optionally
 * restricted to a file (Node internals keep their module path).
 */
export interface HintRule {
  fn: RegExp;
  file?: RegExp;
  hint: string;
}

export const HINTS: readonly HintRule[] = [
  { fn: /^pbkdf2Sync$/, file: /crypto/, hint: 'crypto.pbkdf2Sync blocks the loop; use crypto.pbkdf2 (async, runs on the libuv pool)' },
  { fn: /^scryptSync$/, file: /crypto/, hint: 'crypto.scryptSync blocks the loop; use crypto.scrypt (async, runs on the libuv pool)' },
  { fn: /^(generateKeyPairSync|randomFillSync|hkdfSync)$/, file: /crypto/, hint: 'a synchronous crypto call blocks the loop; use its async form' },
  { fn: /^(readFileSync|writeFileSync|appendFileSync|readdirSync|statSync|existsSync|copyFileSync|readSync|writeSync)$/, file: /^node:fs$|fs/, hint: 'synchronous file system calls block the loop; use fs/promises or streams' },
  { fn: /^(gzipSync|gunzipSync|deflateSync|inflateSync|brotliCompressSync|brotliDecompressSync|zlibBufferSync|unzipSync)$/, file: /zlib/, hint: 'zlib *Sync calls block the loop; use the async zlib functions or streams' },
  { fn: /^(execSync|execFileSync|spawnSync)$/, file: /child_process/, hint: 'child_process *Sync calls block the loop until the child exits; use exec/execFile/spawn' },
  { fn: /^JSON\.parse$/, hint: 'JSON.parse of a large payload blocks the loop; parse in a worker or stream it' },
  { fn: /^JSON\.stringify$/, hint: 'JSON.stringify of a large value blocks the loop; serialize in a worker or stream it' },
];

function ruleFor(frame: Frame): HintRule | undefined {
  if (frame.origin === 'app') return undefined;
  return HINTS.find((rule) => rule.fn.test(frame.function) && (!rule.file || rule.file.test(frame.file)));
}

/** Whether a frame is one of the blocking library calls of the table. */
export function isKnownBlockingCall(frame: Frame): boolean {
  return ruleFor(frame) !== undefined;
}

/** The hint for the first known blocking call seen in any sample, innermost first. */
export function findHint(samples: readonly { frames: Frame[] }[]): string | null {
  for (const sample of samples) {
    for (const frame of sample.frames) {
      const rule = ruleFor(frame);
      if (rule) return rule.hint;
    }
  }
  return null;
}
