/**
 * Cumulative block metrics, fed one finished block at a time (on the main thread from the
 * watchdog's 'block' messages, in the worker from the watchdog itself) and read at scrape
 * time. Route and culprit labels are bounded by TopNLabels; a value that loses its label
 * takes its series with it (they stop being exported, Prometheus marks them stale) while
 * its later blocks count under `other`, so every exported series only grows.
 */
import type { BlockEvent } from '../shared/event.js';
import { bucketIndex } from '../shared/shared-state.js';
import { BlockLabels } from './labels.js';
import { BLOCK_BUCKETS_S } from './names.js';

export interface DurationSeries {
  readonly route: string;
  readonly culprit: string;
  readonly thread: string;
  readonly cause: string;
  /** Per-bucket (not cumulative) counts for BLOCK_BUCKETS_S, then +Inf. */
  readonly buckets: number[];
  sum: number;
  count: number;
}

export interface BlockedSeries {
  readonly route: string;
  readonly thread: string;
  readonly cause: string;
  seconds: number;
}

export type RecordedBlock = Pick<BlockEvent, 'durationMs' | 'ongoing' | 'thread' | 'culprit'> & {
  context: Pick<BlockEvent['context'], 'kind' | 'route' | 'job'> | null;
  /** Counted as `code` when absent. */
  cause?: BlockEvent['cause'];
};

const SEP = '\u0000';

export class BlockMetrics {
  readonly #labels: BlockLabels;
  readonly #durations = new Map<string, DurationSeries>();
  readonly #blocked = new Map<string, BlockedSeries>();

  constructor(topN: number) {
    this.#labels = new BlockLabels(topN, {
      route: (route) => this.#drop((s) => s.route === route),
      culprit: (culprit) => this.#drop((s) => 'culprit' in s && s.culprit === culprit),
    });
  }

  /** Counts a finished block; ongoing reports of a block are not counted (its final report is). */
  record(event: RecordedBlock): void {
    if (event.ongoing) return;
    const seconds = event.durationMs / 1e3;
    if (!(seconds >= 0)) return;
    const { route, culprit, thread, cause } = this.#labels.of(event, seconds);

    const dKey = route + SEP + culprit + SEP + thread + SEP + cause;
    let d = this.#durations.get(dKey);
    if (!d) {
      d = { route, culprit, thread, cause, buckets: new Array<number>(BLOCK_BUCKETS_S.length + 1).fill(0), sum: 0, count: 0 };
      this.#durations.set(dKey, d);
    }
    d.buckets[bucketIndex(BLOCK_BUCKETS_S, seconds)] += 1;
    d.sum += seconds;
    d.count += 1;

    const tKey = route + SEP + thread + SEP + cause;
    let t = this.#blocked.get(tKey);
    if (!t) {
      t = { route, thread, cause, seconds: 0 };
      this.#blocked.set(tKey, t);
    }
    t.seconds += seconds;
  }

  durations(): IterableIterator<DurationSeries> {
    return this.#durations.values();
  }

  blocked(): IterableIterator<BlockedSeries> {
    return this.#blocked.values();
  }

  #drop(match: (s: DurationSeries | BlockedSeries) => boolean): void {
    for (const [k, s] of this.#durations) if (match(s)) this.#durations.delete(k);
    for (const [k, s] of this.#blocked) if (match(s)) this.#blocked.delete(k);
  }
}
