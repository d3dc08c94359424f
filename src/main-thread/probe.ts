import { threadId } from 'node:worker_threads';
import type { BlockContext } from '../shared/event.js';
import { readContext } from './context.js';
import { resumedFromQueue } from './inflight.js';
import { PROBE_KEY, type ProbeResult, type RawFrame } from '../shared/probe-protocol.js';
import { activeSpan, SPAN_ID, TRACE_ID } from './otel-global.js';

const STACK_LIMIT = 64;

interface CallSiteLike {
  getFunctionName(): string | null;
  getMethodName(): string | null;
  getTypeName(): string | null;
  getFileName(): string | null | undefined;
  getScriptNameOrSourceURL?(): string | null | undefined;
  getLineNumber(): number | null;
  getColumnNumber(): number | null;
  getEnclosingLineNumber?(): number | null;
  getEnclosingColumnNumber?(): number | null;
  isEval(): boolean;
  isAsync?(): boolean;
}

function frameName(cs: CallSiteLike, file: string): string {
  const fn = cs.getFunctionName();
  if (fn) {
    // Built-ins (no file) read better with their receiver: JSON.parse, Array.sort.
    if (!file) {
      const type = cs.getTypeName();
      if (type && type !== 'Object' && !fn.includes('.')) return `${type}.${fn}`;
    }
    return fn;
  }
  const method = cs.getMethodName();
  if (method) {
    const type = cs.getTypeName();
    return type ? `${type}.${method}` : method;
  }
  return '<anonymous>';
}

/**
 * Whether a frame is at its function's entry stack check, i.e. has not run any of its body.
 * V8 reports that check at the start of the parameter list, while the enclosing position
 * is the start of the whole function: equal for arrows, and `function name`, `name` (a
 * method), `async function name`… apart for the other forms. The name is the frame's
 * own, so the header's length is known without reading the source.
 */
function atEntry(cs: CallSiteLike, line: number, column: number): 0 | 1 {
  if (cs.getEnclosingLineNumber?.() !== line) return 0;
  const start = cs.getEnclosingColumnNumber?.();
  if (start == null) return 0;
  const offset = column - start;
  if (offset === 0) return 1;
  const name = cs.getFunctionName() ?? '';
  const short = name.slice(name.lastIndexOf('.') + 1);
  // Headers are counted only for names written as identifiers: an arrow stored under a
  // string key ('/json': (req) => …) takes the key as its name, and the key's length plus
  // a header can equal the offset of a call in the arrow's body by chance.
  if (short !== '' && !IDENTIFIER.test(short)) return 0;
  for (const head of ENTRY_HEADERS) {
    if (offset === head.length + short.length) return 1;
  }
  return 0;
}

const IDENTIFIER = /^[\p{ID_Start}$_][\p{ID_Continue}$\u200c\u200d]*$/u;
const ENTRY_HEADERS = ['', 'function ', 'async function ', 'function* ', 'async function* ', 'async ', 'static ', 'get ', 'set ', 'static async ', '*', 'async *'];

/** Whether the last captured stack was resumed from the microtask queue (set by collect). */
let resumed: boolean | null = null;

function collect(_: unknown, sites: CallSiteLike[]): RawFrame[] {
  resumed = resumedFromQueue(sites, STACK_LIMIT);
  const frames: RawFrame[] = [];
  for (const cs of sites) {
    const file = cs.getFileName() ?? cs.getScriptNameOrSourceURL?.() ?? '';
    // The evaluate() script itself has no file; it sits between the probe and the blocked code.
    if (!file && frames.length === 0 && cs.getLineNumber() === 1) continue;
    const line = cs.getLineNumber() ?? 0;
    const column = cs.getColumnNumber() ?? 0;
    // A frame whose position is its function's own start has not run any of its body yet:
    // the interrupt was served at its entry stack check.
    frames.push([frameName(cs, file), file, line, column, atEntry(cs, line, column)]);
  }
  return frames;
}

/**
 * What the probe needs, taken when loopwatch loads: APM agents, error libraries and
 * source-map-support patch `Error.captureStackTrace`, `Error.prepareStackTrace` or replace
 * `globalThis.Error` after the preload, and a probe that looked them up at capture time got
 * the app's string stack or a throw (`culprit: null`, issue 13).
 */
const OwnError = Error;
const captureStackTrace = Error.captureStackTrace;
const stringify = JSON.stringify;
const nodeTiming = performance.nodeTiming;
const now = performance.now.bind(performance);
const { getOwnPropertyDescriptor } = Object;
const { defineProperty, deleteProperty } = Reflect;

/** A property replaced for the duration of one capture, and how to put it back. */
interface Swapped {
  target: object;
  key: 'prepareStackTrace' | 'stackTraceLimit';
  had: PropertyDescriptor | undefined;
}

/** Sets `target[key]` to `value` without calling the app's setters; null if it cannot. */
function swap(target: object, key: Swapped['key'], value: unknown, done: Swapped[]): boolean {
  const had = getOwnPropertyDescriptor(target, key);
  // A non-configurable property can still take a new value if it is writable.
  const ok = defineProperty(target, key, had && !had.configurable ? { value } : { value, writable: true, configurable: true });
  if (ok) done.push({ target, key, had });
  return ok;
}

