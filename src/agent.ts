import { EventEmitter } from 'node:events';
import { debuglog } from 'node:util';
import { existsSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import * as workerThreads from 'node:worker_threads';
import { isMainThread, threadId, Worker } from 'node:worker_threads';
import { type Options, resolveOptions, type ResolvedConfig } from './config.js';
import { contextModeFor, startContext } from './main-thread/context.js';
import { ERROR_CODES, LoopwatchError, WARNING_CODES, warnOnce } from './errors.js';
import type { BlockEvent, WorkerMessage } from './shared/event.js';
import { GcMeter, ownTid } from './main-thread/gc-meter.js';
import { Heartbeat } from './main-thread/heartbeat.js';
import { BlockMetrics } from './metrics/block-store.js';
import { AGENT_KEY, METRICS_SOURCE, type MetricsSource } from './metrics/source.js';
import { quoteNodeOption, splitNodeOptions, withoutOurPreload } from './node-options.js';
import { installProbe, removeProbe } from './main-thread/probe.js';
import { claimUntracked, createSharedState, FLAG, I32, type SharedState, reportPending, untrackedPending } from './shared/shared-state.js';
import { formatBlockLine, untrackedEvent, writeBlockLine } from './main-thread/untracked.js';
import type { WorkerData } from './watchdog/worker.js';
import { LOG_MESSAGE } from './exporters/log.js';
import { apiInstalled, OTEL_BRIDGE_KEY, OtelBridge } from './exporters/otel.js';
import type * as OtelApi from '@opentelemetry/api';

/** The agent's settle() (for assertNoBlock): a registered symbol (the CJS and ESM copies share it), not part of the public Monitor. */
export const SETTLE = Symbol.for('loopwatch.settle.v1');
/** The agent's watching(): resolves once its watchdog runs. Registered symbol, like SETTLE. */
export const WATCHING = Symbol.for('loopwatch.watching.v1');
const debug = debuglog('loopwatch');

/** How long an exiting process waits, at most, for the watchdog to report a block in progress. */
const EXIT_WAIT_MS = 300;

/**
 * The watchdog's young generation, capped: its allocations are small and short-lived (a
 * probe result, a log line), and left to V8's default its semi-spaces grow and stay grown in
 * an idle process. Measured A/B with bench/idle.mjs --agent-b, and the watchdog's time per
 * block A/B with bench/capture.mjs --agent-b and bench/flood.mjs (docs/performance.md, Idle).
 */
const WATCHDOG_HEAP = { maxYoungGenerationSizeMb: 1 } as const;

export interface MonitorEvents {
  block: [event: BlockEvent];
}

/** The running agent. One per process. */
export interface Monitor {
  readonly config: ResolvedConfig;
  on(event: 'block', listener: (event: BlockEvent) => void): this;
  once(event: 'block', listener: (event: BlockEvent) => void): this;
  off(event: 'block', listener: (event: BlockEvent) => void): this;
  /** Stops the heartbeat and the watchdog and releases everything. Safe to call twice. */
  stop(): Promise<void>;
}

type GlobalWithAgent = typeof globalThis & { [AGENT_KEY]?: Agent };

/**
 * Whether this process has an inspector the watchdog can connect to. Node creates none in a
 * `node --test` runner that isolates files in processes, nor in a `--watch` supervisor
 * (Environment::should_create_inspector), and there `connectToMainThread()` aborts the
 * whole process on a failed native assertion instead of throwing (measured: Node 20.20 and
 * 24.22, exit 134, "Assertion failed: (parent_handle_) != nullptr"). Such a process gets
 * detection and durations without stacks; its test files' processes have an inspector.
 */
export function inspectorUsable(execArgv: readonly string[] = process.execArgv, nodeOptions: string | undefined = process.env.NODE_OPTIONS): boolean {
  const args = [...execArgv, ...splitNodeOptions(nodeOptions ?? '')];
  const has = (re: RegExp): boolean => args.some((a) => re.test(a));
  if (has(/^--watch(-path)?(=|$)/)) return false;
  return !has(/^--test(=|$)/) || has(/^--(experimental-)?test-isolation=none$/);
}

/** NODE_OPTIONS for the watchdog: the app's, without our own preload, so the worker does not start another agent. */
export function workerNodeOptions(value: string | undefined): string | undefined {
  if (!value) return value;
  const own = [join(__dirname, 'register.cjs'), join(__dirname, 'register.js')];
  return withoutOurPreload(splitNodeOptions(value), own).map(quoteNodeOption).join(' ');
}

class Agent extends EventEmitter<MonitorEvents> implements Monitor {
  readonly config: ResolvedConfig;
  readonly #state: SharedState;
  readonly #heartbeat: Heartbeat;
  /** GC time inside blocks, for their cause (main-thread/gc-meter.ts). */
  readonly #gc: GcMeter;
  #worker: Worker | undefined;
  /** Block metrics for prom-client collectors (loopwatch/prometheus), fed by the 'block' messages. */
  readonly #blocks: BlockMetrics;
  #unsubscribe: (() => void) | undefined;
  #stopped = false;
  #otel: OtelBridge | undefined;
  #logger: { warn(obj: object, msg: string): void } | undefined;
  /** 'block' messages received from the worker (compared with its REPORTS count by settle()). */
  #received = 0;
  readonly #thread = threadInfo();

  constructor(config: ResolvedConfig) {
    super();
    this.config = config;
    this.#state = createSharedState();
    this.#heartbeat = new Heartbeat(this.#state, config.heartbeatMs, config.thresholdMs);
    this.#gc = new GcMeter(() => Atomics.notify(this.#state.i32, I32.FLAGS));
    this.#blocks = new BlockMetrics(config.metricsTopN);
  }

  /** What loopwatch/prometheus reads at scrape time (a symbol: not part of the public API). */
  [METRICS_SOURCE](): MetricsSource {
    return { state: this.#state, blocks: this.#blocks, config: this.config, thread: this.#thread };
  }

  start(): void {
    this.#unsubscribe = startContext(contextModeFor(this.config.context));
    const captureStacks = this.config.captureStacks && inspectorUsable();
    if (this.config.captureStacks && !captureStacks) debug('no inspector in a --test runner or --watch supervisor: blocks are timed without stacks');
    if (captureStacks) {
      installProbe();
      this.#gc.install();
      this.#heartbeat.onBeat = this.#gc.beat;
    }
    this.#heartbeat.start();
    const workerData: WorkerData = {
      buffer: this.#state.buffer,
      config: {
        thresholdMs: this.config.thresholdMs,
        heartbeatMs: this.config.heartbeatMs,
        confirmMs: this.config.confirmMs,
        stuckMs: this.config.stuckMs,
        maxSamples: this.config.maxSamples,
        captureStacks,
        log: this.config.log,
        cwd: process.cwd(),
        thread: this.#thread,
        tid: ownTid(readlinkSync),
        gcBuffer: captureStacks ? this.#gc.buffer : null,
        logLimit: this.config.logLimit,
        logIntervalMs: this.config.logIntervalMs,
        prometheus: this.config.prometheusPort === null
          ? null
          : { port: this.config.prometheusPort, host: this.config.prometheusHost, topN: this.config.metricsTopN },
      },
    };
    const env: NodeJS.ProcessEnv = { ...process.env, [WATCHDOG_ENV]: '1' };
    const nodeOptions = workerNodeOptions(env.NODE_OPTIONS);
    if (nodeOptions) env.NODE_OPTIONS = nodeOptions;
    else delete env.NODE_OPTIONS;
    const workerFile = join(__dirname, 'watchdog', 'worker.cjs');
    // Checked here, not left to the worker's 'error' event: a short-lived process (a CLI,
    // a script) can end before that event arrives, and the install would fail silently.
    if (existsSync(workerFile)) this.#worker = this.#startWorker(workerFile, workerData, env);
    else warnOnce('worker-error', `loopwatch watchdog cannot start: ${workerFile} is missing (an incomplete install or bundle: the package's dist/ folder must be shipped whole); blocks are not detected`, WARNING_CODES.WORKER_FAILED);
    process.on('exit', this.#onExit);
    this.#logger = this.config.logger?.child({ component: 'loopwatch' });
    if (this.config.otel) this[OTEL_BRIDGE_KEY]();
  }

  /**
   * The agent's OpenTelemetry bridge, created on first use (at start when `otel` is on, or by
   * loopwatch/otel with the caller's copy of the API); null when the API is not installed.
   */
  [OTEL_BRIDGE_KEY](api?: typeof OtelApi): OtelBridge | null {
    if (!this.#otel && !this.#stopped && (api || apiInstalled())) this.#otel = new OtelBridge(this, this.#state, this.config, this.#thread, api);
    if (api) this.#otel?.useApi(api);
    return this.#otel ?? null;
  }

  readonly #onMessage = (msg: WorkerMessage): void => {
    try {
      if (msg.code === 'block') {
        // On Node 20 a worker thread's name is known only to the watchdog (from the inspector):
        // take it, so every series of this thread carries the name its events carry.
        if (msg.event.thread.id === this.#thread.id) this.#thread.name = msg.event.thread.name;
        if (this.#logger) {
          try {
            this.#logger.warn({ block: msg.event }, LOG_MESSAGE);
          } catch {
            // The app's logger failing is not ours to surface.
          }
        }
        this.#blocks.record(msg.event);
        if (this.listenerCount('block') > 0) this.emit('block', msg.event);
      } else if (msg.code === 'warning') {
        warnOnce(`worker:${msg.key}`, msg.message, WARNING_CODES[msg.warning]);
      }
    } catch (err) {
      // A throwing 'block' listener is the app's bug, but it must not look like ours.
      process.nextTick(() => {
        throw err;
      });
    }
  };

  #startWorker(file: string, workerData: WorkerData, env: NodeJS.ProcessEnv): Worker {
    const worker = new Worker(file, {
      name: 'loopwatch-watchdog',
      workerData,
      execArgv: [],
      env,
      stdout: false,
      stderr: false,
      resourceLimits: WATCHDOG_HEAP,
    });
    worker.on('message', (msg: WorkerMessage) => {
      // Only the worker's own messages: settle() compares them with its REPORTS count.
      if (msg.code === 'block') this.#received++;
      this.#onMessage(msg);
    });
    worker.on('error', (err) => {
      warnOnce('worker-error', `loopwatch watchdog stopped: ${err?.message ?? err}; blocks are no longer detected`, WARNING_CODES.WORKER_FAILED);
    });
    // After the listeners: adding a 'message' listener refs the port again.
    worker.unref();
    return worker;
  }

  /**
   * 'exit' runs synchronously and nothing after it does: write the last beat, tell the
   * worker, and if a block may be in progress give it a bounded moment to write its line
   * and disconnect its inspector session.
   */
  readonly #onExit = (): void => {
    if (this.#stopped) return;
    const { i32 } = this.#state;
    const busy = this.#heartbeat.busySinceBeat();
    this.#heartbeat.finalBeat();
    Atomics.or(i32, I32.FLAGS, FLAG.EXITING);
    Atomics.notify(i32, I32.FLAGS);
    // A watchdog not running yet could add nothing to the main thread's own records (a
    // block that is over has no stack left to take): it is told not to start, and no wait.
    const ready = this.#watchdogRunning();
    const pending = reportPending(this.#state, busy, this.config.thresholdMs);
    const waited = pending && ready ? Atomics.wait(i32, I32.EXIT_ACK, 0, EXIT_WAIT_MS) : 'no wait';
    debug('exit: watchdog %s, stall %d, untracked records %d, claimed %d, wait: %s', ready ? 'running' : 'not running', Atomics.load(i32, I32.STALL), Atomics.load(i32, I32.UNTRACKED), Atomics.load(i32, I32.UNTRACKED_CLAIMED), waited);
    this.#reportUntracked();
  };

  /**
   * Resolves once every block that ended before the call has reached the 'block'
   * listeners: two beats have passed (so a block in progress at the call has ended and been
   * closed by its recovery beat, or recorded as untracked), the watchdog runs and has claimed
   * every untracked record, tracks no stall, and every block it posted has arrived. Bounded: gives up after max(1 s, 4 × threshold).
   */
  async [SETTLE](): Promise<void> {
    const { i32 } = this.#state;
    const beats = Atomics.load(i32, I32.BEATS);
    const deadline = performance.now() + Math.max(1_000, 4 * this.config.thresholdMs);
    const pause = Math.max(1, Math.min(10, Math.floor(this.config.heartbeatMs / 2)));
    while (!this.#stopped && performance.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, pause));
      const beaten = (Atomics.load(i32, I32.BEATS) - beats) | 0;
      if (
        beaten >= 2 && Atomics.load(i32, I32.READY) === 1 && !untrackedPending(this.#state) &&
        Atomics.load(i32, I32.STALL) === 0 && Atomics.load(i32, I32.REPORTS) === this.#received
      ) return;
    }
  }

  /** Resolves once the watchdog thread runs (bounded: 2 s), so a block from now on gets a stack. */
  async [WATCHING](): Promise<void> {
    const deadline = performance.now() + 2_000;
    while (!this.#stopped && Atomics.load(this.#state.i32, I32.READY) !== 1 && performance.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
  }

  /** Whether the watchdog runs; if not, it never will, and the main thread reports the blocks. */
  #watchdogRunning(): boolean {
    return Atomics.compareExchange(this.#state.i32, I32.READY, 0, -1) === 1;
  }

  /** Reports the main thread's records of blocks the watchdog has not claimed (see main-thread/untracked.ts). */
  #reportUntracked(): void {
    for (let r = claimUntracked(this.#state); r !== null; r = claimUntracked(this.#state)) {
      const event = untrackedEvent(this.#state, r, { thread: this.#thread, thresholdMs: this.config.thresholdMs });
      writeBlockLine(this.config.log, formatBlockLine(event));
      this.#onMessage({ code: 'block', event });
    }
  }

  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    process.removeListener('exit', this.#onExit);
    this.#heartbeat.stop();
    Atomics.notify(this.#state.i32, I32.FLAGS);
    this.#unsubscribe?.();
    this.#otel?.stop();
    removeProbe();
    this.#gc.remove();
    const g = globalThis as GlobalWithAgent;
    if (g[AGENT_KEY] === this) delete g[AGENT_KEY];
    const worker = this.#worker;
    this.#worker = undefined;
    if (!worker) return;
    // Ref'd while stopping: `await monitor.stop()` must come back even when nothing else
    // keeps the loop alive.
    worker.ref();
    if (this.#watchdogRunning() && reportPending(this.#state)) {
      // A block is being tracked or waits to be reported: give the worker a bounded moment.
      const deadline = performance.now() + EXIT_WAIT_MS;
      while (Atomics.load(this.#state.i32, I32.EXIT_ACK) !== 1 && performance.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    }
    this.#reportUntracked();
    await worker.terminate().catch(() => undefined);
  }
}

/** Set in the environment of loopwatch's watchdog threads. */
const WATCHDOG_ENV = 'LOOPWATCH_WATCHDOG_THREAD';

/** The thread this agent watches: the main thread, or one of the app's worker threads. */
function threadInfo(): { id: number; name: string } {
  if (isMainThread) return { id: 0, name: 'main' };
  // threadName exists from Node 22; on 20 the watchdog reads the name from the inspector.
  const name = (workerThreads as { threadName?: string }).threadName;
  return { id: threadId, name: name || `worker ${threadId}` };
}

/**
 * Starts loopwatch in one of the app's worker threads (the register entry, inherited through
 * execArgv or NODE_OPTIONS). The thread gets its own heartbeat and watchdog, which captures
 * it through the main thread's inspector (NodeWorker domain). Internal: not exported.
 */
export function startInWorkerThread(options?: Options): Monitor | undefined {
  // Never inside loopwatch's own watchdogs: should the preload reach them anyway (a
  // NODE_OPTIONS entry whose path workerNodeOptions does not recognise), an agent there
  // would start a watchdog of its own, and so on.
  if (isMainThread || process.env[WATCHDOG_ENV] === '1') return undefined;
  return (globalThis as GlobalWithAgent)[AGENT_KEY] ?? launch(resolveOptions(options ?? {}));
}

/** Creates the process's agent, publishes it as the running one, and starts it. */
function launch(config: ResolvedConfig): Agent {
  const g = globalThis as GlobalWithAgent;
  const agent = new Agent(config);
  g[AGENT_KEY] = agent;
  try {
    agent.start();
  } catch (err) {
    void agent.stop();
    throw err;
  }
  return agent;
}

/**
 * Starts loopwatch in this process. A second call (for example `--require
 * loopwatch/register` plus `start()`, or the ESM and CJS copies) warns and returns the
 * running monitor.
 */
export function start(options?: Options): Monitor {
  const config = resolveOptions(options ?? {});
  if (!isMainThread) {
    throw new LoopwatchError(ERROR_CODES.NOT_MAIN_THREAD, 'loopwatch.start() must be called on the main thread');
  }
  const g = globalThis as GlobalWithAgent;
  const running = g[AGENT_KEY];
  if (running) {
    warnOnce('already-started', 'loopwatch is already running in this process; start() returns the running monitor and ignores the new options', WARNING_CODES.ALREADY_STARTED);
    return running;
  }
  return launch(config);
}

/** The running monitor, if any. */
export function current(): Monitor | undefined {
  return (globalThis as GlobalWithAgent)[AGENT_KEY];
}
