/**
 * Calls between the `--workers` primary and its workers over the cluster IPC channel. A request
 * costs at least one audit record, so under load there are thousands of calls a second: messages
 * queued within one event-loop turn go out as one IPC message (an array), which keeps the cost per
 * call a fraction of a `process.send`. Errors cross as `{name, code, message}`; the receiving side
 * rebuilds the typed error it knows by code (see `RemoteError`).
 */
import { RegateError } from '../util/index.js';

/** The two ends: `process` in a worker, a cluster `Worker` in the primary. */
export interface IpcPort {
  send(message: unknown): unknown;
  on(event: 'message', listener: (message: unknown) => void): unknown;
  off(event: 'message', listener: (message: unknown) => void): unknown;
}

type Message =
  | { k: 'call'; id: number; m: string; a: unknown }
  | { k: 'ok'; id: number; v: unknown }
  | { k: 'err'; id: number; e: WireError }
  | { k: 'cast'; m: string; a: unknown };

interface WireError {
  name: string;
  code: string;
  message: string;
}

/** A failure on the other side of the channel, or the channel closing under a call. */
export class RemoteError extends RegateError {
  static override readonly code: string = 'ERR_IPC';
  constructor(
    message: string,
    /** The code of the error raised on the other side. */
    readonly remoteCode: string,
  ) {
    super(message);
  }
}

export type Handler = (arg: unknown) => unknown;

/** A typed error the receiving side knows how to rebuild from its code. */
export type ErrorClass = new (message: string) => RegateError;

const TAG = 'regate-ipc';

export class RpcChannel {
  readonly #port: IpcPort;
  readonly #handlers: Record<string, Handler>;
  readonly #errors: Map<string, ErrorClass>;
  readonly #pending = new Map<number, { resolve(v: unknown): void; reject(e: unknown): void }>();
  #out: Message[] = [];
  #nextId = 1;
  #closed = false;
  readonly #listener = (raw: unknown): void => {
    const msg = raw as { t?: string; b?: Message[] };
    if (msg?.t !== TAG || !Array.isArray(msg.b)) return;
    for (const m of msg.b) this.#receive(m);
  };

  constructor(port: IpcPort, handlers: Record<string, Handler>, errors: ErrorClass[] = []) {
    this.#port = port;
    this.#handlers = handlers;
    this.#errors = new Map(errors.map((E) => [(E as unknown as typeof RegateError).code, E]));
    port.on('message', this.#listener);
  }

  /** Calls `method` on the other side; resolves with its result or rejects with its (rebuilt) error. */
  call<T>(method: string, arg: unknown): Promise<T> {
    if (this.#closed) return Promise.reject(new RemoteError(`the IPC channel is closed; ${method} was not sent`, 'ERR_IPC_CLOSED'));
    const id = this.#nextId++;
    return new Promise<T>((resolve, reject) => {
      this.#pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.#queue({ k: 'call', id, m: method, a: arg });
    });
  }

  /** Sends without waiting for an answer. */
  cast(method: string, arg: unknown): void {
    if (!this.#closed) this.#queue({ k: 'cast', m: method, a: arg });
  }

  /** Rejects every call still waiting (the other side is gone) and stops listening. */
  close(reason: string): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#port.off('message', this.#listener);
    for (const p of this.#pending.values()) p.reject(new RemoteError(`the IPC channel closed before an answer came: ${reason}`, 'ERR_IPC_CLOSED'));
    this.#pending.clear();
  }

  #queue(m: Message): void {
    if (this.#out.push(m) === 1) setImmediate(this.#flush);
  }

  readonly #flush = (): void => {
    const batch = this.#out;
    this.#out = [];
    if (this.#closed) return;
    try {
      this.#port.send({ t: TAG, b: batch });
    } catch (err) {
      this.close((err as Error).message);
    }
  };

  #receive(m: Message): void {
    if (m.k === 'ok' || m.k === 'err') {
      const p = this.#pending.get(m.id);
      if (!p) return;
      this.#pending.delete(m.id);
      if (m.k === 'ok') p.resolve(m.v);
      else p.reject(this.#rebuild(m.e));
      return;
    }
    const handler = this.#handlers[m.m];
    let result: unknown;
    try {
      if (!handler) throw new RemoteError(`no IPC method ${m.m}`, 'ERR_IPC_METHOD');
      result = handler(m.a);
    } catch (err) {
      result = Promise.reject(err);
    }
    if (m.k === 'cast') {
      Promise.resolve(result).catch(() => undefined);
      return;
    }
    Promise.resolve(result).then(
      (v) => !this.#closed && this.#queue({ k: 'ok', id: m.id, v }),
      (err: unknown) => !this.#closed && this.#queue({ k: 'err', id: m.id, e: toWire(err) }),
    );
  }

  #rebuild(e: WireError): Error {
    const E = this.#errors.get(e.code);
    return E ? new E(e.message) : new RemoteError(e.message, e.code);
  }
}

function toWire(err: unknown): WireError {
  const e = err as { name?: unknown; code?: unknown; message?: unknown };
  return {
    name: typeof e?.name === 'string' ? e.name : 'Error',
    code: typeof e?.code === 'string' ? e.code : 'ERR_REMOTE',
    message: typeof e?.message === 'string' ? e.message : String(err),
  };
}
