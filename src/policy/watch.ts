/**
 * Hot reload of the policy bundle. The source is a file path (watched through its folder, so an
 * atomic rename-over is seen) or an http(s) URL polled with If-None-Match, as OPA's bundle service
 * protocol does (service.ts). A new bundle is verified and compiled in full before it is swapped
 * in, in one assignment, so a request always sees one revision; a bad bundle is reported through
 * `onReject` and the last good engine keeps serving.
 *
 * As OPA's bundle plugin does, the last verified bundle from a server is persisted on disk, and the
 * gateway starts from it (verified again) when the server cannot give one at start. After a
 * failure the next attempt waits exponentially longer, with jitter, so a server that is down is not
 * hammered (nor the log flooded) by every replica at once.
 */
import { createHash } from 'node:crypto';
import { watch, type FSWatcher } from 'node:fs';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { BundleError } from './errors.js';
import type { PolicyEngine } from './evaluator.js';
import { loadBundle, readBundleFile, type LoadOptions } from './load.js';
import { bundleService, type BundleServiceOptions, type Fetched } from './service.js';
import { DEFAULT_TAR_LIMITS } from './tar.js';
import { backoffSeconds } from '../util/index.js';

export interface WatchOptions extends LoadOptions {
  /** HTTP: seconds between polls (default 30). Files: seconds between fallback stat checks (default 5). 0: load once, never reload. */
  pollSeconds?: number;
  /** HTTP: credentials, client TLS and timeout for the bundle server (the timeout must exceed the long poll). */
  service?: BundleServiceOptions;
  /**
   * HTTP: ask the server to hold each poll open up to this many seconds until the bundle changes
   * (OPA's long polling). While the server says it does so, the next poll follows at once.
   */
  longPollingSeconds?: number | undefined;
  /** HTTP: where the last verified bundle is kept, and started from when the server is down. */
  persistPath?: string | undefined;
  /** The longest wait between attempts after failures, seconds (default 300). */
  maxBackoffSeconds?: number;
  /** Source of jitter in [0, 1) (default Math.random). */
  random?: () => number;
  /**
   * Called with each loaded engine (the first one too) and the bundle bytes it came from, before it
   * is swapped in; throwing refuses it, as a bad signature would. For checks the policy stage cannot
   * make itself (custom detectors' RE2), and for keeping the bundle by revision.
   */
  accept?: (engine: PolicyEngine, bytes: Uint8Array) => void;
  /** Called after each new bundle is swapped in (not for the initial load). */
  onLoad?: (engine: PolicyEngine) => void;
  /** Called when a new bundle is refused or cannot be fetched; the previous engine stays current. */
  onReject?: (err: Error) => void;
  /** Called when the persisted bundle could not be written (the engine is still swapped in). */
  onPersistFailed?: (err: Error) => void;
}

/** Where the current bundle came from and how the source has behaved (for /healthz and status reports). */
export interface WatchStatus {
  revision: string;
  /** When the current engine was swapped in. */
  activatedAt: Date;
  /** `persisted`: the server could not be reached at start; the last good copy on disk serves. */
  origin: 'source' | 'persisted';
  /** The latest failure since the last good fetch, if any. */
  lastError: { message: string; code: string; at: Date } | undefined;
  /** Consecutive failed attempts (0 when the last one succeeded). */
  failures: number;
  /** Whether the server holds polls open (long polling asked for and its last answer said so). */
  longPolling: boolean;
  /** When the source was last asked, last answered (a bundle or "unchanged"), and last gave a bundle. */
  lastRequest: Date | undefined;
  lastSuccessfulRequest: Date | undefined;
  lastSuccessfulDownload: Date | undefined;
}

export interface BundleWatcher {
  current(): PolicyEngine;
  status(): WatchStatus;
  close(): Promise<void>;
}

function isUrl(source: string): boolean {
  return /^https?:\/\//i.test(source);
}

async function persist(path: string, bytes: Uint8Array): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, bytes, { mode: 0o600 });
  await rename(tmp, path);
}

/**
 * Loads the bundle at `source` (it must be good, or a persisted copy must be), then keeps the
 * returned watcher's `current()` on the newest good bundle. The same bytes are never loaded or
 * reported twice.
 */
