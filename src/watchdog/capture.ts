import { createRequire } from 'node:module';
import type { Session } from 'node:inspector';
import { PROBE_EXPRESSION, type ProbeResult } from '../probe.js';

function connectToMain(): Session {
  // Loaded lazily: on a Node built without the inspector, requiring it throws, and
  // detection must go on without stacks.
  const { Session: SessionCtor } = createRequire(__filename)('node:inspector') as typeof import('node:inspector');
  const session = new SessionCtor();
  session.connectToMainThread();
  return session;
}

/**
 * Stack captures of the main thread from the watchdog worker. A session is connected only
 * while a block is being tracked: a session still connected at exit makes Node print
 * "Waiting for the debugger to disconnect..." (DESIGN.md).
 */
export class Capturer {
  #session: Session | null = null;
  #broken: string | null = null;
  #inFlight = false;

  /**
   * @param onUnavailable called once when stacks cannot be captured
   * @param connect opens a session to the main thread (replaceable in tests)
   */
  constructor(
    private readonly onUnavailable: (reason: string) => void,
    private readonly connect: () => Session = connectToMain,
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
      return this.#session;
    } catch (err) {
      this.#fail((err as Error)?.message ?? String(err));
      return null;
    }
  }

  /**
   * Asks the main thread to run the probe. `done` gets the probe's result, or null if the
   * capture failed. At most one capture is in flight.
   */
  capture(done: (result: ProbeResult | null) => void): boolean {
    if (this.#inFlight) return false;
    const session = this.#connect();
    if (!session) return false;
    this.#inFlight = true;
    try {
      session.post('Runtime.evaluate', { expression: PROBE_EXPRESSION, returnByValue: true, silent: true }, (err, res) => {
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

  disconnect(): void {
    const session = this.#session;
    this.#session = null;
    this.#inFlight = false;
    if (!session) return;
    try {
      session.disconnect();
    } catch {
      // Already gone with the main thread.
    }
  }
}
