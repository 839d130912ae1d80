/**
 * The client side of OPA's bundle service protocol: a GET of the bundle URL, conditional on the
 * last ETag (`If-None-Match`, answered 304 when unchanged), with the service's credentials (a
 * bearer token read from its file on every request, so a rotated token is picked up) and client
 * TLS (a private CA, a client certificate). Every failure is a BundleFetchError saying what went
 * wrong in words an operator can act on, never a bare "fetch failed"; the token never appears in one.
 */
import { readFile } from 'node:fs/promises';
import { Agent, fetch, type Response } from 'undici';
import { USER_AGENT } from '../util/version.js';
import { BundleFetchError, BundleTooLarge } from './errors.js';

export interface BundleServiceOptions {
  /** A file holding the bearer token sent with each request (OPA's `credentials.bearer.token_path`). */
  tokenFile?: string | undefined;
  /** The Authorization scheme before the token (default `Bearer`). */
  scheme?: string | undefined;
  /** PEM files: a CA bundle to trust instead of the system's, a client certificate and its key. */
  tls?: { caFile?: string | undefined; certFile?: string | undefined; keyFile?: string | undefined } | undefined;
  /** Request timeout, milliseconds (default 10 s). */
  timeoutMs?: number | undefined;
}

export type Fetched = { kind: 'unchanged' } | { kind: 'bytes'; bytes: Uint8Array; etag: string | undefined };

export interface BundleService {
  /** One GET; `etag` makes it conditional. */
  fetch(etag: string | undefined): Promise<Fetched>;
  close(): Promise<void>;
}

async function readPem(file: string, what: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    throw new BundleFetchError(`cannot read the bundle service's ${what} ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`, { cause: err });
  }
}

const TLS_CODES = /^(CERT_|UNABLE_TO_|DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|ERR_TLS_CERT_ALTNAME_INVALID|ERR_SSL_)/;

/** The innermost error code of a failed fetch, and what it means. */
export function describeFetchFailure(err: unknown, timeoutMs: number): string {
  let e = err as { code?: string; name?: string; message?: string; cause?: unknown } | undefined;
  while (e?.cause && !e.code) e = e.cause as typeof e;
  const code = e?.code;
  if (e?.name === 'TimeoutError' || code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') return `no complete answer within ${timeoutMs} ms`;
  switch (code) {
    case 'ECONNREFUSED': return 'connection refused (ECONNREFUSED): nothing listens there';
    case 'ENOTFOUND': case 'EAI_AGAIN': return `the host name does not resolve (${code})`;
    case 'ECONNRESET': case 'UND_ERR_SOCKET': return `the server closed the connection (${code})`;
    case 'ETIMEDOUT': case 'UND_ERR_CONNECT_TIMEOUT': return `the connection timed out (${code})`;
    case 'EHOSTUNREACH': case 'ENETUNREACH': return `the host is unreachable (${code})`;
  }
  if (code && TLS_CODES.test(code)) return `TLS: the server's certificate is not trusted (${code}); set policy.service.tls.ca_file to the CA that issued it`;
  return code ? `${e?.message ?? 'failed'} (${code})` : (e?.message ?? String(err));
}

function statusMeaning(status: number): string {
  if (status === 401 || status === 403) return `; the server refused the credentials (check policy.service.credentials)`;
  if (status === 404) return '; no bundle at this URL';
  if (status >= 500) return '; the bundle server failed';
  return '';
}

async function readLimited(res: Response, limit: number, url: string): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let total = 0;
  for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
    total += chunk.byteLength;
    if (total > limit) throw new BundleTooLarge(`bundle from ${url} exceeds the ${limit}-byte limit`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/** A client of the bundle service at `url`; the TLS files are read once, the token file per request. */
export async function bundleService(url: string, opts: BundleServiceOptions, limitBytes: number): Promise<BundleService> {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const tls = opts.tls ?? {};
  if ((tls.certFile === undefined) !== (tls.keyFile === undefined)) {
    throw new BundleFetchError('a client certificate needs both policy.service.tls.cert_file and key_file');
  }
  const connect = {
    ...(tls.caFile ? { ca: await readPem(tls.caFile, 'CA file') } : {}),
    ...(tls.certFile ? { cert: await readPem(tls.certFile, 'client certificate'), key: await readPem(tls.keyFile!, 'client key') } : {}),
  };
  // Over TLS 1.3 a server that wants a client certificate just closes the connection: say so.
  const closedHint = /^https:/i.test(url) && !tls.certFile ? '; if the server requires a client certificate, set policy.service.tls.cert_file and key_file' : '';
  const dispatcher = new Agent({ connect, headersTimeout: timeoutMs, bodyTimeout: timeoutMs });
  return {
    async fetch(etag) {
      const headers: Record<string, string> = { 'user-agent': USER_AGENT, accept: 'application/gzip, application/vnd.openpolicyagent.bundles' };
      if (etag) headers['if-none-match'] = etag;
      if (opts.tokenFile) {
        const token = (await readPem(opts.tokenFile, 'token file')).trim();
        if (!token) throw new BundleFetchError(`the bundle service's token file ${opts.tokenFile} is empty`);
        headers.authorization = `${opts.scheme ?? 'Bearer'} ${token}`;
      }
      let res: Response;
      try {
        res = await fetch(url, { headers, dispatcher, signal: AbortSignal.timeout(timeoutMs) });
      } catch (err) {
        const why = describeFetchFailure(err, timeoutMs);
        throw new BundleFetchError(`cannot fetch bundle from ${url}: ${why}${why.startsWith('the server closed') ? closedHint : ''}`, { cause: err });
      }
      if (res.status === 304) {
        await res.body?.cancel();
        return { kind: 'unchanged' };
      }
      if (res.status !== 200) {
        await res.body?.cancel();
        throw new BundleFetchError(`bundle server ${url} answered HTTP ${res.status}${statusMeaning(res.status)}`);
      }
      try {
        return { kind: 'bytes', bytes: await readLimited(res, limitBytes, url), etag: res.headers.get('etag') ?? undefined };
      } catch (err) {
        if (err instanceof BundleTooLarge) throw err;
        throw new BundleFetchError(`bundle from ${url} was cut short: ${describeFetchFailure(err, timeoutMs)}`, { cause: err });
      }
    },
    close: () => dispatcher.close(),
  };
}
