import { createRequire } from 'node:module';
import type { Attributes, Histogram, Counter, Meter, BatchObservableResult, Observable } from '@opentelemetry/api';
import type { BlockEvent } from '../shared/event.js';
import {
  BLOCK_BUCKETS_S, BLOCK_DURATION, BLOCK_ONGOING, BLOCKED_TIME, DELAY_STATS, EVENTLOOP_DELAY, EVENTLOOP_STATES, EVENTLOOP_TIME,
  EVENTLOOP_UTILIZATION, LOOP_DELAY_HISTOGRAM, type MetricName,
} from '../metrics/names.js';
import { type LoopReading, type LoopStatsReader, mainThreadLoopStats } from '../metrics/loop-stats.js';
import { type BlockLabels, threadLabel } from '../metrics/labels.js';
import { DELAY_BUCKETS_S, type SharedState } from '../shared/shared-state.js';

/** Attribute of EVENTLOOP_TIME (semantic conventions: `nodejs.eventloop.state`). */
const STATE_ATTRIBUTE = 'nodejs.eventloop.state';

export interface MetricSources {
  state: SharedState;
  thresholdMs: number;
  heartbeatMs: number;
  /** 'auto': leave nodejs.eventloop.* to instrumentation-runtime-node when it is loaded. */
  runtimeMetrics: boolean | 'auto';
  /** Top-N limited labels shared by every meter the instruments move to, so labels stay stable. */
  labels: BlockLabels;
  /** The thread the agent watches, as its block events name it. */
  thread: { readonly id: number; readonly name: string };
}

const RUNTIME_NODE = `${['', '@opentelemetry', 'instrumentation-runtime-node', ''].join('/')}`;

/**
 * Whether `@opentelemetry/instrumentation-runtime-node` has been loaded in this process. It
 * publishes the same `nodejs.eventloop.*` names and leaves no global mark, so the module
 * cache is the evidence (ESM imports of this CommonJS package land there too). Checked at
 * collect time, because apps load it after `--require loopwatch/register`.
 */
export function runtimeNodeLoaded(): boolean {
  try {
    const cache = createRequire(__filename).cache;
    for (const key of Object.keys(cache)) {
      if (key.replaceAll('\\', '/').includes(RUNTIME_NODE)) return true;
    }
  } catch {
    // No module cache to read: assume it is absent.
  }
  return false;
}

const opts = (m: MetricName, extra: object = {}): { description: string; unit: string } => ({ description: m.help, unit: m.unit, ...extra });

/**
 * loopwatch's instruments on one meter. Everything except the block records is computed at
 * collect time, from the heartbeat's cumulative figures in shared memory (never reset, see
 * metrics/loop-stats.ts) and the loop's own utilization counters.
 */
export class LoopInstruments {
  readonly #meter: Meter;
  readonly #src: MetricSources;
  readonly #observables: Observable[];
  readonly #blockDuration: Histogram;
  readonly #blockedTime: Counter;
  readonly #delayHistogram: Histogram;
  /** The same never-reset reader as the Prometheus collectors: the interval is the time since this meter's last collect. */
  readonly #reader: LoopStatsReader;
  /** Cumulative delay bucket counts at the previous collect. */
  #prevBuckets: number[];
  #runtimeNode = false;

