/**
 * Hot reload of the policy bundle. The source is a file path (watched through its folder, so an
 * atomic rename-over is seen) or an http(s) URL polled with If-None-Match, as OPA's bundle service
 * protocol does. A new bundle is verified and compiled in full before it is swapped in, in one
 * assignment, so a request always sees one revision; a bad bundle is reported through `onReject`
 * and the last good engine keeps serving.
 */
import { createHash } from 'node:crypto';
import { watch, type FSWatcher } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { BundleError, BundleTooLarge } from './errors.js';
import type { PolicyEngine } from './evaluator.js';
import { loadBundle, type LoadOptions } from './load.js';
import { DEFAULT_TAR_LIMITS } from './tar.js';

export interface WatchOptions extends LoadOptions {
  /** HTTP: seconds between polls (default 30). Files: seconds between fallback stat checks (default 5). */
  pollSeconds?: number;
  /** HTTP request timeout (default 10 s). */
  fetchTimeoutMs?: number;
  /**
   * Called with each loaded engine (the first one too) before it is swapped in; throwing refuses it,
   * as a bad signature would. For checks the policy stage cannot make itself (custom detectors' RE2).
   */
  accept?: (engine: PolicyEngine) => void;
  /** Called after each new bundle is swapped in (not for the initial load). */
  onLoad?: (engine: PolicyEngine) => void;
  /** Called when a new bundle is refused; the previous engine stays current. */
  onReject?: (err: Error) => void;
}

export interface BundleWatcher {
  current(): PolicyEngine;
  close(): Promise<void>;
}

type Fetched = { kind: 'unchanged' } | { kind: 'bytes'; bytes: Uint8Array };

function isUrl(source: string): boolean {
  return /^https?:\/\//i.test(source);
}

async function readLimited(res: Response, limit: number, url: string): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let total = 0;
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    total += chunk.byteLength;
    if (total > limit) throw new BundleTooLarge(`bundle from ${url} exceeds the ${limit}-byte limit`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/** One fetch of an HTTP bundle source, conditional on the last ETag. */
function httpSource(url: string, opts: WatchOptions): () => Promise<Fetched> {
  let etag: string | undefined;
  const limit = (opts.limits ?? DEFAULT_TAR_LIMITS).maxCompressedBytes;
  return async () => {
    let res: Response;
    try {
      res = await fetch(url, {
        headers: etag ? { 'if-none-match': etag } : {},
        signal: AbortSignal.timeout(opts.fetchTimeoutMs ?? 10_000),
      });
    } catch (err) {
      throw new BundleError(`cannot fetch bundle from ${url}: ${(err as Error).message}`, { cause: err });
    }
    if (res.status === 304) return { kind: 'unchanged' };
    if (res.status !== 200) {
      await res.body?.cancel();
      throw new BundleError(`bundle server ${url} answered HTTP ${res.status}`);
    }
    const bytes = await readLimited(res, limit, url);
    // Like OPA, a refused bundle's ETag is kept too: the server must publish a new one.
    etag = res.headers.get('etag') ?? undefined;
    return { kind: 'bytes', bytes };
  };
}

/**
 * Loads the bundle at `source` (it must be good), then keeps the returned watcher's `current()`
 * on the newest good bundle. The same bytes are never loaded or reported twice.
 */
export async function watchBundle(source: string, opts: WatchOptions = {}): Promise<BundleWatcher> {
  const fetchHttp = isUrl(source) ? httpSource(source, opts) : undefined;
  const readFileSource = async (): Promise<Fetched> => {
    const limit = (opts.limits ?? DEFAULT_TAR_LIMITS).maxCompressedBytes;
    const size = (await stat(source).catch((err: Error) => {
      throw new BundleError(`cannot read bundle ${source}: ${err.message}`, { cause: err });
    })).size;
    if (size > limit) throw new BundleTooLarge(`bundle ${source} is ${size} bytes, over the ${limit}-byte limit`);
    return { kind: 'bytes', bytes: await readFile(source) };
  };
  const fetchOnce = fetchHttp ?? readFileSource;

  const digest = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
  const first = await fetchOnce();
  if (first.kind !== 'bytes') throw new BundleError(`bundle server ${source} answered 304 to an unconditional request`);
  let engine = await loadBundle(first.bytes, opts);
  opts.accept?.(engine);
  let seen = digest(first.bytes);
  let closed = false;
  let chain: Promise<void> = Promise.resolve();

  const attempt = async () => {
    const got = await fetchOnce();
    if (got.kind === 'unchanged') return;
    const d = digest(got.bytes);
    if (d === seen) return;
    seen = d;
    const next = await loadBundle(got.bytes, opts);
    opts.accept?.(next);
    if (closed) return;
    engine = next;
    opts.onLoad?.(next);
  };
  const reload = () => {
    chain = chain.then(() =>
      attempt().catch((err: unknown) => {
        if (!closed) opts.onReject?.(err instanceof Error ? err : new Error(String(err)));
      }),
    );
    return chain;
  };

  const timer = setInterval(() => void reload(), (opts.pollSeconds ?? (fetchHttp ? 30 : 5)) * 1000);
  timer.unref();
  let watcher: FSWatcher | undefined;
  let debounce: NodeJS.Timeout | undefined;
  if (!fetchHttp) {
    const name = basename(source);
    watcher = watch(dirname(source), (_event, file) => {
      if (file !== null && file !== name) return;
      clearTimeout(debounce);
      debounce = setTimeout(() => void reload(), 50);
    });
    watcher.unref();
  }

  return {
    current: () => engine,
    async close() {
      closed = true;
      clearInterval(timer);
      clearTimeout(debounce);
      watcher?.close();
      await chain;
    },
  };
}
