/**
 * Every metric loopwatch exports, in one place. Contract: README, "Metrics". Dashboards,
 * alert rules and their tests read these names; change them only together with those.
 *
 * Prometheus names carry their unit (`_seconds`, `_ratio`, `_total`); OpenTelemetry names
 * follow the semantic conventions for Node.js runtime metrics (`nodejs.eventloop.*`) and use
 * `loopwatch.*` for the rest, with UCUM units.
 */

export type MetricType = 'gauge' | 'counter' | 'histogram';

/** How prom-client's AggregatorRegistry combines a series across cluster workers. */
export type Aggregator = 'sum' | 'max' | 'average';

export interface MetricName {
  /** Prometheus name, unit included. */
  readonly prometheus: string;
  /** OpenTelemetry instrument name. */
  readonly otel: string;
  readonly type: MetricType;
  /** UCUM unit for OpenTelemetry (`s`, `1`). */
  readonly unit: string;
  readonly labels: readonly string[];
  readonly help: string;
  readonly aggregator: Aggregator;
}

function metric(
  prometheus: string,
  otel: string,
  type: MetricType,
  unit: string,
  labels: readonly string[],
  help: string,
  aggregator: Aggregator,
): MetricName {
  return Object.freeze({ prometheus, otel, type, unit, labels: Object.freeze([...labels]), help, aggregator });
}

/** Percentile and moment gauges of the loop delay, in the order of the README's metrics table. */
export const DELAY_STATS = Object.freeze(['min', 'max', 'mean', 'stddev', 'p50', 'p90', 'p99'] as const);
export type DelayStat = (typeof DELAY_STATS)[number];

export const EVENTLOOP_DELAY: Readonly<Record<DelayStat, MetricName>> = Object.freeze(
  Object.fromEntries(
    DELAY_STATS.map((stat) => [
      stat,
      metric(
        `nodejs_eventloop_delay_${stat}_seconds`,
        `nodejs.eventloop.delay.${stat}`,
        'gauge',
        's',
        [],
        `Event loop delay, ${stat}, over the last collection interval.`,
        // The worst worker's max is the cluster's; the other statistics do not add up.
        stat === 'max' ? 'max' : 'average',
      ),
    ]),
  ) as Record<DelayStat, MetricName>,
);

export const EVENTLOOP_UTILIZATION = metric(
  'nodejs_eventloop_utilization_ratio',
  'nodejs.eventloop.utilization',
  'gauge',
  '1',
  [],
  'Fraction of time the event loop was busy (not waiting for I/O) over the last collection interval.',
  'average',
);

/** Attribute values of EVENTLOOP_TIME's state label. */
export const EVENTLOOP_STATES = Object.freeze(['active', 'idle'] as const);

export const EVENTLOOP_TIME = metric(
  'nodejs_eventloop_time_seconds_total',
  'nodejs.eventloop.time',
  'counter',
  's',
  ['nodejs_eventloop_state'],
  'Cumulative time the event loop spent in each state.',
  'sum',
);

export const LOOP_DELAY_HISTOGRAM = metric(
  'loopwatch_eventloop_delay_seconds',
  'loopwatch.eventloop.delay',
  'histogram',
  's',
  [],
  'Event loop delay as a histogram; aggregate across instances with histogram_quantile over sum by (le).',
  'sum',
);

export const BLOCK_DURATION = metric(
  'loopwatch_block_duration_seconds',
  'loopwatch.block.duration',
  'histogram',
  's',
  ['route', 'culprit', 'thread', 'cause'],
  'Duration of event loop blocks at or above the threshold.',
  'sum',
);

export const BLOCKED_TIME = metric(
  'loopwatch_blocked_seconds_total',
  'loopwatch.blocked.time',
  'counter',
  's',
  ['route', 'thread', 'cause'],
  'Total time the event loop spent in blocks at or above the threshold, by cause (code, native, gc, starved).',
  'sum',
);

export const BLOCK_ONGOING = metric(
  'loopwatch_block_ongoing_seconds',
  'loopwatch.block.ongoing',
  'gauge',
  's',
  ['thread'],
  'How long the block going on now has lasted; 0 when the loop is turning.',
  // The longest block going on in any worker.
  'max',
);

/** Every metric of the contract, for tests and dashboards checks. */
export const ALL_METRICS: readonly MetricName[] = Object.freeze([
  ...DELAY_STATS.map((s) => EVENTLOOP_DELAY[s]),
  EVENTLOOP_UTILIZATION,
  EVENTLOOP_TIME,
  LOOP_DELAY_HISTOGRAM,
  BLOCK_DURATION,
  BLOCKED_TIME,
  BLOCK_ONGOING,
]);

/** Label value for routes and culprits beyond the top N, and for requests that matched no route. */
export const OTHER_LABEL = 'other';
export const UNMATCHED_ROUTE_LABEL = 'unmatched';
/** Label value when a block ran outside any known request or job. */
export const NO_ROUTE_LABEL = 'none';
/** Culprit label value when no stack could be taken (untracked blocks, captureStacks off) or none is blamed (starved). */
export const UNKNOWN_CULPRIT_LABEL = 'unknown';
/** Values of the `cause` label: a fixed set (src/watchdog/cause.ts), so it adds at most four values. */
export const CAUSE_LABELS = Object.freeze(['code', 'native', 'gc', 'starved'] as const);

/**
 * Upper bounds (s) of loopwatch_block_duration_seconds. Blocks are at least the threshold
 * (50 ms by default, often set from 10 ms to 1 s), so the buckets start below it and reach
 * a minute, past which a block is an outage of its own.
 */
export const BLOCK_BUCKETS_S = Object.freeze([0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60]);
