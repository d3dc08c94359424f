/**
 * The contract's metric families as plain data, filled from one loop reading and the block
 * store: the single place that maps values to names and labels. The standalone endpoint
 * renders them as text (exposition.ts), the prom-client collectors hand them to the user's
 * registry (exporters/prometheus.ts).
 */
import type { BlockMetrics } from './block-store.js';
import type { LoopReading } from './loop-stats.js';
import {
  BLOCK_BUCKETS_S, BLOCK_DURATION, BLOCK_ONGOING, BLOCKED_TIME, DELAY_STATS, EVENTLOOP_DELAY, EVENTLOOP_STATES,
  EVENTLOOP_TIME, EVENTLOOP_UTILIZATION, LOOP_DELAY_HISTOGRAM, type MetricName, type MetricType,
} from './names.js';
import { DELAY_BUCKETS_S } from '../shared/shared-state.js';

export interface MetricSample {
  /** Appended to the family name: '' for gauges and counters, '_bucket' / '_sum' / '_count' for histograms. */
  suffix: '' | '_bucket' | '_sum' | '_count';
  labels: Record<string, string>;
  value: number;
}

export interface MetricFamily {
  /** Prometheus name (prefix included); counters end in `_total`. */
  name: string;
  help: string;
  type: MetricType;
  samples: MetricSample[];
}

export interface FamilySources {
  /** null when no agent runs: the families are declared, without samples. */
  loop: LoopReading | null;
  blocks: BlockMetrics | null;
  /** Label value of the thread whose loop `loop` describes (metrics/labels.ts threadLabel). */
  thread: string;
}

function family(m: MetricName, prefix: string, samples: MetricSample[]): MetricFamily {
  return { name: prefix + m.prometheus, help: m.help, type: m.type, samples };
}

function histogramSamples(bounds: readonly number[], cumulative: number[], sum: number, count: number, labels: Record<string, string>): MetricSample[] {
  const out: MetricSample[] = bounds.map((le, i) => ({ suffix: '_bucket', labels: { ...labels, le: formatLe(le) }, value: cumulative[i] }));
  out.push({ suffix: '_bucket', labels: { ...labels, le: '+Inf' }, value: count });
  out.push({ suffix: '_sum', labels, value: sum });
  out.push({ suffix: '_count', labels, value: count });
  return out;
}

/** `le` values as Prometheus clients write them (0.001, 1, 2.5: shortest round-trip form). */
function formatLe(v: number): string {
  return String(v);
}

/**
 * Every family of the contract, keyed by its contract name (MetricName.prometheus, without
 * the prefix), in the order of the metrics table.
 */
export function buildFamilies({ loop, blocks, thread }: FamilySources, prefix = ''): ReadonlyMap<string, MetricFamily> {
  const out = new Map<string, MetricFamily>();
  const add = (m: MetricName, samples: MetricSample[]): void => {
    out.set(m.prometheus, family(m, prefix, samples));
  };
  for (const stat of DELAY_STATS) {
    add(EVENTLOOP_DELAY[stat], loop ? [{ suffix: '', labels: {}, value: loop.delay[stat] }] : []);
  }
  add(EVENTLOOP_UTILIZATION, loop ? [{ suffix: '', labels: {}, value: loop.utilization }] : []);
  const [active, idle] = EVENTLOOP_STATES;
  const stateLabel = EVENTLOOP_TIME.labels[0];
  add(EVENTLOOP_TIME, loop ? [
    { suffix: '', labels: { [stateLabel]: active }, value: loop.activeS },
    { suffix: '', labels: { [stateLabel]: idle }, value: loop.idleS },
  ] : []);
  add(LOOP_DELAY_HISTOGRAM, loop
    ? histogramSamples(DELAY_BUCKETS_S, loop.bucketCounts, loop.delaySumS, loop.delayCount, {})
    : []);

  const durations: MetricSample[] = [];
  const blocked: MetricSample[] = [];
  if (blocks) {
    for (const s of blocks.durations()) {
      const cumulative: number[] = [];
      let running = 0;
      for (let i = 0; i < BLOCK_BUCKETS_S.length; i++) cumulative.push((running += s.buckets[i]));
      durations.push(...histogramSamples(BLOCK_BUCKETS_S, cumulative, s.sum, s.count, { route: s.route, culprit: s.culprit, thread: s.thread, cause: s.cause }));
    }
    for (const s of blocks.blocked()) blocked.push({ suffix: '', labels: { route: s.route, thread: s.thread, cause: s.cause }, value: s.seconds });
  }
  add(BLOCK_DURATION, durations);
  add(BLOCKED_TIME, blocked);
  add(BLOCK_ONGOING, loop ? [{ suffix: '', labels: { thread }, value: loop.ongoingS }] : []);
  return out;
}
