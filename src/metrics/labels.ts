/**
 * Bounded label values for block metrics. Every distinct label value is a time series in
 * Prometheus (and an attribute set in OpenTelemetry), so routes and culprits, which come
 * from the app and are unbounded, are limited to the top N by blocked time; the rest are
 * counted under `other`. At most N + 1 values are live at any time.
 *
 * A value keeps its label once admitted, so its counters stay monotonic; it is replaced
 * only by a candidate whose blocked time clearly exceeds its own (`hysteresis`), which
 * keeps series from flapping between two values of similar weight. Candidates are tracked
 * in a bounded table with the space-saving algorithm (Metwally et al., 2005): a new value
 * evicts the lightest candidate and inherits its weight as a possible overcount, so a value
 * that keeps blocking is found even after many one-off values went by. Promotion compares
 * the guaranteed part of a candidate's weight (weight − overcount), never the estimate.
 */
import type { BlockContext } from '../shared/event.js';
import { CAUSE_LABELS, NO_ROUTE_LABEL, OTHER_LABEL, UNKNOWN_CULPRIT_LABEL, UNMATCHED_ROUTE_LABEL } from './names.js';

/** Longer values are cut: a label value is held in memory for the life of the process. */
export const MAX_LABEL_LENGTH = 128;

export interface TopNOptions {
  /** How many distinct values get their own label (N, >= 1). */
  limit: number;
  /** Candidates tracked besides the admitted values (bounded memory). Default max(16, 4 × limit). */
  candidates?: number;
  /** A candidate replaces the lightest admitted value once it outweighs it by this factor. Default 2. */
  hysteresis?: number;
  /** Called when an admitted value loses its label: its series should be dropped, not frozen. */
  onEvict?: (value: string) => void;
}

interface Entry {
  weight: number;
  /** Space-saving overcount: weight inherited from the candidate this one displaced. */
  error: number;
}

export class TopNLabels {
  readonly limit: number;
  readonly #candidatesMax: number;
  readonly #hysteresis: number;
  readonly #onEvict: ((value: string) => void) | undefined;
  readonly #admitted = new Map<string, Entry>();
  readonly #candidates = new Map<string, Entry>();

