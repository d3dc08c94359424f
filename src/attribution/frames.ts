import { isAbsolute, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { RawFrame } from '../shared/probe-protocol.js';
import type { MappedPosition } from './sourcemap.js';

/** A stack frame as it appears in a block event. */
export interface StackFrame {
  function: string;
  file: string;
  line: number;
  column: number;
  inApp: boolean;
}

/** A frame with what the culprit rule needs besides the event fields. */
export interface Frame extends StackFrame {
  atEntry: boolean;
  /** Where the frame comes from: the app, a dependency, Node itself, or loopwatch. */
  origin: 'app' | 'dependency' | 'node' | 'loopwatch';
}

function toPath(file: string): string {
  if (file.startsWith('file://')) {
    try {
      return fileURLToPath(file);
    } catch {
      return file;
    }
  }
  return file;
}

function originOf(path: string, ownRoot: string | undefined): Frame['origin'] {
  if (!path || path.startsWith('node:') || !(isAbsolute(path) || path.startsWith('file:'))) return 'node';
  if (ownRoot && path.startsWith(ownRoot)) return 'loopwatch';
  if (path.includes(`${sep}node_modules${sep}`)) return 'dependency';
  return 'app';
}

/**
 * A raw frame's origin as the probe gave it, before any source map: what the watchdog
 * checks while a block lasts (a map can turn an app frame into a dependency's, never into
 * loopwatch's or Node's, so the checks of watchdog.ts give the same answer either way).
 */
export function rawOrigin(frame: RawFrame | undefined, ownRoot: string | undefined): Frame['origin'] | undefined {
  return frame === undefined ? undefined : originOf(toPath(frame[1]), ownRoot);
}

export interface FrameOptions {
  /** The app's root: files are reported relative to it. */
  cwd: string;
  /** loopwatch's own dist folder, whose frames are never the culprit. */
  ownRoot?: string;
  /** Maps generated positions to sources (src/attribution/sourcemap.ts); frames stay as they are without it. */
  sourceMaps?: { map(file: string, line: number, column: number): MappedPosition | null };
}

export function normalizeFrames(raw: readonly RawFrame[], opts: FrameOptions): Frame[] {
  const out: Frame[] = [];
  for (const [fn, file, line, column, atEntry] of raw) {
    let path = toPath(file);
    let origin = originOf(path, opts.ownRoot);
    let pos = { line, column };
    if (opts.sourceMaps && (origin === 'app' || origin === 'dependency')) {
      const mapped = opts.sourceMaps.map(path, line, column);
      if (mapped) {
        // The source decides: a bundle's frames that come from node_modules are not the app's.
        path = toPath(mapped.file);
        if (isAbsolute(path)) origin = originOf(path, opts.ownRoot);
        pos = { line: mapped.line, column: mapped.column };
      }
    }
    const shown = isAbsolute(path) ? relative(opts.cwd, path).split(sep).join('/') : path;
    out.push({ function: fn, file: shown, line: pos.line, column: pos.column, inApp: origin === 'app', atEntry: atEntry === 1, origin });
  }
  return out;
}

export function toStackFrame(f: Frame): StackFrame {
  return { function: f.function, file: f.file, line: f.line, column: f.column, inApp: f.inApp };
}
