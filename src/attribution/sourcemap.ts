import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, isAbsolute, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { TraceMap } from '@jridgewell/trace-mapping';

/**
 * Maps positions in compiled JavaScript back to the sources (TypeScript…) through source
 * maps, external (`//# sourceMappingURL=foo.js.map`) or inline (`data:` URL). Runs in the
 * watchdog worker only: reading and parsing maps never touches the app's thread.
 *
 * Frames come from the probe's own `Error.prepareStackTrace`, which V8 calls with raw call
 * sites even when the app runs with `--enable-source-maps` (measured on Node 20.20 and
 * 24.21: the generated `.js` file, line and column), so every position is mapped exactly
 * once, here.
 */

export interface MappedPosition {
  /** Absolute path of the original source (or the source's URL when it is not a file). */
  file: string;
  line: number;
  column: number;
}

export interface SourceMapLimits {
  /** Files whose maps are kept (including files found to have none). */
  maxFiles: number;
  /** A generated file or a map file larger than this is not read: its frames stay unmapped. */
  maxFileBytes: number;
  /** Sum of the map sizes kept; the least recently used maps are dropped past it. */
  maxTotalBytes: number;
}

export const SOURCE_MAP_LIMITS: SourceMapLimits = Object.freeze({
  maxFiles: 64,
  maxFileBytes: 16 * 1024 * 1024,
  maxTotalBytes: 64 * 1024 * 1024,
});

interface Entry {
  map: TraceMap | null;
  bytes: number;
}

type TraceMapping = typeof import('@jridgewell/trace-mapping');
let traceMapping: TraceMapping | null = null;
function lib(): TraceMapping {
  // Loaded on the first file that has a map: apps without maps never pay for it.
  traceMapping ??= createRequire(__filename)('@jridgewell/trace-mapping') as TraceMapping;
  return traceMapping;
}

/** Reads a whole file if it is no larger than `max` bytes; null otherwise or on any error. */
export function readBounded(path: string, max: number): string | null {
  let fd: number | null = null;
  try {
    fd = openSync(path, 'r');
    const size = fstatSync(fd).size;
    if (size > max) return null;
    const buf = Buffer.allocUnsafe(size);
    let off = 0;
    while (off < size) {
      const n = readSync(fd, buf, off, size - off, off);
      if (n === 0) break;
      off += n;
    }
    return buf.toString('utf8', 0, off);
  } catch {
    return null;
  } finally {
    if (fd !== null) {
      try {
        closeSync(fd);
      } catch {
        // nothing to do
      }
    }
  }
}

const URL_COMMENT = /\/[/*][#@]\s*sourceMappingURL=([^\s'"*]+)\s*(?:\*\/)?\s*$/;

/** The last sourceMappingURL comment of a script (only the last one counts, as in browsers and Node). */
export function findMapUrl(code: string): string | null {
  let end = code.length;
  // Look at the trailing lines only: the comment must be the last thing in the file.
  for (let lines = 0; lines < 8 && end > 0; lines++) {
    const start = code.lastIndexOf('\n', end - 1) + 1;
    const line = code.slice(start, end).trim();
    end = start - 1;
    if (line === '') continue;
    const m = URL_COMMENT.exec(line);
    if (m) return m[1];
    if (!line.startsWith('//')) return null;
  }
  return null;
}

/** The JSON text of a `data:` URL (base64 or percent-encoded), or null. */
export function decodeDataUrl(url: string): string | null {
  const comma = url.indexOf(',');
  if (comma === -1) return null;
  const meta = url.slice(5, comma);
  const body = url.slice(comma + 1);
  try {
    return meta.split(';').includes('base64') ? Buffer.from(body, 'base64').toString('utf8') : decodeURIComponent(body);
  } catch {
    return null;
  }
}

export class SourceMapper {
  readonly #cache = new Map<string, Entry>();
  #totalBytes = 0;
  /** How many files were loaded (read and parsed, or found to have no map); for tests. */
  loads = 0;

  constructor(private readonly limits: SourceMapLimits = SOURCE_MAP_LIMITS) {}

  get size(): number {
    return this.#cache.size;
  }

  /**
   * The original position of a 1-based line and column in a generated file, or null when
   * the file has no usable map or the map says nothing about that position. Never throws.
   */
  map(file: string, line: number, column: number): MappedPosition | null {
    try {
      if (!isAbsolute(file) || line < 1 || column < 1) return null;
      const map = this.#get(file);
      if (!map) return null;
      const pos = lib().originalPositionFor(map, { line, column: column - 1 });
      if (pos.source == null || pos.line == null || pos.column == null) return null;
      return { file: toPath(pos.source), line: pos.line, column: pos.column + 1 };
    } catch {
      return null;
    }
  }

  #get(file: string): TraceMap | null {
    const hit = this.#cache.get(file);
    if (hit) {
      // Most recently used last: Map keeps insertion order.
      this.#cache.delete(file);
      this.#cache.set(file, hit);
      return hit.map;
    }
    const entry = this.#load(file);
    this.loads++;
    this.#cache.set(file, entry);
    this.#totalBytes += entry.bytes;
    this.#evict();
    return entry.map;
  }

  #evict(): void {
    for (const [key, entry] of this.#cache) {
      if (this.#cache.size <= this.limits.maxFiles && this.#totalBytes <= this.limits.maxTotalBytes) return;
      this.#cache.delete(key);
      this.#totalBytes -= entry.bytes;
    }
  }

  #load(file: string): Entry {
    const none: Entry = { map: null, bytes: 0 };
    const code = readBounded(file, this.limits.maxFileBytes);
    if (code === null) return none;
    const url = findMapUrl(code);
    if (!url) return none;
    let text: string | null;
    let mapUrl: string;
    if (url.startsWith('data:')) {
      text = decodeDataUrl(url);
      mapUrl = pathToFileURL(file).href;
    } else {
      const mapPath = url.startsWith('file:') ? fileURLToPath(url) : resolve(dirname(file), decodeURIComponent(url.split(/[?#]/)[0]));
      text = readBounded(mapPath, this.limits.maxFileBytes);
      mapUrl = pathToFileURL(mapPath).href;
    }
    if (text === null || text.length > this.limits.maxFileBytes) return none;
    try {
      const map = new (lib().TraceMap)(text, mapUrl);
      return { map, bytes: text.length };
    } catch {
      return none;
    }
  }
}

function toPath(source: string): string {
  if (source.startsWith('file:')) {
    try {
      return fileURLToPath(source);
    } catch {
      return source;
    }
  }
  return source;
}
