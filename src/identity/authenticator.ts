/**
 * The gateway's front door: turns a request's credential headers into the policy's Identity, or an
 * AuthError saying why not. A bearer JWT is checked against the identity provider's keys (see
 * keys.ts) and remembered until it expires (token-cache.ts); a service-account API key, sent as a
 * bearer credential or in `x-api-key`, is matched against configured hashes (api-keys.ts).
 */
import { readFileSync } from 'node:fs';
import { createLocalJWKSet } from 'jose';
import type { JSONWebKeySet } from 'jose';
import type { Identity } from '../contract/index.js';
import { ApiKeys } from './api-keys.js';
import type { ApiKeyEntry } from './api-keys.js';
import { ApiKeyInvalidError, AuthError, IdentityConfigError, TokenMalformedError, TokenMissingError } from './errors.js';
import { fileLoader, KeyStore, parseKeySet, urlLoader } from './keys.js';
import type { KeySetLoader } from './keys.js';
import { verifyJwt } from './jwt.js';
import type { JwtRules, VerifiedToken } from './jwt.js';
import { TokenCache } from './token-cache.js';

/** Every option is documented in docs/identity.md; the config loader maps YAML onto this. */
export interface IdentityOptions {
  /** Required `iss` of every token. */
  issuer: string;
  /** The token's `aud` must contain one of these. */
  audience: string | string[];
  /** Exactly one of jwksUrl, jwksFile, jwks says where the verification keys come from. */
  jwksUrl?: string;
  jwksFile?: string;
  jwks?: JSONWebKeySet;
  /** Allowed JWS algorithms; asymmetric only. Default: all RSA, RSA-PSS, ECDSA and EdDSA ones. */
  algorithms?: string[];
  /** Leeway for exp/nbf/iat, seconds. Default 30. */
  clockToleranceSeconds?: number;
  /** Claim holding the caller's groups: `groups` (default) or a URL-named one. */
  groupsClaim?: string;
  /** Verified tokens remembered until their expiry; 0 disables the cache. Default 10000. */
  cacheSize?: number;
  apiKeys?: ApiKeyEntry[];
  /** Minimum seconds between two key-set loads (unknown kid, age). Default 30. */
  jwksCooldownSeconds?: number;
  /** Key sets older than this are reloaded at the next token (failure keeps them). Default 600. */
  jwksMaxAgeSeconds?: number;
  /** Timeout of one JWKS fetch, ms. Default 5000. */
  fetchTimeoutMs?: number;
}

export interface CredentialHeaders {
  authorization?: string | undefined;
  'x-api-key'?: string | string[] | undefined;
}

export interface AuthenticatorStats {
  /** JWT signature verifications performed (cache misses that reached jose). */
  verifications: number;
  /** Requests answered from the token cache. */
  cacheHits: number;
  /** Key-set loads attempted, and those that failed (the keys held before kept working). */
  jwksLoads: number;
  jwksLoadFailures: number;
}

export interface Authenticator {
  /** The caller's identity; rejects with an AuthError (and nothing else) otherwise. */
  authenticate(headers: CredentialHeaders): Promise<Identity>;
  stats(): AuthenticatorStats;
  close(): void;
}

/** Injected clock and fetch, for tests that move time or count requests. */
export interface AuthenticatorDeps {
  now?: () => number;
  fetch?: typeof fetch;
}

export const ASYMMETRIC_ALGORITHMS = [
  'RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519',
] as const;

const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*$/;

export function createAuthenticator(opts: IdentityOptions, deps: AuthenticatorDeps = {}): Authenticator {
  const now = deps.now ?? Date.now;
  const rules = jwtRules(opts);
  const apiKeys = new ApiKeys(opts.apiKeys ?? []);
  const cacheSize = nonNegative(opts.cacheSize, 10_000, 'cacheSize');
  const cache = new TokenCache<VerifiedToken>(cacheSize);
  const { load, initial } = keySource(opts, nonNegative(opts.fetchTimeoutMs, 5000, 'fetchTimeoutMs'), deps.fetch);
  const keys = new KeyStore({
    load,
    initial,
    cooldownMs: nonNegative(opts.jwksCooldownSeconds, 30, 'jwksCooldownSeconds') * 1000,
    maxAgeMs: nonNegative(opts.jwksMaxAgeSeconds, 600, 'jwksMaxAgeSeconds') * 1000,
    now,
  });
  const getKey = keys.keyFor.bind(keys);
  let verifications = 0;
  let cacheHits = 0;

  async function bearer(token: string): Promise<Identity> {
    const service = apiKeys.size > 0 ? apiKeys.lookup(token) : undefined;
    if (service) return service;
    if (!JWT_SHAPE.test(token)) {
      throw new TokenMalformedError(`the bearer credential is not a JWT (three dot-separated base64url parts)${apiKeys.size > 0 ? ' nor a configured API key' : ''}`);
    }
    const key = TokenCache.keyOf(token);
    const t = now();
    const cached = cache.get(key, t);
    if (cached) {
      cacheHits++;
      return cached.identity;
    }
    verifications++;
    const verified = await verifyJwt(token, getKey, rules, t);
    // A token accepted only thanks to the clock tolerance is already past exp: not worth caching.
    if (verified.expiresAtMs > t) cache.set(key, verified, verified.expiresAtMs);
    return verified.identity;
  }

  return {
    async authenticate(headers) {
      try {
        const authorization = headers.authorization;
        if (authorization !== undefined && authorization !== '') {
          const m = /^(\S+)(?:[ \t]+(.*))?$/s.exec(authorization.trim());
          const scheme = m?.[1] ?? '';
          if (scheme.toLowerCase() !== 'bearer') {
            throw new TokenMissingError(`the Authorization header uses the "${scheme.slice(0, 20)}" scheme; regate accepts Bearer credentials`);
          }
          const credential = m?.[2]?.trim() ?? '';
          if (credential === '') throw new TokenMissingError('the Authorization header names the Bearer scheme but carries no token');
          return await bearer(credential);
        }
        const apiKey = headers['x-api-key'];
        if (apiKey !== undefined) {
          if (typeof apiKey !== 'string') throw new ApiKeyInvalidError('the request carries several x-api-key headers');
          const service = apiKeys.lookup(apiKey);
          if (!service) throw new ApiKeyInvalidError('the x-api-key header matches no configured service account');
          return service;
        }
        throw new TokenMissingError('the request carries no credentials: send "Authorization: Bearer <token>"');
      } catch (err) {
        if (err instanceof AuthError) throw err;
        throw new TokenMalformedError('the credential could not be checked', { cause: err });
      }
    },
    stats: () => ({ verifications, cacheHits, jwksLoads: keys.loads, jwksLoadFailures: keys.loadFailures }),
    close: () => cache.clear(),
  };
}

