import { readBounded } from './sourcemap.js';

/**
 * The app's source files as lines, read in the watchdog worker when a late sample needs them
 * (source-hints.ts), cached and bounded like the source maps: at most `maxFiles` files of at
 * most `maxFileBytes` each; a file that cannot be read is remembered as missing.
 */
export class SourceText {
  readonly #cache = new Map<string, string[] | null>();

  constructor(private readonly maxFiles = 32, private readonly maxFileBytes = 2 * 1024 * 1024) {}

  lines(path: string): string[] | null {
    const hit = this.#cache.get(path);
    if (hit !== undefined) {
      this.#cache.delete(path);
      this.#cache.set(path, hit);
      return hit;
    }
    const text = readBounded(path, this.maxFileBytes);
    const lines = text === null ? null : text.split(/\r?\n/);
    this.#cache.set(path, lines);
    for (const key of this.#cache.keys()) {
      if (this.#cache.size <= this.maxFiles) break;
      this.#cache.delete(key);
    }
    return lines;
  }
}
