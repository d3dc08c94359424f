/**
 * loopwatch's metrics as collectors in a prom-client registry (the default registry unless
 * one is given). Everything is computed when the registry is scraped: one reading of the
 * shared memory and the block store fills all series of that scrape; no timer, no reset.
 *
 * The names do not collide with prom-client's collectDefaultMetrics() (its loop series are
 * nodejs_eventloop_lag_*); they are the OpenTelemetry runtime names in their Prometheus
 * form, so dashboards built on those keep working.
 */
import { register as defaultRegistry, type Registry, type RegistryContentType } from 'prom-client';
import { describe, LoopwatchRangeError, LoopwatchTypeError } from '../errors.js';
import { buildFamilies, type MetricFamily } from '../metrics/families.js';
import { type LoopStatsReader, mainThreadLoopStats } from '../metrics/loop-stats.js';
import { threadLabel } from '../metrics/labels.js';
import { currentSource, type MetricsSource } from '../metrics/source.js';
import { ALL_METRICS, type MetricName } from '../metrics/names.js';

export interface PrometheusOptions {
  /** The registry to add the collectors to. Default: prom-client's default registry. */
  registry?: Registry<RegistryContentType>;
  /** Prepended to every metric name (`myapp_` gives `myapp_loopwatch_block_duration_seconds`). Default ''. */
  prefix?: string;
}

export interface PrometheusCollectors {
  /** The metric names registered, prefix included. */
  readonly names: readonly string[];
  /** Removes the collectors from the registry. */
  unregister(): void;
}

const PREFIX = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;

/** One scrape's families, shared by all collectors of a registration. */
class Scrape {
  readonly #prefix: string;
  #reader: LoopStatsReader | undefined;
  #readerSource: MetricsSource | undefined;
  #cache: ReadonlyMap<string, MetricFamily> | null = null;

  constructor(prefix: string) {
    this.#prefix = prefix;
  }

  families(): ReadonlyMap<string, MetricFamily> {
    if (this.#cache) return this.#cache;
    const source = currentSource();
    if (source && source !== this.#readerSource) {
      // A new agent (stop() then start()): its counters start over, as after a restart.
      this.#readerSource = source;
      this.#reader = mainThreadLoopStats(source.state, source.config);
    }
    const families = buildFamilies({
      loop: source && this.#reader ? this.#reader.read() : null,
      blocks: source?.blocks ?? null,
      // The agent's thread, labelled as its block events are.
      thread: threadLabel(source?.thread),
    }, this.#prefix);
    // prom-client calls every collector's get() in one synchronous pass: they all share this
    // reading, and the next scrape computes a new one.
    this.#cache = families;
    queueMicrotask(() => {
      this.#cache = null;
    });
    return families;
  }
}

/** The object prom-client's Registry expects of a metric: name, help, type, get(), reset(). */
class Collector {
  name: string;
  /** The name it was registered under (prom-client renames OpenMetrics counters in place). */
  readonly key: string;
  readonly help: string;
  readonly type: string;
  readonly aggregator: string;
  readonly #scrape: Scrape;
  /** The family's contract name (unprefixed): its key in a scrape's families. */
  readonly #family: string;

  constructor(scrape: Scrape, m: MetricName, prefix: string) {
    this.name = prefix + m.prometheus;
    this.key = this.name;
    this.help = m.help;
    this.type = m.type;
    this.aggregator = m.aggregator;
    this.#scrape = scrape;
    this.#family = m.prometheus;
  }

  async get(): Promise<{ name: string; help: string; type: string; aggregator: string; values: { labels: Record<string, string>; value: number; metricName?: string }[] }> {
    const family = this.#scrape.families().get(this.#family)!;
    return {
      name: this.name,
      help: this.help,
      type: this.type,
      aggregator: this.aggregator,
      values: family.samples.map((s) => ({
        labels: s.labels,
        value: s.value,
        // Without a suffix prom-client uses this.name, which it renames for OpenMetrics counters.
        ...(s.suffix ? { metricName: this.name + s.suffix } : {}),
      })),
    };
  }

  /** registry.resetMetrics(): nothing to reset, the values are the agent's. */
  reset(): void {}
}

const registered = new WeakMap<Registry<RegistryContentType>, Map<string, PrometheusCollectors>>();

/**
 * Registers loopwatch's collectors in `options.registry` (default: prom-client's default
 * registry). Calling it again for the same registry and prefix returns the same handle.
 * Works before start(): the series appear once the agent runs.
 */
export function registerMetrics(options: PrometheusOptions = {}): PrometheusCollectors {
  if (options === null || typeof options !== 'object') {
    throw new LoopwatchTypeError(`options must be an object, got ${describe(options)}`);
  }
  const registry: Registry<RegistryContentType> = options.registry ?? defaultRegistry;
  if (!registry || typeof registry.registerMetric !== 'function') {
    throw new LoopwatchTypeError(`options.registry must be a prom-client Registry, got ${describe(registry)}`);
  }
  const prefix = options.prefix ?? '';
  if (typeof prefix !== 'string') throw new LoopwatchTypeError(`options.prefix must be a string, got ${describe(prefix)}`);
  if (prefix !== '' && !PREFIX.test(prefix)) {
    throw new LoopwatchRangeError(`options.prefix must match ${PREFIX.source} (letters, digits, _ and :), got ${describe(prefix)}`);
  }
  let byPrefix = registered.get(registry);
  const existing = byPrefix?.get(prefix);
  if (existing) return existing;

  const scrape = new Scrape(prefix);
  const collectors = ALL_METRICS.map((m) => new Collector(scrape, m, prefix));
  const taken = collectors.filter((c) => registry.getSingleMetric(c.name) !== undefined).map((c) => c.name);
  if (taken.length > 0) {
    throw new LoopwatchRangeError(`the registry already has metrics named ${taken.join(', ')}; pass options.prefix to register loopwatch's under other names`);
  }
  for (const c of collectors) registry.registerMetric(c as unknown as Parameters<Registry<RegistryContentType>['registerMetric']>[0]);

  const handle: PrometheusCollectors = {
    names: Object.freeze(collectors.map((c) => c.key)),
    unregister(): void {
      for (const c of collectors) {
        if (registry.getSingleMetric(c.key) === (c as unknown)) registry.removeSingleMetric(c.key);
      }
      registered.get(registry)?.delete(prefix);
    },
  };
  if (!byPrefix) registered.set(registry, (byPrefix = new Map()));
  byPrefix.set(prefix, handle);
  return handle;
}
