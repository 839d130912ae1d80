/**
 * A client for the HTTP services regate reports to or pulls from (OPA's `services`): the bundle
 * server, the decision-log and status receivers. It carries the service's credentials (a bearer
 * token read from its file on every request, so a rotated token is picked up), client TLS (a
 * private CA, a client certificate) and regate's User-Agent, and turns a failed request into a
 * sentence an operator can act on, never a bare "fetch failed". The token never appears in one.
 */
import { readFile } from 'node:fs/promises';
import { Agent, fetch, type RequestInit, type Response } from 'undici';
import { RegateError } from './errors.js';
import { USER_AGENT } from './version.js';

/** A service's credentials or TLS files cannot be used. */
export class ServiceSetupError extends RegateError {
  static override readonly code: string = 'ERR_SERVICE_SETUP';
}

export interface ServiceOptions {
  /** A file holding the bearer token sent with each request (OPA's `credentials.bearer.token_path`). */
  tokenFile?: string | undefined;
  /** The Authorization scheme before the token (default `Bearer`). */
  scheme?: string | undefined;
  /** PEM files: a CA bundle to trust instead of the system's, a client certificate and its key. */
  tls?: { caFile?: string | undefined; certFile?: string | undefined; keyFile?: string | undefined } | undefined;
  /** Request timeout, milliseconds (default 10 s). */
  timeoutMs?: number | undefined;
}

export interface HttpService {
  /** One request with the service's credentials; a failure to get an answer is a sentence (see `describe`). */
  request(url: string, init: Omit<RequestInit, 'dispatcher' | 'signal'> & { signal?: AbortSignal }): Promise<Response>;
  /** Why a request (or reading its body) failed, in words. */
  describe(err: unknown): string;
  readonly timeoutMs: number;
  close(): Promise<void>;
}

async function readPem(file: string, what: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    throw new ServiceSetupError(`cannot read the ${what} ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`, { cause: err });
  }
}

const TLS_CODES = /^(CERT_|UNABLE_TO_|DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|ERR_TLS_CERT_ALTNAME_INVALID|ERR_SSL_)/;

/**
 * The innermost error code of a failed request, and what it means. `keyPrefix` names the config
 * section (`policy.service`) the hints point at.
 */
export function describeFailure(err: unknown, timeoutMs: number, keyPrefix: string, hasClientCert: boolean, https: boolean): string {
  let e = err as { code?: string; name?: string; message?: string; cause?: unknown } | undefined;
  while (e?.cause && !e.code) e = e.cause as typeof e;
  const code = e?.code;
  if (e?.name === 'TimeoutError' || code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') return `no complete answer within ${timeoutMs} ms`;
  switch (code) {
    case 'ECONNREFUSED': return 'connection refused (ECONNREFUSED): nothing listens there';
    case 'ENOTFOUND': case 'EAI_AGAIN': return `the host name does not resolve (${code})`;
    case 'ETIMEDOUT': case 'UND_ERR_CONNECT_TIMEOUT': return `the connection timed out (${code})`;
    case 'EHOSTUNREACH': case 'ENETUNREACH': return `the host is unreachable (${code})`;
    case 'ECONNRESET': case 'UND_ERR_SOCKET':
      // Over TLS 1.3 a server that wants a client certificate just closes the connection: say so.
      return `the server closed the connection (${code})${https && !hasClientCert ? `; if the server requires a client certificate, set ${keyPrefix}.tls.cert_file and key_file` : ''}`;
  }
  if (code && TLS_CODES.test(code)) return `TLS: the server's certificate is not trusted (${code}); set ${keyPrefix}.tls.ca_file to the CA that issued it`;
  return code ? `${e?.message ?? 'failed'} (${code})` : (e?.message ?? String(err));
}

/** What an HTTP status means for the operator, as a clause to append (empty when it says nothing more). */
export function statusMeaning(status: number, keyPrefix: string): string {
  if (status === 401 || status === 403) return `; the server refused the credentials (check ${keyPrefix}.credentials)`;
  if (status === 404) return '; nothing at this URL';
  if (status === 413) return '; the request body is over the server\'s limit';
  if (status >= 500) return '; the server failed';
  return '';
}

/** A client for one service; the TLS files are read now, the token file on every request. */
export async function httpService(opts: ServiceOptions, keyPrefix: string): Promise<HttpService> {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const tls = opts.tls ?? {};
  if ((tls.certFile === undefined) !== (tls.keyFile === undefined)) {
    throw new ServiceSetupError(`a client certificate needs both ${keyPrefix}.tls.cert_file and key_file`);
  }
  const connect = {
    ...(tls.caFile ? { ca: await readPem(tls.caFile, `${keyPrefix}.tls.ca_file`) } : {}),
    ...(tls.certFile ? { cert: await readPem(tls.certFile, `${keyPrefix}.tls.cert_file`), key: await readPem(tls.keyFile!, `${keyPrefix}.tls.key_file`) } : {}),
  };
  const dispatcher = new Agent({ connect, headersTimeout: timeoutMs, bodyTimeout: timeoutMs });
  let lastHttps = false;
  return {
    timeoutMs,
    async request(url, init) {
      lastHttps = /^https:/i.test(url);
      const headers: Record<string, string> = { 'user-agent': USER_AGENT, ...(init.headers as Record<string, string> | undefined) };
      if (opts.tokenFile) {
        const token = (await readPem(opts.tokenFile, `${keyPrefix}.credentials.bearer.token_file`)).trim();
        if (!token) throw new ServiceSetupError(`the token file ${opts.tokenFile} (${keyPrefix}.credentials.bearer.token_file) is empty`);
        headers.authorization = `${opts.scheme ?? 'Bearer'} ${token}`;
      }
      // The caller's signal (a watcher stopping while a long poll is held) ends the request too.
      const timeout = AbortSignal.timeout(timeoutMs);
      return fetch(url, { ...init, headers, dispatcher, signal: init.signal ? AbortSignal.any([init.signal, timeout]) : timeout });
    },
    describe: (err) => describeFailure(err, timeoutMs, keyPrefix, Boolean(tls.certFile), lastHttps),
    close: () => dispatcher.close(),
  };
}