function restore(done: Swapped[]): void {
  for (let i = done.length - 1; i >= 0; i--) {
    const { target, key, had } = done[i];
    if (had) defineProperty(target, key, had);
    else deleteProperty(target, key);
  }
}

/**
 * The blocked thread's frames. Node formats a captured stack with
 * `globalThis.Error.prepareStackTrace` if that is a function, else with the main context's
 * `Error.prepareStackTrace` (lib/internal/errors.js, the same on Node 20 and 24; measured:
 * a formatter of the app's own on a replaced `globalThis.Error` wins over one set on the
 * original), so ours goes on both for the capture and the app's are put back right after.
 * V8 reads `stackTraceLimit` from the original constructor. Throws with the reason when the
 * app's formatter cannot be set aside (frozen), without running it.
 */
function captureFrames(): RawFrame[] {
  const done: Swapped[] = [];
  try {
    const current = (globalThis as { Error?: unknown }).Error;
    const targets: object[] = [OwnError];
    if (current !== OwnError && (typeof current === 'function' || (typeof current === 'object' && current !== null))) targets.push(current);
    for (const target of targets) {
      if (!swap(target, 'prepareStackTrace', collect, done)) {
        throw new OwnError(`${target === OwnError ? 'Error' : 'globalThis.Error'}.prepareStackTrace cannot be replaced (it is frozen)`);
      }
    }
    swap(OwnError, 'stackTraceLimit', STACK_LIMIT, done);
    const holder: { stack?: unknown } = {};
    captureStackTrace(holder, probe);
    const frames = holder.stack;
    if (!Array.isArray(frames)) throw new OwnError(`the stack came back as ${typeof frames}, not as frames (Error.prepareStackTrace was not used)`);
    return frames as RawFrame[];
  } finally {
    restore(done);
  }
}

/**
 * The function the watchdog runs *inside the blocked thread*, through an inspector
 * `Runtime.evaluate` of a fixed expression. V8 serves the evaluation as an interrupt at the
 * next stack or loop-back-edge check of the blocked code, so `captureStackTrace` sees the
 * blocking frames and the AsyncLocalStorage store is the blocked request's.
 *
 * It reads and returns; it changes nothing it does not put back, and never throws.
 */
export function probe(): string {
  const at = now();
  try {
    let frames: RawFrame[] = [];
    let failure: string | undefined;
    resumed = null;
    try {
      frames = captureFrames();
    } catch (err) {
      failure = String((err as Error)?.message ?? err);
    }
    const context = readContext(resumed);
    addActiveSpan(context);
    const result: ProbeResult = { at, idle: nodeTiming.idleTime, frames, context, thread: threadId };
    if (failure !== undefined) result.failure = failure;
    if ((process as { _exiting?: boolean })._exiting === true) result.exiting = true;
    return stringify(result);
  } catch (err) {
    return stringify({ at, idle: nodeTiming.idleTime, frames: [], context: null, failure: String((err as Error)?.message ?? err) });
  }
}

/** What a child span needs besides the ids. Only set when an OpenTelemetry span was active. */
export interface TraceFields {
  traceFlags?: number;
}

/**
 * OpenTelemetry: the ids of the span active in the blocked code (otel-global.ts,
 * activeSpan); the span's `spanContext()` is a plain read of a field in the SDK.
 */
function addActiveSpan(context: BlockContext & TraceFields): void {
  try {
    const span = activeSpan();
    if (typeof span?.spanContext !== 'function') return;
    const sc = span.spanContext() as { traceId?: unknown; spanId?: unknown; traceFlags?: unknown } | undefined;
    const traceId = sc?.traceId;
    const spanId = sc?.spanId;
    // All-zero ids are OpenTelemetry's "invalid" span context (a non-recording placeholder).
    if (typeof traceId !== 'string' || !TRACE_ID.test(traceId) || /^0+$/.test(traceId)) return;
    if (typeof spanId !== 'string' || !SPAN_ID.test(spanId) || /^0+$/.test(spanId)) return;
    // Ids the app gave run() explicitly win: they name the work the app chose.
    if (context.traceId === null) {
      context.traceId = traceId;
      context.spanId = spanId;
      context.traceFlags = typeof sc?.traceFlags === 'number' ? sc.traceFlags & 0xff : 0;
    }
  } catch {
    // A foreign object under the API's key must not break the capture.
  }
}

export function installProbe(): void {
  Object.defineProperty(globalThis, PROBE_KEY, { value: probe, configurable: true, enumerable: false, writable: false });
  // One run now, while the app starts, compiles the probe and the stack machinery it uses,
  // so the first capture inside a block does not pay for that (measured: first capture of a
  // process 3-10 ms, later ones ~0.7 ms).
  probe();
}

export function removeProbe(): void {
  delete (globalThis as Record<symbol, unknown>)[PROBE_KEY];
}
