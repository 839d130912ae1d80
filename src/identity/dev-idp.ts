/**
 * A development identity provider, so `regate demo` and `regate token` work with no real IdP: an
 * ES256 key pair generated on first run under `<stateDir>/dev-idp/` (private key mode 0600, reused
 * afterwards), a public JWKS the demo gateway serves at `/.well-known/jwks.json`, and a signer for
 * short-lived tokens. Not for production: whoever can read the state directory can mint tokens.
 */
import { linkSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, SignJWT } from 'jose';
import type { JSONWebKeySet, JWK } from 'jose';
import { sendJson } from '../util/index.js';
import { IdentityConfigError } from './errors.js';

export const DEV_ISSUER = 'urn:regate:dev-idp';
export const DEV_AUDIENCE = 'regate';
const ALG = 'ES256';

export interface DevTokenRequest {
  sub: string;
  groups: string[];
  ttlSeconds: number;
  /** Defaults to DEV_AUDIENCE. */
  audience?: string | string[];
  /** Extra claims (cannot override iss, sub, aud, iat, exp). */
  claims?: Record<string, unknown>;
}

export interface DevIdentity {
  issuer: string;
  audience: string;
  /** The public key set, to serve or to pass as IdentityOptions.jwks. */
  jwks: JSONWebKeySet;
  /** The private key file (mode 0600). */
  keyFile: string;
  sign(req: DevTokenRequest): Promise<string>;
}

/** Loads the dev key pair from `<stateDir>/dev-idp/`, generating it on first use. */
export async function ensureDevIdentity(stateDir: string): Promise<DevIdentity> {
  const dir = join(stateDir, 'dev-idp');
  const keyFile = join(dir, 'private.jwk.json');
  const privateJwk = readKey(keyFile) ?? (await createKey(dir, keyFile));
  const { d: _private, ...publicJwk } = privateJwk;
  const key = await importJWK(privateJwk, ALG);
  return {
    issuer: DEV_ISSUER,
    audience: DEV_AUDIENCE,
    jwks: { keys: [publicJwk] },
    keyFile,
    async sign({ sub, groups, ttlSeconds, audience = DEV_AUDIENCE, claims = {} }) {
      if (!(Number.isFinite(ttlSeconds) && ttlSeconds > 0)) throw new IdentityConfigError(`ttlSeconds must be a positive number, got ${ttlSeconds}`);
      const iat = Math.floor(Date.now() / 1000);
      return new SignJWT({ ...claims, groups })
        .setProtectedHeader({ alg: ALG, kid: publicJwk.kid!, typ: 'JWT' })
        .setIssuer(DEV_ISSUER)
        .setSubject(sub)
        .setAudience(audience)
        .setIssuedAt(iat)
        .setExpirationTime(iat + Math.ceil(ttlSeconds))
        .sign(key);
    },
  };
}

/** A node:http handler answering GET with the public JWKS (for the admin listener). */
export function jwksRequestHandler(jwks: JSONWebKeySet): (req: IncomingMessage, res: ServerResponse) => void {
  const body = JSON.stringify(jwks);
  return (req, res) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      sendJson(res, 405, { error: 'ERR_METHOD', message: 'use GET' }, { allow: 'GET, HEAD' });
      return;
    }
    res.writeHead(200, { 'content-type': 'application/jwk-set+json', 'cache-control': 'public, max-age=300', 'content-length': Buffer.byteLength(body) });
    res.end(req.method === 'HEAD' ? undefined : body);
  };
}

function readKey(file: string): JWK | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new IdentityConfigError(`the dev identity key ${file} could not be read: ${(err as NodeJS.ErrnoException).code}`, { cause: err });
  }
  try {
    const jwk = JSON.parse(text) as JWK;
    if (jwk.kty !== 'EC' || typeof jwk.d !== 'string' || typeof jwk.kid !== 'string') throw new Error('not an EC private JWK with a kid');
    return jwk;
  } catch (cause) {
    throw new IdentityConfigError(`the dev identity key ${file} is corrupt (${(cause as Error).message}); delete it to generate a new one`, { cause });
  }
}

/**
 * Generates and stores a key. The file is written under a temporary name and linked into place,
 * so two processes starting together both end up using whichever key was linked first.
 */
async function createKey(dir: string, file: string): Promise<JWK> {
  const { privateKey } = await generateKeyPair(ALG, { extractable: true });
  const jwk = await exportJWK(privateKey);
  const { d: _d, ...pub } = jwk;
  jwk.kid = await calculateJwkThumbprint(pub);
  jwk.alg = ALG;
  jwk.use = 'sig';
  const tmp = `${file}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    writeFileSync(tmp, JSON.stringify(jwk) + '\n', { mode: 0o600, flag: 'wx' });
  } catch (cause) {
    throw new IdentityConfigError(`the dev identity key could not be written under ${dir}: ${(cause as NodeJS.ErrnoException).code ?? String(cause)}`, { cause });
  }
  try {
    linkSync(tmp, file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    return readKey(file)!;
  } finally {
    unlinkSync(tmp);
  }
  return jwk;
}
