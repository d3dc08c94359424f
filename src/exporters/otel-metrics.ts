import { createRequire } from 'node:module';
import type { Attributes, Histogram, Counter, Meter, ObservableResult, BatchObservableResult, Observable } from '@opentelemetry/api';
import type { BlockEvent } from '../event.js';
import {
  BLOCK_DURATION, BLOCK_ONGOING, BLOCKED_TIME, DELAY_STATS, EVENTLOOP_DELAY, EVENTLOOP_STATES, EVENTLOOP_TIME,
  EVENTLOOP_UTILIZATION, LOOP_DELAY_HISTOGRAM, type MetricName,
} from '../metrics/names.js';
import { culpritLabel, routeLabel, threadLabel, type TopNLabels } from '../metrics/labels.js';
import { DELAY_BUCKETS_S, F64, I32, type SharedState } from '../shared-state.js';
import { readDelay, delayStats, type DelaySnapshot } from './otel-delay.js';

/** Bucket bounds (s) of the block-duration histogram: the threshold is 50 ms by default. */
export const BLOCK_BUCKETS_S = Object.freeze([0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60]);

/** Attribute of EVENTLOOP_TIME (semantic conventions: `nodejs.eventloop.state`). */
const STATE_ATTRIBUTE = 'nodejs.eventloop.state';

export interface MetricSources {
  state: SharedState;
  thresholdMs: number;
  /** 'auto': leave nodejs.eventloop.* to instrumentation-runtime-node when it is loaded. */
  runtimeMetrics: boolean | 'auto';
  /** Top-N limiters shared by every meter the instruments move to, so labels stay stable. */
  routes: TopNLabels;
  culprits: TopNLabels;
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
 * DESIGN.md) and the loop's own utilization counters.
 */
export class LoopInstruments {
  readonly #meter: Meter;
  readonly #src: MetricSources;
  readonly #observables: Observable[];
  readonly #blockDuration: Histogram;
  readonly #blockedTime: Counter;
  readonly #delayHistogram: Histogram;
  #prevDelay: DelaySnapshot;
  #prevElu: { idle: number; active: number };
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
    this.#prevDelay = readDelay(src.state);
    const elu = performance.eventLoopUtilization();
    this.#prevElu = { idle: elu.idle, active: elu.active };

    this.#collect = (result: BatchObservableResult): void => {
      try {
        this.#observeRuntime(result, delay, utilization, time);
        result.observe(ongoing, this.#ongoingSeconds(), { thread: 'main' });
      } catch {
        // A collect must never throw into the app's metric reader.
      }
    };
    meter.addBatchObservableCallback(this.#collect, this.#observables);
  }

  readonly #collect: (result: BatchObservableResult) => void;

  #observeRuntime(result: BatchObservableResult, delay: Record<string, Observable>, utilization: Observable, time: Observable): void {
    const now = readDelay(this.#src.state);
    const prev = this.#prevDelay;
    this.#prevDelay = now;
    // The histogram is fed here, from the delta of the shared bucket counts, so it is exact
    // in its counts whatever else publishes runtime metrics.
    this.#recordDelayBuckets(prev, now);
    if (this.#src.runtimeMetrics === false) return;
    if (this.#src.runtimeMetrics === 'auto' && (this.#runtimeNode ||= runtimeNodeLoaded())) return;
    const stats = delayStats(prev, now);
    if (stats) for (const s of DELAY_STATS) result.observe(delay[s], stats[s]);
    const elu = performance.eventLoopUtilization();
    const dIdle = elu.idle - this.#prevElu.idle;
    const dActive = elu.active - this.#prevElu.active;
    this.#prevElu = { idle: elu.idle, active: elu.active };
    if (dIdle + dActive > 0) result.observe(utilization, dActive / (dIdle + dActive));
    result.observe(time, elu.active / 1e3, { [STATE_ATTRIBUTE]: EVENTLOOP_STATES[0] });
    result.observe(time, elu.idle / 1e3, { [STATE_ATTRIBUTE]: EVENTLOOP_STATES[1] });
  }

  /**
   * OpenTelemetry has no observable histogram, so the delay histogram is a synchronous one
   * recorded at collect time (the SDK observes callbacks before it reads synchronous
   * instruments, so these land in the same collection). Counts per bucket are exact; each
   * value is its bucket's midpoint (the +Inf bucket: the largest delay seen), so the sum is
   * an estimate.
   */
  #recordDelayBuckets(prev: DelaySnapshot, now: DelaySnapshot): void {
    for (let b = 0; b < now.buckets.length; b++) {
      const n = Math.min(10_000, now.buckets[b] - prev.buckets[b]);
      if (n <= 0) continue;
      const lo = b === 0 ? 0 : DELAY_BUCKETS_S[b - 1];
      const hi = b < DELAY_BUCKETS_S.length ? DELAY_BUCKETS_S[b] : Math.max(lo, now.max);
      const value = Math.min((lo + hi) / 2, now.max);
      for (let i = 0; i < n; i++) this.#delayHistogram.record(value);
    }
  }

  /** The main thread collects only while its loop turns, so this is 0 unless called late in a long task. */
  #ongoingSeconds(): number {
    const { i32, f64 } = this.#src.state;
    if (Atomics.load(i32, I32.STALL) !== 1) return 0;
    const busy = performance.now() - f64[F64.BEAT_AT] - (performance.nodeTiming.idleTime - f64[F64.IDLE_AT]);
    return busy >= this.#src.thresholdMs ? busy / 1e3 : 0;
  }

  /** Records a finished block (called on the main thread after recovery). */
  recordBlock(event: BlockEvent): void {
    const seconds = event.durationMs / 1e3;
    const thread = threadLabel(event.thread);
    const route = this.#src.routes.observe(routeLabel(event.context), seconds);
    const culprit = this.#src.culprits.observe(culpritLabel(event.culprit), seconds);
    const durationAttrs: Attributes = { route, culprit, thread };
    this.#blockDuration.record(seconds, durationAttrs);
    this.#blockedTime.add(seconds, { route, thread });
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

export type { ObservableResult };
