/**
 * A test double of an OIDC identity provider that speaks real HTTP: a node:http server on
 * 127.0.0.1:0 serving a JWKS, counting fetches, able to rotate its keys or stop answering; plus a
 * signer for tokens with any header and claims a test needs.
 */
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, SignJWT } from 'jose';
import type { JSONWebKeySet, JWK, JWTPayload } from 'jose';

type PrivateKey = Awaited<ReturnType<typeof generateKeyPair>>['privateKey'];

export const ISSUER = 'https://idp.test.example';
export const AUDIENCE = 'regate-test';

export interface SigningKey { kid: string; privateKey: PrivateKey; publicJwk: JWK }

export async function newKey(alg = 'ES256'): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const publicJwk = await exportJWK(publicKey);
  const kid = await calculateJwkThumbprint(publicJwk);
  return { kid, privateKey, publicJwk: { ...publicJwk, kid, alg, use: 'sig' } };
}

/** Signs a token with `key`; claims default to a valid, 5-minute token for alice. */
export async function sign(key: SigningKey, claims: JWTPayload = {}, header: Record<string, unknown> = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ iss: ISSUER, aud: AUDIENCE, sub: 'alice', iat: now, exp: now + 300, groups: ['fraud-analysts'], ...claims })
    .setProtectedHeader({ alg: String(key.publicJwk.alg), kid: key.kid, ...header })
    .sign(key.privateKey);
}

export interface IdpDouble {
  url: string;
  fetches: number;
  keys: SigningKey[];
  /** 'down' resets every connection, as an unreachable provider would look mid-outage; 'garbage' answers HTML; 'huge' pads a valid JWKS to 2 MiB. */
  mode: 'up' | 'down' | 'garbage' | 'huge';
  jwks(): JSONWebKeySet;
  close(): Promise<void>;
}

export async function startIdp(keys: SigningKey[]): Promise<IdpDouble> {
  const idp: IdpDouble = {
    url: '',
    fetches: 0,
    keys,
    mode: 'up',
    jwks: () => ({ keys: idp.keys.map((k) => k.publicJwk) }),
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
  const server: Server = createServer((req, res) => {
    idp.fetches++;
    if (idp.mode === 'down') {
      req.socket.destroy();
      return;
    }
    if (idp.mode === 'garbage') {
      res.writeHead(200, { 'content-type': 'text/html' }).end('<html>maintenance</html>');
      return;
    }
    const body = (idp.mode === 'huge' ? ' '.repeat(2 << 20) : '') + JSON.stringify(idp.jwks());
    res.writeHead(200, { 'content-type': 'application/json' }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  idp.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/.well-known/jwks.json`;
  return idp;
}

/** base64url of a JSON value, for hand-built tokens. */
export function b64(value: unknown): string {
  return Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');
}
