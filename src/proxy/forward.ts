/**
 * Forwarding with undici: one keep-alive `Pool` per upstream, with the upstream's connect, headers
 * and body timeouts. Failures are classified once, here, into the gateway's 502/504 errors and a
 * metrics kind; a request the client abandoned is reported as such, not as an upstream fault.
 */
import type { EventEmitter } from 'node:events';
import type { Readable } from 'node:stream';
import { Pool, type Dispatcher } from 'undici';
import type { ResolvedUpstream } from '../config/index.js';
import { type HttpError, UpstreamTimeout, UpstreamUnavailable } from './errors.js';
import type { OutgoingHeaders } from './headers.js';

export interface UpstreamRequest {
  method: string;
  /** Path and query as the client sent them (normalised); the upstream's base path is prefixed. */
  pathAndQuery: string;
  headers: OutgoingHeaders;
  body: Buffer | Readable | null;
  /** Aborts the call: an AbortSignal, or an EventEmitter that emits `abort` (client-gone.ts). */
  signal: AbortSignal | EventEmitter;
}

export type UpstreamResponse = Dispatcher.ResponseData;

/** What went wrong with an upstream, for the client (status + body) and for metrics (`kind`). */
export interface UpstreamFailure {
  kind: 'refused' | 'reset' | 'connect_timeout' | 'headers_timeout' | 'body_timeout' | 'dns' | 'other';
  error: HttpError;
}

export function classifyUpstreamError(upstream: string, err: unknown): UpstreamFailure {
  const code = (err as { code?: string } | null)?.code ?? '';
  switch (code) {
    case 'UND_ERR_CONNECT_TIMEOUT':
      return { kind: 'connect_timeout', error: new UpstreamTimeout(upstream, 'no connection within the connect timeout', err) };
    case 'UND_ERR_HEADERS_TIMEOUT':
      return { kind: 'headers_timeout', error: new UpstreamTimeout(upstream, 'no response headers within the headers timeout', err) };
    case 'UND_ERR_BODY_TIMEOUT':
      return { kind: 'body_timeout', error: new UpstreamTimeout(upstream, 'the response body stalled past the body timeout', err) };
    case 'ECONNREFUSED':
      return { kind: 'refused', error: new UpstreamUnavailable(upstream, 'connection refused', err) };
    case 'ECONNRESET':
    case 'EPIPE':
    case 'UND_ERR_SOCKET':
      return { kind: 'reset', error: new UpstreamUnavailable(upstream, 'connection reset', err) };
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return { kind: 'dns', error: new UpstreamUnavailable(upstream, 'host name not found', err) };
    default:
      return { kind: 'other', error: new UpstreamUnavailable(upstream, code ? `error ${code}` : 'unexpected error', err) };
  }
}

export class Upstream {
  readonly #pool: Pool;
  readonly #basePath: string;

  constructor(
    readonly name: string,
    readonly config: ResolvedUpstream,
  ) {
    const url = new URL(config.url);
    this.#basePath = url.pathname.replace(/\/+$/, '');
    this.#pool = new Pool(url.origin, {
      connections: config.connections,
      connect: { timeout: config.timeouts.connect_ms },
      headersTimeout: config.timeouts.headers_ms,
      bodyTimeout: config.timeouts.body_ms,
    });
  }

  get credential(): ResolvedUpstream['credential'] {
    return this.config.credential;
  }

  /** Sends the request; rejects with the undici/socket error (classify it with classifyUpstreamError). */
  request(r: UpstreamRequest): Promise<UpstreamResponse> {
    return this.#pool.request({
      method: r.method as Dispatcher.HttpMethod,
      path: this.#basePath + r.pathAndQuery,
      headers: r.headers,
      body: r.body,
      signal: r.signal,
    });
  }

  close(): Promise<void> {
    return this.#pool.close();
  }

  destroy(): Promise<void> {
    return this.#pool.destroy();
  }
}

/** The configured upstreams by name. */
export class Upstreams {
  readonly #byName = new Map<string, Upstream>();

  constructor(configs: Record<string, ResolvedUpstream>) {
    for (const [name, c] of Object.entries(configs)) this.#byName.set(name, new Upstream(name, c));
  }

  get(name: string): Upstream {
    const u = this.#byName.get(name);
    if (!u) throw new Error(`unknown upstream ${name}`);
    return u;
  }

  async close(): Promise<void> {
    await Promise.all([...this.#byName.values()].map((u) => u.close()));
  }
}
