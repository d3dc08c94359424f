import { createRequire } from 'node:module';
import type * as Api from '@opentelemetry/api';
import type { ResolvedConfig } from '../config.js';
import type { BlockEvent } from '../shared/event.js';
import { busySinceBeat, reportPending, type SharedState } from '../shared/shared-state.js';
import { LoopInstruments } from './otel-metrics.js';
import { BlockLabels } from '../metrics/labels.js';
import { emitBlockSpan } from './otel-spans.js';
import { otelGlobal } from '../main-thread/otel-global.js';
import { SCOPE } from './otel-keys.js';

export { OTEL_BRIDGE_KEY, SCOPE } from './otel-keys.js';

/** How often, at most, the bridge looks for an SDK registered after it started (then every 5 s). */
const POLL_FIRST_MS = 250;
const POLL_MAX_MS = 5000;
/** How long an exiting process waits, at most, for the report of a block that just ended. */
const EXIT_REPORT_MS = 500;

/** Loads the app's `@opentelemetry/api` (a peer dependency), or null when it is not installed. */
export function loadApi(): typeof Api | null {
  try {
    return createRequire(__filename)('@opentelemetry/api') as typeof Api;
  } catch {
    return null;
  }
}

/** Whether `@opentelemetry/api` can be loaded, without loading it (~20 ms on a small VM). */
export function apiInstalled(): boolean {
  try {
    createRequire(__filename).resolve('@opentelemetry/api');
    return true;
  } catch {
    return false;
  }
}

/** Whether any copy of the API has registered something (a provider or a context manager). */
function apiInUse(): boolean {
  return otelGlobal() !== undefined;
}

/** Providers loopwatch exports to itself (OTLP from OTEL_* variables) while the app registers none. */
export interface Fallback {
  meterProvider?: Api.MeterProvider;
  tracerProvider?: Api.TracerProvider;
  flush(): Promise<void>;
  shutdown(): Promise<void>;
}

export interface ExplicitProviders {
  meterProvider?: Api.MeterProvider;
  tracerProvider?: Api.TracerProvider;
}

/** The part of the agent the bridge needs. */
export interface BridgeHost {
  on(event: 'block', listener: (event: BlockEvent) => void): unknown;
  off(event: 'block', listener: (event: BlockEvent) => void): unknown;
}

function registered(kind: 'metrics' | 'trace'): boolean {
  return Boolean(otelGlobal()?.[kind]);
}

/**
 * Connects one agent to OpenTelemetry: loopwatch's instruments on a meter, and a span per
 * block. The metrics API has no proxy provider (a meter taken before the SDK registers stays
 * a no-op), so the bridge keeps checking which provider is current, with unref'd timers
 * that cost one wake-up per 5 s, and moves its instruments when it changes. Tracers come
 * from the API's proxy, looked up per block.
 */
export class OtelBridge {
  /** Loaded only once the app uses OpenTelemetry (or loopwatch exports OTLP): apps without it pay nothing. */
  #api: typeof Api | null;
  readonly #host: BridgeHost;
  readonly #state: SharedState;
  readonly #config: ResolvedConfig;
  readonly #thread: { readonly id: number; readonly name: string };
  readonly #labels: BlockLabels;
  #explicit: ExplicitProviders = {};
  #fallback: Fallback | null = null;
  #meterProvider: Api.MeterProvider | null = null;
  #instruments: LoopInstruments | null = null;
  #timer: NodeJS.Timeout | undefined;
  #pollMs = POLL_FIRST_MS;
  #stopped = false;
  /** Blocks seen since the last flush: an exit flush runs again only for new ones. */
  #unflushed = 0;