  constructor(meter: Meter, src: MetricSources) {
    this.#meter = meter;
    this.#src = src;
    const delay = Object.fromEntries(DELAY_STATS.map((s) => [s, meter.createObservableGauge(EVENTLOOP_DELAY[s].otel, opts(EVENTLOOP_DELAY[s]))]));
    const utilization = meter.createObservableGauge(EVENTLOOP_UTILIZATION.otel, opts(EVENTLOOP_UTILIZATION));
    const time = meter.createObservableCounter(EVENTLOOP_TIME.otel, opts(EVENTLOOP_TIME));
    const ongoing = meter.createObservableGauge(BLOCK_ONGOING.otel, opts(BLOCK_ONGOING));
    this.#delayHistogram = meter.createHistogram(LOOP_DELAY_HISTOGRAM.otel, opts(LOOP_DELAY_HISTOGRAM, { advice: { explicitBucketBoundaries: [...DELAY_BUCKETS_S] } }));
    this.#blockDuration = meter.createHistogram(BLOCK_DURATION.otel, opts(BLOCK_DURATION, { advice: { explicitBucketBoundaries: [...BLOCK_BUCKETS_S] } }));
    this.#blockedTime = meter.createCounter(BLOCKED_TIME.otel, opts(BLOCKED_TIME));
    this.#observables = [...Object.values(delay), utilization, time, ongoing];
    this.#reader = mainThreadLoopStats(src.state, src);
    // Start the intervals now: the first collect covers the time since these instruments exist.
    this.#prevBuckets = this.#reader.read().bucketCounts;

    this.#collect = (result: BatchObservableResult): void => {
      try {
        const reading = this.#reader.read();
        this.#recordDelayBuckets(reading);
        result.observe(ongoing, reading.ongoingS, { thread: threadLabel(this.#src.thread) });
        if (this.#publishRuntime()) this.#observeRuntime(result, reading, delay, utilization, time);
      } catch {
        // A collect must never throw into the app's metric reader.
      }
    };
    meter.addBatchObservableCallback(this.#collect, this.#observables);
  }

  readonly #collect: (result: BatchObservableResult) => void;

  #publishRuntime(): boolean {
    if (this.#src.runtimeMetrics === 'auto') return !(this.#runtimeNode ||= runtimeNodeLoaded());
    return this.#src.runtimeMetrics;
  }

  #observeRuntime(result: BatchObservableResult, reading: LoopReading, delay: Record<string, Observable>, utilization: Observable, time: Observable): void {
    // No delay sample yet: nothing to say (rather than zeros that would read as "no delay").
    if (reading.delayCount > 0) for (const s of DELAY_STATS) result.observe(delay[s], reading.delay[s]);
    result.observe(utilization, reading.utilization);
    result.observe(time, reading.activeS, { [STATE_ATTRIBUTE]: EVENTLOOP_STATES[0] });
    result.observe(time, reading.idleS, { [STATE_ATTRIBUTE]: EVENTLOOP_STATES[1] });
  }

  /**
   * OpenTelemetry has no observable histogram, so the delay histogram is a synchronous one
   * recorded at collect time (the SDK observes callbacks before it reads synchronous
   * instruments, so these land in the same collection), from the difference of the shared
   * cumulative bucket counts. Counts per bucket are exact; each value is its bucket's
   * midpoint (the +Inf bucket: the largest delay seen), so the sum is an estimate.
   */
  #recordDelayBuckets(reading: LoopReading): void {
    const now = reading.bucketCounts;
    let below = 0;
    let prevBelow = 0;
    for (let b = 0; b < now.length; b++) {
      const n = Math.min(10_000, (now[b] - below) - (this.#prevBuckets[b] - prevBelow));
      below = now[b];
      prevBelow = this.#prevBuckets[b];
      if (n <= 0) continue;
      const lo = b === 0 ? 0 : DELAY_BUCKETS_S[b - 1];
      const hi = b < DELAY_BUCKETS_S.length ? DELAY_BUCKETS_S[b] : Math.max(lo, reading.delay.max);
      const value = (lo + hi) / 2;
      for (let i = 0; i < n; i++) this.#delayHistogram.record(value);
    }
    this.#prevBuckets = now;
  }

  /** Records a finished block (called on the main thread after recovery). */
  recordBlock(event: BlockEvent): void {
    const seconds = event.durationMs / 1e3;
    const { route, culprit, thread, cause } = this.#src.labels.of(event, seconds);
    const durationAttrs: Attributes = { route, culprit, thread, cause };
    this.#blockDuration.record(seconds, durationAttrs);
    this.#blockedTime.add(seconds, { route, thread, cause });
  }

  /** Detaches the collect callback (when the meter provider changes or the agent stops). */
  remove(): void {
    try {
      this.#meter.removeBatchObservableCallback(this.#collect, this.#observables);
    } catch {
      // A no-op or shut-down meter.
    }
  }
}


