/**
 * A debugger client for the fault tests: connects to a Node inspector's WebSocket URL (the
 * one `--inspect` prints) as Chrome DevTools or VS Code does, sends commands and keeps the
 * events it receives.
 */
import WebSocket from 'ws';

export interface CdpEvent {
  method: string;
  params?: Record<string, unknown>;
}

export class CdpClient {
  readonly events: CdpEvent[] = [];
  readonly #socket: WebSocket;
  readonly #pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  #nextId = 1;

  private constructor(socket: WebSocket) {
    this.#socket = socket;
    socket.on('message', (data) => {
      const msg = JSON.parse(String(data)) as { id?: number; result?: unknown; error?: { message: string } } & CdpEvent;
      if (msg.id === undefined) {
        this.events.push({ method: msg.method, params: msg.params });
        return;
      }
      const waiter = this.#pending.get(msg.id);
      this.#pending.delete(msg.id);
      if (msg.error) waiter?.reject(new Error(`${msg.error.message} (inspector)`));
      else waiter?.resolve(msg.result);
    });
  }

  static connect(url: string, timeoutMs = 5000): Promise<CdpClient> {
    return new Promise((resolve, reject) => {
      const socket = new WebSocket(url, { handshakeTimeout: timeoutMs });
      socket.once('open', () => resolve(new CdpClient(socket)));
      socket.once('error', reject);
    });
  }

  send(method: string, params: Record<string, unknown> = {}): Promise<unknown> {
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.#socket.send(JSON.stringify({ id, method, params }));
    });
  }

  close(): Promise<void> {
    if (this.#socket.readyState === WebSocket.CLOSED) return Promise.resolve();
    return new Promise((resolve) => {
      this.#socket.once('close', () => resolve());
      this.#socket.close();
    });
  }
}

/** The ws:// URL in Node's "Debugger listening on ws://…" line, once printed. */
export function inspectorUrl(stderr: string): string | undefined {
  return /Debugger listening on (ws:\/\/\S+)/.exec(stderr)?.[1];
}