  constructor(host: BridgeHost, state: SharedState, config: ResolvedConfig, thread: { readonly id: number; readonly name: string }, api: typeof Api | null = null) {
    this.#api = api;
    this.#host = host;
    this.#state = state;
    this.#config = config;
    this.#thread = thread;
    this.#labels = new BlockLabels(config.metricsTopN);
    host.on('block', this.#onBlock);
    this.#rebind();
    // The app's SDK usually starts in its main module, right after a --require preload.
    setImmediate(this.#poll).unref();
  }

  /** The caller's copy of the API (loopwatch/otel), used if none is loaded yet. */
  useApi(api: typeof Api): void {
    this.#api ??= api;
  }

  #ensureApi(): typeof Api | null {
    if (!this.#api && (apiInUse() || this.#fallback || this.#explicit.meterProvider || this.#explicit.tracerProvider)) {
      this.#api = loadApi();
    }
    return this.#api;
  }

  /** Uses these providers instead of the global ones (loopwatch/otel's useOpenTelemetry). */
  setExplicit(providers: ExplicitProviders): void {
    this.#explicit = { ...providers };
    this.#rebind();
  }

  /** Providers used while the app has none registered (OTLP from OTEL_* variables). */
  setFallback(fallback: Fallback): void {
    this.#fallback = fallback;
    this.#rebind();
  }

  readonly #poll = (): void => {
    this.#timer = undefined;
    if (this.#stopped) return;
    this.#rebind();
    this.#timer = setTimeout(this.#poll, this.#pollMs);
    this.#timer.unref();
    this.#pollMs = Math.min(POLL_MAX_MS, this.#pollMs * 2);
  };

  #currentMeterProvider(api: typeof Api): Api.MeterProvider | null {
    if (this.#explicit.meterProvider) return this.#explicit.meterProvider;
    if (registered('metrics')) return api.metrics.getMeterProvider();
    return this.#fallback?.meterProvider ?? null;
  }

  #currentTracer(api: typeof Api): Api.Tracer | null {
    const provider = this.#explicit.tracerProvider
      ?? (registered('trace') ? api.trace.getTracerProvider() : this.#fallback?.tracerProvider);
    return provider ? provider.getTracer(SCOPE) : null;
  }

  #rebind(): void {
    if (this.#stopped) return;
    try {
      const api = this.#ensureApi();
      if (!api) return;
      const provider = this.#currentMeterProvider(api);
      this.#dropFallback(provider);
      if (provider === this.#meterProvider) return;
      this.#instruments?.remove();
      this.#instruments = null;
      this.#meterProvider = provider;
      if (provider) {
        this.#instruments = new LoopInstruments(provider.getMeter(SCOPE), {
          state: this.#state,
          thresholdMs: this.#config.thresholdMs,
          heartbeatMs: this.#config.heartbeatMs,
          runtimeMetrics: this.#config.otelRuntimeMetrics,
          labels: this.#labels,
          thread: this.#thread,
        });
      }
    } catch {
      // A broken provider must not break the app; the next poll tries again.
    }
  }

  /** The app registered its own SDK (both signals): it exports from now on; ours would send everything twice. */
  #dropFallback(provider: Api.MeterProvider | null): void {
    const fb = this.#fallback;
    if (!fb || provider === fb.meterProvider || !registered('trace') || !registered('metrics')) return;
    this.#fallback = null;
    fb.shutdown().catch(() => undefined);
  }

  readonly #onBlock = (event: BlockEvent): void => {
    if (this.#stopped) return;
    this.#unflushed++;
    this.#rebind();
    try {
      this.#instruments?.recordBlock(event);
    } catch {
      // Metrics of one block are not worth an error in the host.
    }
    try {
      const api = this.#ensureApi();
      const tracer = api && this.#currentTracer(api);
      if (api && tracer) emitBlockSpan(api, tracer, event);
    } catch {
      // Same for its span.
    }
  };

  /** Flushes the fallback pipeline, if any (bounded by its exporters' timeouts). */
  async flush(): Promise<void> {
    this.#unflushed = 0;
    await this.#fallback?.flush();
  }

  /** Whether a block may have ended without its event here yet: the loop ran out of work right after it. */
  #blockPending(): boolean {
    return reportPending(this.#state, busySinceBeat(this.#state, performance.now(), performance.nodeTiming.idleTime), this.#config.thresholdMs);
  }

  /**
   * For 'beforeExit' (the loop ran out of work). A block that just ended is reported only
   * once a beat closes it and the worker's message arrives, which needs the loop to turn a
   * few more times: wait for that (ref'd timers, at most EXIT_REPORT_MS), then flush. Later
   * 'beforeExit's flush again only if new blocks came, so the process always gets to exit.
   */
  async exitFlush(first: boolean): Promise<void> {
    const deadline = performance.now() + EXIT_REPORT_MS;
    while (this.#blockPending() && performance.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    if (first || this.#unflushed > 0) await this.flush();
  }

  stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#host.off('block', this.#onBlock);
    this.#instruments?.remove();
    this.#instruments = null;
    const fb = this.#fallback;
    this.#fallback = null;
    fb?.shutdown().catch(() => undefined);
  }
}
