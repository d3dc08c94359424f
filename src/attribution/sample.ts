import { isAbsolute, join, relative, sep } from 'node:path';
import type { BlockContext } from '../shared/event.js';
import type { ProbeResult } from '../shared/probe-protocol.js';
import type { Sample } from './culprit.js';
import { type FrameOptions, normalizeFrames } from './frames.js';
import { readSource } from './source-hints.js';
import { SourceText } from './source-text.js';
import { SourceMapper } from './sourcemap.js';

/** A stack sample as the watchdog keeps it while a block lasts. */
export interface BlockSample extends Sample {
  context: BlockContext | null;
  /** Main-thread (or watched thread) performance.now() when the probe ran. */
  at: number;
  /** The hint that the source around a late sample gave (source-hints.ts), or null. */
  sourceHint: string | null;
}

/**
 * Turns probe results into samples, in the watchdog worker: frames normalized and mapped
 * through source maps, and for a late sample what the app's source says. Holds the caches
 * (source maps, source text), which live as long as the worker.
 */
export class SampleReader {
  readonly #frames: FrameOptions;
  readonly #sources = new SourceText();

  constructor(opts: FrameOptions) {
    this.#frames = { cwd: opts.cwd, ownRoot: opts.ownRoot, sourceMaps: opts.sourceMaps ?? new SourceMapper() };
  }

  read(result: ProbeResult, requestedAt: number): BlockSample {
    const frames = normalizeFrames(result.frames ?? [], this.#frames);
    const sample: BlockSample = {
      frames, latencyMs: Math.max(0, result.at - requestedAt), context: result.context, at: result.at, inferred: null, sourceHint: null,
    };
    const cwd = this.#frames.cwd;
    const test = result.context?.test;
    if (test?.file && isAbsolute(test.file)) test.file = relative(cwd, test.file).split(sep).join('/');
    const found = readSource(sample, (file) => this.#sources.lines(isAbsolute(file) ? file : join(cwd, file)));
    sample.inferred = found.inferred;
    sample.sourceHint = found.rule?.hint ?? null;
    return sample;
  }
}