function jwtRules(opts: IdentityOptions): JwtRules {
  if (typeof opts.issuer !== 'string' || opts.issuer === '') throw new IdentityConfigError('issuer must be a non-empty string');
  const audience = typeof opts.audience === 'string' ? [opts.audience] : opts.audience;
  if (!Array.isArray(audience) || audience.length === 0 || !audience.every((a) => typeof a === 'string' && a !== '')) {
    throw new IdentityConfigError('audience must be a non-empty string or a non-empty list of strings');
  }
  const algorithms = opts.algorithms ?? [...ASYMMETRIC_ALGORITHMS];
  if (!Array.isArray(algorithms) || algorithms.length === 0) throw new IdentityConfigError('algorithms must be a non-empty list');
  for (const alg of algorithms) {
    if (!(ASYMMETRIC_ALGORITHMS as readonly string[]).includes(alg)) {
      throw new IdentityConfigError(`algorithms may not include ${JSON.stringify(alg)}: allowed are ${ASYMMETRIC_ALGORITHMS.join(', ')} (never "none", never HMAC, which would let a public key serve as a shared secret)`);
    }
  }
  const groupsClaim = opts.groupsClaim ?? 'groups';
  if (typeof groupsClaim !== 'string' || groupsClaim === '') throw new IdentityConfigError('groupsClaim must be a non-empty string');
  return { issuer: opts.issuer, audience, algorithms, clockToleranceSeconds: nonNegative(opts.clockToleranceSeconds, 30, 'clockToleranceSeconds'), groupsClaim };
}

function keySource(opts: IdentityOptions, timeoutMs: number, fetchImpl?: typeof fetch): { load: KeySetLoader; initial?: JSONWebKeySet } {
  const given = [opts.jwksUrl, opts.jwksFile, opts.jwks].filter((v) => v !== undefined).length;
  if (given !== 1) throw new IdentityConfigError(`give exactly one of jwksUrl, jwksFile, jwks (got ${given})`);
  if (opts.jwksUrl !== undefined) {
    let url: URL;
    try {
      url = new URL(opts.jwksUrl);
    } catch {
      throw new IdentityConfigError(`jwksUrl ${JSON.stringify(opts.jwksUrl)} is not a URL`);
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new IdentityConfigError(`jwksUrl must be http(s), not ${url.protocol}`);
    return { load: urlLoader(url.href, timeoutMs, fetchImpl) };
  }
  if (opts.jwksFile !== undefined) {
    const file = opts.jwksFile;
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (cause) {
      throw new IdentityConfigError(`jwksFile ${file} could not be read: ${(cause as NodeJS.ErrnoException).code ?? String(cause)}`, { cause });
    }
    return { load: fileLoader(file), initial: checkedSet(() => parseKeySet(text, file), `jwksFile ${file}`) };
  }
  const set = checkedSet(() => parseKeySet(JSON.stringify(opts.jwks), 'the jwks option'), 'jwks');
  return { load: async () => set, initial: set };
}

/** Parses a configured key set and proves jose accepts it, turning failures into config errors. */
function checkedSet(parse: () => JSONWebKeySet, what: string): JSONWebKeySet {
  try {
    const set = parse();
    createLocalJWKSet(set);
    return set;
  } catch (cause) {
    throw new IdentityConfigError(`${what} is not a usable JWKS: ${(cause as Error).message}`, { cause });
  }
}

function nonNegative(value: number | undefined, fallback: number, key: string): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) throw new IdentityConfigError(`${key} must be a number >= 0`);
  return value;
}
