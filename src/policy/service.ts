/**
 * The client side of OPA's bundle service protocol: a GET of the bundle URL, conditional on the
 * last ETag (`If-None-Match`, answered 304 when unchanged), through the service client that adds
 * the credentials, client TLS and User-Agent (util/http-service.ts). Every failure is a
 * BundleFetchError saying what went wrong.
 *
 * Long polling, as OPA does it: the request asks the server to hold it open until the bundle
 * changes (`Prefer: wait=<seconds>`); a server that can answers with the content type
 * `application/vnd.openpolicyagent.bundles`, which tells the watcher to ask again at once instead
 * of waiting for the next poll. A server that ignores the header answers as before.
 */
import type { Response } from 'undici';
import { httpService, ServiceSetupError, statusMeaning, type ServiceOptions } from '../util/index.js';
import { BundleFetchError, BundleTooLarge } from './errors.js';

export type BundleServiceOptions = ServiceOptions;

/** `longPoll`: the server said it holds requests open (OPA's long-polling content type). */
export type Fetched = { kind: 'unchanged'; longPoll: boolean } | { kind: 'bytes'; bytes: Uint8Array; etag: string | undefined; longPoll: boolean };

const LONG_POLL_TYPE = 'application/vnd.openpolicyagent.bundles';

export interface BundleService {
  /** One GET; `etag` makes it conditional, `waitSeconds` asks the server to hold it until the bundle changes. */
  fetch(etag: string | undefined, waitSeconds?: number, signal?: AbortSignal): Promise<Fetched>;
  close(): Promise<void>;
}

const KEY = 'policy.service';

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

/** A client of the bundle service at `url`. */
export async function bundleService(url: string, opts: BundleServiceOptions, limitBytes: number): Promise<BundleService> {
  const service = await httpService(opts, KEY).catch((err: Error) => {
    throw new BundleFetchError(err.message, { cause: err });
  });
  return {
    async fetch(etag, waitSeconds, signal) {
      let res: Response;
      try {
        const conditional = { ...(etag ? { 'if-none-match': etag } : {}), ...(waitSeconds ? { prefer: `wait=${waitSeconds}` } : {}) };
        res = await service.request(url, { headers: { accept: `application/gzip, ${LONG_POLL_TYPE}`, ...conditional }, ...(signal ? { signal } : {}) });
      } catch (err) {
        if (err instanceof ServiceSetupError) throw new BundleFetchError(err.message, { cause: err });
        throw new BundleFetchError(`cannot fetch bundle from ${url}: ${service.describe(err)}`, { cause: err });
      }
      const longPoll = waitSeconds !== undefined && res.headers.get('content-type')?.split(';')[0]?.trim().toLowerCase() === LONG_POLL_TYPE;
      if (res.status === 304) {
        await res.body?.cancel();
        return { kind: 'unchanged', longPoll };
      }
      if (res.status !== 200) {
        await res.body?.cancel();
        throw new BundleFetchError(`bundle server ${url} answered HTTP ${res.status}${statusMeaning(res.status, KEY).replace('nothing at this URL', 'no bundle at this URL')}`);
      }
      try {
        return { kind: 'bytes', bytes: await readLimited(res, limitBytes, url), etag: res.headers.get('etag') ?? undefined, longPoll };
      } catch (err) {
        if (err instanceof BundleTooLarge) throw err;
        throw new BundleFetchError(`bundle from ${url} was cut short: ${service.describe(err)}`, { cause: err });
      }
    },
    close: () => service.close(),
  };
}