export async function watchBundle(source: string, opts: WatchOptions = {}): Promise<BundleWatcher> {
  const limits = opts.limits ?? DEFAULT_TAR_LIMITS;
  const http = isUrl(source) ? await bundleService(source, opts.service ?? {}, limits.maxCompressedBytes) : undefined;
  let etag: string | undefined;
  let longPolling = false;
  // Aborts a request in flight when the watcher closes: a held long poll must not delay a shutdown.
  const stopping = new AbortController();
  const times: Pick<WatchStatus, 'lastRequest' | 'lastSuccessfulRequest' | 'lastSuccessfulDownload'> = { lastRequest: undefined, lastSuccessfulRequest: undefined, lastSuccessfulDownload: undefined };
  const fetchOnce = async (): Promise<Fetched> => {
    times.lastRequest = new Date();
    const got: Fetched = http ? await http.fetch(etag, opts.longPollingSeconds, stopping.signal) : { kind: 'bytes', bytes: await readBundleFile(source, limits), etag: undefined, longPoll: false };
    times.lastSuccessfulRequest = new Date();
    longPolling = got.longPoll;
    if (got.kind === 'bytes') {
      times.lastSuccessfulDownload = times.lastSuccessfulRequest;
      // Like OPA, a refused bundle's ETag is kept too: the server must publish a new one.
      etag = got.etag;
    }
    return got;
  };
  const persistPath = http ? opts.persistPath : undefined;
  const keep = (bytes: Uint8Array) => {
    if (persistPath) return persist(persistPath, bytes).catch((err: Error) => opts.onPersistFailed?.(err));
  };
  const digest = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
  const load = async (bytes: Uint8Array) => {
    const engine = await loadBundle(bytes, opts);
    opts.accept?.(engine, bytes);
    return engine;
  };

  let engine: PolicyEngine;
  let seen: string;
  let origin: WatchStatus['origin'] = 'source';
  let lastError: WatchStatus['lastError'];
  let failures = 0;
  const failed = (err: Error) => {
    failures++;
    lastError = { message: err.message, code: (err as { code?: string }).code ?? 'ERR_BUNDLE', at: new Date() };
  };
  try {
    const first = await fetchOnce();
    if (first.kind !== 'bytes') throw new BundleError(`bundle server ${source} answered 304 to an unconditional request`);
    engine = await load(first.bytes);
    seen = digest(first.bytes);
    await keep(first.bytes);
  } catch (err) {
    const persisted = persistPath ? await readBundleFile(persistPath, limits).catch(() => undefined) : undefined;
    if (!persisted) {
      await http?.close();
      throw err;
    }
    try {
      engine = await load(persisted);
    } catch (stale) {
      await http?.close();
      throw new BundleError(`${(err as Error).message}; the persisted bundle ${persistPath} was refused too: ${(stale as Error).message}`, { cause: err });
    }
    // The server's bytes are not these: the next good fetch must replace them even if identical.
    seen = '';
    origin = 'persisted';
    failed(err as Error);
    opts.onReject?.(err as Error);
  }
  let activatedAt = new Date();
  let closed = false;
  let chain: Promise<void> = Promise.resolve();

  const attempt = async () => {
    const got = await fetchOnce();
    if (got.kind === 'unchanged') return;
    const d = digest(got.bytes);
    if (d === seen) return;
    seen = d;
    const next = await load(got.bytes);
    if (closed) return;
    // Persisted first (it is verified): whoever sees the new revision finds it on disk too.
    await keep(got.bytes);
    if (closed) return;
    failures = 0;
    engine = next;
    activatedAt = new Date();
    origin = 'source';
    opts.onLoad?.(next);
  };
  const reload = () => {
    chain = chain.then(() =>
      attempt().then(
        () => void (failures = 0),
        (err: unknown) => {
          if (closed) return;
          const e = err instanceof Error ? err : new Error(String(err));
          failed(e);
          opts.onReject?.(e);
        },
      ),
    );
    return chain;
  };

  const pollSeconds = opts.pollSeconds ?? (http ? 30 : 5);
  let timer: NodeJS.Timeout | undefined;
  const schedule = () => {
    if (closed || pollSeconds === 0) return;
    // A server that holds polls open has already waited for a change: ask again at once (after a failure, back off as usual).
    const wait = longPolling && failures === 0 ? 0 : backoffSeconds(pollSeconds, failures, opts.maxBackoffSeconds ?? 300, opts.random ?? Math.random);
    timer = setTimeout(() => void reload().then(schedule), wait * 1000);
    timer.unref();
  };
  schedule();
  let watcher: FSWatcher | undefined;
  let debounce: NodeJS.Timeout | undefined;
  if (!http && pollSeconds > 0) {
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
    status: () => ({ revision: engine.revision, activatedAt, origin, lastError: failures ? lastError : undefined, failures, longPolling, ...times }),
    async close() {
      closed = true;
      stopping.abort();
      clearTimeout(timer);
      clearTimeout(debounce);
      watcher?.close();
      await chain;
      await http?.close();
    },
  };
}
