/**
 * Signing and trusted keys. A key is named by its RFC 7638 JWK thumbprint, so an auditor holding
 * only a PEM derives the same `kid` the checkpoints carry; several keys (PEM files or a JWKS) can be
 * trusted at once, which is how rotated-out keys keep older segments verifiable.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { calculateJwkThumbprint, exportJWK } from 'jose';
import { AuditReadError } from './errors.js';

export interface TrustedKey {
  kid: string;
  key: KeyObject;
}

/** The RFC 7638 thumbprint (SHA-256, base64url) of an Ed25519 public key. */
export async function keyIdOf(publicKey: KeyObject): Promise<string> {
  return calculateJwkThumbprint(await exportJWK(publicKey));
}

export function publicKeyPem(key: KeyObject): string {
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  return pub.export({ type: 'spki', format: 'pem' }).toString();
}

/**
 * Loads `<stateDir>/audit.key.pem` (PKCS8, mode 0600) or creates it with a fresh Ed25519 key, and
 * writes `<stateDir>/audit.pub.pem` for auditors when it is missing or not this key's (after a
 * rotation the old one is kept as `audit.pub.<kid>.pem`; statePublicKeyFiles lists them all).
 */
export async function loadOrCreateAuditKey(stateDir: string): Promise<{ privateKey: KeyObject; publicKeyPem: string; keyId: string }> {
  await mkdir(stateDir, { recursive: true });
  const keyFile = join(stateDir, 'audit.key.pem');
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(await readFile(keyFile, 'utf8'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new AuditReadError(`cannot read the audit signing key ${keyFile}: ${(err as Error).message}`, { cause: err });
    privateKey = generateKeyPairSync('ed25519').privateKey;
    const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    try {
      await writeFile(keyFile, pem, { mode: 0o600, flag: 'wx' });
    } catch (raced) {
      // Another process created it first: use theirs so both sign with one key.
      if ((raced as NodeJS.ErrnoException).code !== 'EEXIST') throw raced;
      privateKey = createPrivateKey(await readFile(keyFile, 'utf8'));
    }
  }
  if (privateKey.asymmetricKeyType !== 'ed25519') throw new AuditReadError(`audit signing key ${keyFile} is ${privateKey.asymmetricKeyType}, not Ed25519`);
  const pem = publicKeyPem(privateKey);
  const pubFile = join(stateDir, 'audit.pub.pem');
  // Rewrite only when missing or stale, so a read-only state directory with both files still loads.
  const previous = await readFile(pubFile, 'utf8').catch(() => '');
  if (previous !== pem) {
    // The key was rotated: keep the old public key beside the new one, so `verify --state` still
    // checks the segments it signed.
    if (previous) await writeFile(join(stateDir, `audit.pub.${await keyIdOf(createPublicKey(previous))}.pem`), previous);
    await writeFile(pubFile, pem);
  }
  return { privateKey, publicKeyPem: pem, keyId: await keyIdOf(createPublicKey(privateKey)) };
}

/** Every audit public key kept in a state directory: the current one and those rotated out. */
export function statePublicKeyFiles(stateDir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(stateDir);
  } catch (err) {
    throw new AuditReadError(`cannot read the state directory ${stateDir}: ${(err as Error).message}`, { cause: err });
  }
  return names.filter((n) => /^audit\.pub(\.[A-Za-z0-9_-]+)?\.pem$/.test(n)).sort().map((n) => join(stateDir, n));
}

/** Reads trusted public keys from PEM files (kid = thumbprint) or JWKS JSON files (kid as given, else thumbprint). */
export async function readTrustedKeys(files: readonly string[]): Promise<TrustedKey[]> {
  const keys: TrustedKey[] = [];
  for (const file of files) {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      throw new AuditReadError(`cannot read key file ${file}: ${(err as Error).message}`, { cause: err });
    }
    try {
      if (text.trimStart().startsWith('{')) {
        const jwks = JSON.parse(text) as { keys?: Array<Record<string, unknown>> };
        if (!Array.isArray(jwks.keys)) throw new Error('no "keys" array');
        for (const jwk of jwks.keys) {
          const key = createPublicKey({ key: jwk as never, format: 'jwk' });
          keys.push({ kid: typeof jwk.kid === 'string' ? jwk.kid : await keyIdOf(key), key });
        }
      } else {
        const key = createPublicKey(text);
        keys.push({ kid: await keyIdOf(key), key });
      }
    } catch (err) {
      throw new AuditReadError(`key file ${file} holds no Ed25519 public key (PEM or JWKS): ${(err as Error).message}`, { cause: err });
    }
  }
  return keys;
}

/**
 * The keys a check of a gateway's own log trusts, given its state folder: only the gateway's own key
 * (from its private key, else audit.pub.pem). The other audit.pub.*.pem files there are candidates,
 * trusted only where a key.rotated record signed by a trusted key vouches for them: a key file
 * dropped in the folder earns no trust (verify's candidateKeys).
 */
export async function stateTrust(stateDir: string): Promise<{ keys: TrustedKey[]; candidates: TrustedKey[] }> {
  const current = await stateKey(stateDir);
  const others = (await readTrustedKeys(statePublicKeyFiles(stateDir))).filter((k) => k.kid !== current.kid);
  return { keys: [current], candidates: others };
}

async function stateKey(stateDir: string): Promise<TrustedKey> {
  const priv = join(stateDir, 'audit.key.pem');
  if (existsSync(priv)) {
    try {
      const key = createPublicKey(createPrivateKey(readFileSync(priv, 'utf8')));
      return { kid: await keyIdOf(key), key };
    } catch {
      // not readable here (an auditor's copy of the state folder): the public key file says the same
    }
  }
  const [pub] = await readTrustedKeys([join(stateDir, 'audit.pub.pem')]);
  return pub!;
}
