import { createRequire } from 'node:module';
import type { Session } from 'node:inspector';
import { PROBE_EXPRESSION, type ProbeResult } from '../shared/probe-protocol.js';

function connectToMain(): Session {
  // Loaded lazily: on a Node built without the inspector, requiring it throws, and
  // detection must go on without stacks.
  const { Session: SessionCtor } = createRequire(__filename)('node:inspector') as typeof import('node:inspector');
  const session = new SessionCtor();
  session.connectToMainThread();
  return session;
}

/** Another thread of the app to capture instead of the main thread. */
export interface WorkerTarget {
  /** worker_threads threadId of the app's worker (a direct child of the main thread). */
  threadId: number;
  /** Called with the worker's name from the inspector's title ("[worker 1] name") when first seen. */
  onName?: (name: string) => void;
}

interface WorkerSessions {
  /** Attached workers: inspector session id → title ("[worker 3] name"). */
  candidates: Map<string, string>;
  /** The session of the target, once a probe answered from its thread. */
  matched: string | null;
  /** The capture waiting for the target to be found: sends to a newly attached worker. */
  pending: ((sessionId: string) => void) | null;
  nextId: number;
  replies: Map<string, (result: ProbeResult | null) => void>;
}

/** How long a capture in an app worker waits for the inspector to attach to it and answer. */
const WORKER_CAPTURE_TIMEOUT_MS = 1000;

/**
 * Stack captures of the main thread (or of one of the app's worker threads) from the
 * watchdog worker. A session is connected only
 * while a block is being tracked: a session still connected at exit makes Node print
 * "Waiting for the debugger to disconnect..." (README, "How it works": Exit).
 */
export class Capturer {
  #session: Session | null = null;
  #broken: string | null = null;
  #inFlight = false;
  #worker: WorkerSessions | null = null;

  /**
   * @param onUnavailable called once when stacks cannot be captured
   * @param connect opens a session to the main thread (replaceable in tests)
   * @param target an app worker to capture instead: reached through the main thread's
   *   NodeWorker domain (NodeWorker.enable, then Runtime.evaluate sent to the worker's
   *   session), which V8 serves inside the blocked worker as it does on the main thread
   */
  constructor(
    private readonly onUnavailable: (reason: string) => void,
    private readonly connect: () => Session = connectToMain,
    private readonly target?: WorkerTarget,
  ) {}

  get available(): boolean {
    return this.#broken === null;
  }

  get inFlight(): boolean {
    return this.#inFlight;
  }

  #fail(reason: string): void {
    this.#broken = reason;
    this.disconnect();
    this.onUnavailable(reason);
  }

  #connect(): Session | null {
    if (this.#session) return this.#session;
    if (this.#broken) return null;
    try {
      this.#session = this.connect();
      if (this.target) this.#attach(this.#session, this.target);
      return this.#session;
    } catch (err) {
      this.#fail((err as Error)?.message ?? String(err));
      return null;
    }
  }

  /**
   * Asks the main thread to run the probe. `done` gets the probe's result, or null if the
   * capture failed. At most one capture is in flight. `expression` is a fixed expression
   * ending in the probe (with the GC start of shared/gc-buffer.ts for a stall's first capture).
   */
  capture(done: (result: ProbeResult | null) => void, expression: string = PROBE_EXPRESSION): boolean {
    if (this.#inFlight) return false;
    const session = this.#connect();
    if (!session) return false;
    this.#inFlight = true;
    if (this.target) return this.#captureWorker(session, done, expression);
    try {
      session.post('Runtime.evaluate', { expression, returnByValue: true, silent: true }, (err, res) => {
        this.#inFlight = false;
        if (err || !res || typeof res.result?.value !== 'string') {
          done(null);
          return;
        }
        try {
          done(JSON.parse(res.result.value) as ProbeResult);
        } catch {
          done(null);
        }
      });
    } catch (err) {
      this.#inFlight = false;
      this.#fail((err as Error)?.message ?? String(err));
      return false;
    }
    return true;
  }

  /**
   * The inspector's worker ids are assigned as threads start up, not from threadId, so the
   * target is recognised by the thread id its probe returns: a capture goes to every
   * attached worker until one answers as the target (idle ones answer at once, and are
   * ignored), then to that one only.
   */
  #attach(session: Session, target: WorkerTarget): void {
    const w: WorkerSessions = { candidates: new Map(), matched: null, pending: null, nextId: 1, replies: new Map() };
    this.#worker = w;
    session.on('NodeWorker.attachedToWorker', (m: { params: { sessionId: string; workerInfo: { title: string } } }) => {
      const title = m.params.workerInfo.title;
      // loopwatch's own watchdogs never run the app's code.
      if (/\] loopwatch-watchdog$/.test(title)) return;
      w.candidates.set(m.params.sessionId, title);
      if (w.pending && !w.matched) w.pending(m.params.sessionId);
    });
    session.on('NodeWorker.receivedMessageFromWorker', (m: { params: { sessionId: string; message: string } }) => {
      try {
        const msg = JSON.parse(m.params.message) as { id?: number; result?: { result?: { value?: unknown } } };
        const key = `${m.params.sessionId}:${msg.id}`;
        const reply = w.replies.get(key);
        if (!reply) return;
        w.replies.delete(key);
        const value = msg.result?.result?.value;
        const result = typeof value === 'string' ? (JSON.parse(value) as ProbeResult) : null;
        if (!result || result.thread !== target.threadId) return;
        if (!w.matched) {
          w.matched = m.params.sessionId;
          const name = /^\[worker \d+\] (.+)$/.exec(w.candidates.get(w.matched) ?? '')?.[1];
          if (name) target.onName?.(name);
        }
        reply(result);
      } catch {
        // Not ours, or not JSON.
      }
    });
    session.post('NodeWorker.enable', { waitForDebuggerOnStart: false }, (err) => {
      if (err) this.#fail(err.message);
    });
  }

  #captureWorker(session: Session, done: (result: ProbeResult | null) => void, expression: string): boolean {
    const w = this.#worker!;
    let finished = false;
    const finish = (result: ProbeResult | null): void => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      if (w.pending === send) w.pending = null;
      this.#inFlight = false;
      done(result);
    };
    // Bounded: a target that is never found or never answers must not hold the capture slot.
    const timer = setTimeout(() => finish(null), WORKER_CAPTURE_TIMEOUT_MS);
    const send = (sessionId: string): void => {
      if (finished || this.#session !== session) return;
      const id = w.nextId++;
      w.replies.set(`${sessionId}:${id}`, finish);
      const message = JSON.stringify({ id, method: 'Runtime.evaluate', params: { expression, returnByValue: true, silent: true } });
      try {
        session.post('NodeWorker.sendMessageToWorker', { sessionId, message }, () => undefined);
      } catch {
        finish(null);
      }
    };
    if (w.matched) {
      send(w.matched);
    } else {
      w.pending = send;
      for (const sessionId of w.candidates.keys()) send(sessionId);
    }
    return true;
  }

  disconnect(): void {
    const session = this.#session;
    this.#session = null;
    this.#inFlight = false;
    this.#worker = null;
    if (!session) return;
    try {
      session.disconnect();
    } catch {
      // Already gone with the main thread.
    }
  }
}