  constructor(options: TopNOptions) {
    const { limit } = options;
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`limit must be an integer >= 1, got ${limit}`);
    this.limit = limit;
    this.#candidatesMax = Math.max(1, options.candidates ?? Math.max(16, 4 * limit));
    this.#hysteresis = options.hysteresis ?? 2;
    this.#onEvict = options.onEvict;
  }

  /**
   * Adds `weight` (blocked time, any unit) to `value` and returns the label it is counted
   * under from now on: the value itself if it is among the top N, else `other`.
   */
  observe(raw: string, weight: number): string {
    const value = clip(raw);
    if (value === OTHER_LABEL) return OTHER_LABEL;
    const w = Number.isFinite(weight) && weight > 0 ? weight : 0;
    const admitted = this.#admitted.get(value);
    if (admitted) {
      admitted.weight += w;
      return value;
    }
    const entry = this.#candidate(value, w);
    if (this.#admitted.size < this.limit) return this.#admit(value, entry);
    const lightest = this.#lightestAdmitted();
    if (entry.weight - entry.error > this.#hysteresis * lightest[1].weight) {
      this.#admitted.delete(lightest[0]);
      this.#admit(value, entry);
      // The displaced value competes again with the weight it had.
      this.#candidates.set(lightest[0], lightest[1]);
      this.#trimCandidates();
      this.#onEvict?.(lightest[0]);
      return value;
    }
    return OTHER_LABEL;
  }

  /** The label `value` is counted under now, without recording anything. */
  label(raw: string): string {
    const value = clip(raw);
    return this.#admitted.has(value) ? value : OTHER_LABEL;
  }

  /** The values that have their own label now (at most `limit`). */
  values(): string[] {
    return [...this.#admitted.keys()];
  }

  /** Tracked weight of a value (admitted or candidate), for tests and diagnostics. */
  weight(raw: string): number | undefined {
    const value = clip(raw);
    return (this.#admitted.get(value) ?? this.#candidates.get(value))?.weight;
  }

  #candidate(value: string, w: number): Entry {
    let entry = this.#candidates.get(value);
    if (entry) {
      entry.weight += w;
      return entry;
    }
    let floor = 0;
    if (this.#candidates.size >= this.#candidatesMax) {
      const [lightKey, light] = lightest(this.#candidates);
      this.#candidates.delete(lightKey);
      floor = light.weight;
    }
    entry = { weight: floor + w, error: floor };
    this.#candidates.set(value, entry);
    return entry;
  }

  #admit(value: string, entry: Entry): string {
    this.#candidates.delete(value);
    this.#admitted.set(value, entry);
    return value;
  }

  #lightestAdmitted(): [string, Entry] {
    return lightest(this.#admitted);
  }

  #trimCandidates(): void {
    while (this.#candidates.size > this.#candidatesMax) this.#candidates.delete(lightest(this.#candidates)[0]);
  }
}

function lightest(map: Map<string, Entry>): [string, Entry] {
  let best: [string, Entry] | undefined;
  // Linear scan: the tables hold tens of entries and this runs once per block, not per request.
  for (const item of map) if (!best || item[1].weight < best[1].weight) best = item;
  return best!;
}

function clip(value: string): string {
  return value.length > MAX_LABEL_LENGTH ? value.slice(0, MAX_LABEL_LENGTH) : value;
}

/**
 * The route label of a block: the route template of its request, `unmatched` for an HTTP
 * request without one, the job's name for jobs (`run({ name })`), `none` outside any
 * request or job (timers, startup, untracked blocks).
 */
export function routeLabel(context: Pick<BlockContext, 'kind' | 'route' | 'job'> | null | undefined): string {
  if (!context) return NO_ROUTE_LABEL;
  if (context.route) return context.route;
  if (context.job) return context.job;
  if (context.kind === 'http') return UNMATCHED_ROUTE_LABEL;
  return NO_ROUTE_LABEL;
}

/**
 * The culprit label: `function (file)`. The line is left out on purpose: it moves with
 * every edit above it, and a new series per deploy would defeat comparisons over time
 * (the log line has the exact position).
 */
export function culpritLabel(culprit: { function: string; file: string } | null | undefined): string {
  if (!culprit) return UNKNOWN_CULPRIT_LABEL;
  return `${culprit.function || '<anonymous>'} (${culprit.file})`;
}

/** The cause label: one of CAUSE_LABELS; anything else (an event without one) counts as `code`, as before causes existed. */
export function causeLabel(cause: string | null | undefined): string {
  return (CAUSE_LABELS as readonly string[]).includes(cause as string) ? (cause as string) : 'code';
}

/** The thread label: the blocked thread's name (`main`). */
export function threadLabel(thread: { id: number; name: string } | null | undefined): string {
  return thread?.name || (thread ? String(thread.id) : 'main');
}

/**
 * The labels of one finished block, with routes and culprits bounded by their own top-N
 * limiters (weighted by blocked seconds). One per exporter: the Prometheus block store and
 * the OpenTelemetry instruments each keep theirs.
 */
export class BlockLabels {
  readonly #routes: TopNLabels;
  readonly #culprits: TopNLabels;

  constructor(limit: number, onEvict: { route?: (value: string) => void; culprit?: (value: string) => void } = {}) {
    this.#routes = new TopNLabels({ limit, onEvict: onEvict.route });
    this.#culprits = new TopNLabels({ limit, onEvict: onEvict.culprit });
  }

  of(
    block: { context: Pick<BlockContext, 'kind' | 'route' | 'job'> | null; culprit: { function: string; file: string } | null; thread: { id: number; name: string }; cause?: string },
    seconds: number,
  ): { route: string; culprit: string; thread: string; cause: string } {
    return {
      route: this.#routes.observe(routeLabel(block.context), seconds),
      culprit: this.#culprits.observe(culpritLabel(block.culprit), seconds),
      thread: threadLabel(block.thread),
      cause: causeLabel(block.cause),
    };
  }
}
