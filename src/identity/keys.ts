/**
 * The verification keys, kept in memory so a token costs no network round trip. The key set is
 * (re)loaded when first needed, when it is older than its maximum age, and when a token names a
 * `kid` we do not hold (a rotation at the identity provider); loads are spaced by a cooldown so a
 * flood of made-up `kid`s cannot hammer the provider. When a load fails the keys already held keep
 * working; only when there are none does the caller get JwksUnavailableError (503).
 */
import { readFile } from 'node:fs/promises';
import { createLocalJWKSet, errors as jose } from 'jose';
import type { JSONWebKeySet, JWSHeaderParameters, FlattenedJWSInput } from 'jose';
import { JwksUnavailableError, TokenKidError } from './errors.js';

/** Loads a key set from wherever it lives; throws JwksUnavailableError naming the source. */
export type KeySetLoader = () => Promise<JSONWebKeySet>;

export interface KeyStoreOptions {
  load: KeySetLoader;
  /** A key set already in hand (static config, or a file read at start-up). */
  initial?: JSONWebKeySet;
  cooldownMs: number;
  maxAgeMs: number;
  now: () => number;
}

const MAX_JWKS_BYTES = 1 << 20;

/** A loader for a JWKS served over HTTP(S), with a timeout and a size limit. */
export function urlLoader(url: string, timeoutMs: number, fetchImpl: typeof fetch = fetch): KeySetLoader {
  return async () => {
    let res: Response;
    let text: string;
    try {
      res = await fetchImpl(url, { signal: AbortSignal.timeout(timeoutMs), headers: { accept: 'application/json' } });
      if (Number(res.headers.get('content-length') ?? 0) > MAX_JWKS_BYTES) {
        await res.body?.cancel();
        throw new JwksUnavailableError(`the JWKS at ${url} is larger than ${MAX_JWKS_BYTES} bytes`);
      }
      text = await res.text();
    } catch (cause) {
      if (cause instanceof JwksUnavailableError) throw cause;
      throw new JwksUnavailableError(`the JWKS at ${url} could not be fetched (${(cause as Error).name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : 'connection failed'})`, { cause });
    }
    if (!res.ok) throw new JwksUnavailableError(`the JWKS at ${url} answered HTTP ${res.status}`);
    if (text.length > MAX_JWKS_BYTES) throw new JwksUnavailableError(`the JWKS at ${url} is larger than ${MAX_JWKS_BYTES} bytes`);
    return parseKeySet(text, url);
  };
}

/** A loader re-reading a JWKS file (the file is also read once at start-up, to fail early). */
export function fileLoader(path: string): KeySetLoader {
  return async () => {
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (cause) {
      throw new JwksUnavailableError(`the JWKS file ${path} could not be read`, { cause });
    }
    return parseKeySet(text, path);
  };
}

/** Parses and shape-checks a JWKS document; `source` names it in the error. */
export function parseKeySet(text: string, source: string): JSONWebKeySet {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (cause) {
    throw new JwksUnavailableError(`the JWKS from ${source} is not JSON`, { cause });
  }
  const keys = (doc as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(keys) || !keys.every((k) => typeof k === 'object' && k !== null && !Array.isArray(k))) {
    throw new JwksUnavailableError(`the JWKS from ${source} has no "keys" array of objects`);
  }
  // Only public keys verify here: a symmetric key would turn the key set into a shared secret.
  const secret = (keys as Record<string, unknown>[]).find((k) => k.kty === 'oct' || 'd' in k);
  if (secret) throw new JwksUnavailableError(`the JWKS from ${source} holds a private or symmetric key (kid ${JSON.stringify(secret.kid ?? null)}); publish public keys only`);
  return doc as JSONWebKeySet;
}

type Resolver = ReturnType<typeof createLocalJWKSet>;

export class KeyStore {
  private resolver: Resolver | undefined;
  private loadedAt = -Infinity;
  private lastAttempt = -Infinity;
  private inflight: Promise<boolean> | undefined;
  /** How many times the loader ran (successful or not), and how many of those failed. */
  loads = 0;
  loadFailures = 0;

  constructor(private readonly opts: KeyStoreOptions) {
    if (opts.initial) this.install(opts.initial);
  }

  /** The key for a token's header, loading the set as described in the module comment. */
  async keyFor(header: JWSHeaderParameters, token: FlattenedJWSInput): ReturnType<Resolver> {
    if (this.resolver === undefined || this.opts.now() - this.loadedAt > this.opts.maxAgeMs) {
      await this.reload(this.resolver === undefined);
    }
    const first = this.resolver;
    if (first === undefined) throw new JwksUnavailableError('no verification keys are available: the key set has not been loaded yet');
    try {
      return await first(header, token);
    } catch (err) {
      if (!(err instanceof jose.JWKSNoMatchingKey)) throw this.explain(err, header);
    }
    if (!(await this.reload(false))) throw this.explain(new jose.JWKSNoMatchingKey(), header);
    try {
      return await this.resolver!(header, token);
    } catch (err) {
      throw this.explain(err, header);
    }
  }

  /**
   * Loads the set unless one was attempted within the cooldown (`initial` bypasses it when no
   * keys are held, so a start-up failure is retried at the next request). Concurrent callers share
   * one load. Resolves true when a new set was installed; throws only when no keys are held.
   */
  private reload(initial: boolean): Promise<boolean> {
    if (this.inflight) return this.inflight;
    const now = this.opts.now();
    if (!initial && now - this.lastAttempt < this.opts.cooldownMs) return Promise.resolve(false);
    this.lastAttempt = now;
    this.loads++;
    this.inflight = this.opts.load().then(
      (set) => {
        this.install(set);
        return true;
      },
      (err: unknown) => {
        this.loadFailures++;
        if (this.resolver === undefined) throw err;
        return false;
      },
    ).finally(() => {
      this.inflight = undefined;
    });
    return this.inflight;
  }

  private install(set: JSONWebKeySet): void {
    try {
      this.resolver = createLocalJWKSet(set);
    } catch (cause) {
      throw new JwksUnavailableError('the key set is malformed', { cause });
    }
    this.loadedAt = this.opts.now();
  }

  /** Turns a key-selection failure into the AuthError naming the header at fault. */
  private explain(err: unknown, header: JWSHeaderParameters): unknown {
    const kid = typeof header.kid === 'string' ? `"${header.kid.slice(0, 64)}"` : '(none)';
    if (err instanceof jose.JWKSNoMatchingKey) return new TokenKidError(`no verification key matches the token's kid ${kid} and alg "${String(header.alg).slice(0, 16)}"`);
    if (err instanceof jose.JWKSMultipleMatchingKeys) return new TokenKidError('the token names no kid and several verification keys match; the token must name its key');
    return err;
  }
}
