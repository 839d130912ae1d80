/**
 * Bundle signatures per OPA's bundle signing spec: `.signatures.json` holds one compact JWS whose
 * payload lists every other file of the bundle with its digest (see filehash.ts). Signing and
 * verifying here interoperate with `opa build --signing-key` and `opa run --verification-key`.
 * Verification is strict: one JWS, the expected key id, the expected scope, every file listed and
 * matching, nothing listed that is missing, nothing present that is not listed.
 */
import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { CompactSign, compactVerify, decodeProtectedHeader } from 'jose';
import { SIGNATURES } from './bundle.js';
import { BundleSignatureError } from './errors.js';
import { hashBundleFile } from './filehash.js';
import type { TarEntry } from './tar.js';

/** OPA's default key id (`--verification-key-id` and the signer's `kid`). */
export const DEFAULT_KEY_ID = 'default';
const HASH_ALGORITHM = 'SHA-256';

export interface SignOptions {
  privateKeyPem: string;
  /** JWS algorithm; default from the key: RS256, ES256/ES384/ES512 by curve, EdDSA. */
  alg?: string;
  keyId?: string;
  scope?: string;
}

/** One trusted bundle-signing key, as an entry of OPA's `keys` config. */
export interface VerificationKey {
  /** The key id a signature must name to be verified with this key. */
  keyId: string;
  publicKeyPem: string;
  /** The scope a signature by this key must carry (overrides VerifyOptions.scope). */
  scope?: string;
}

/**
 * Either one key (`publicKeyPem`, with `keyId` default "default") or a key set (`keys`), from
 * which the signature's `kid` header picks the key, as OPA's `keys` + `bundles[].signing` do.
 */
export interface VerifyOptions {
  publicKeyPem?: string;
  keys?: readonly VerificationKey[];
  /**
   * With one key: the key id the signature must name (header `kid`, or the deprecated `keyid`
   * claim). With a key set: the key used when the signature names none (OPA's `signing.keyid`).
   */
  keyId?: string;
  /** The scope the signature must carry (OPA compares it exactly; none means none). */
  scope?: string;
}

/** The trusted keys of `opts`, keyed by id. */
function keySet(opts: VerifyOptions): Map<string, VerificationKey> {
  if (opts.keys) return new Map(opts.keys.map((k) => [k.keyId, k]));
  if (opts.publicKeyPem === undefined) fail('no public key was given to verify the bundle signature with');
  const keyId = opts.keyId ?? DEFAULT_KEY_ID;
  return new Map([[keyId, { keyId, publicKeyPem: opts.publicKeyPem }]]);
}

interface FileInfo {
  name: string;
  hash: string;
  algorithm: string;
}

const CURVE_ALG: Record<string, string> = { prime256v1: 'ES256', secp384r1: 'ES384', secp521r1: 'ES512' };

/** The JWS algorithms a key may sign with, preferred first. */
function algorithmsFor(key: KeyObject): string[] {
  switch (key.asymmetricKeyType) {
    case 'rsa':
      return ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512'];
    case 'rsa-pss':
      return ['PS256', 'PS384', 'PS512'];
    case 'ec': {
      const alg = CURVE_ALG[key.asymmetricKeyDetails?.namedCurve ?? ''];
      return alg ? [alg] : [];
    }
    case 'ed25519':
      return ['EdDSA'];
    default:
      return [];
  }
}

function keyFrom(pem: string, kind: 'private' | 'public'): KeyObject {
  try {
    return kind === 'private' ? createPrivateKey(pem) : createPublicKey(pem);
  } catch (err) {
    throw new BundleSignatureError(`the ${kind} key is not a PEM ${kind} key: ${(err as Error).message}`, { cause: err });
  }
}

/** Signs bundle files (any `.signatures.json` among them is ignored) and returns the JWS. */
export async function signFiles(files: TarEntry[], opts: SignOptions): Promise<string> {
  const key = keyFrom(opts.privateKeyPem, 'private');
  const allowed = algorithmsFor(key);
  const alg = opts.alg ?? allowed[0];
  if (!alg || !allowed.includes(alg)) {
    throw new BundleSignatureError(`cannot sign with a ${key.asymmetricKeyType} key using ${alg ?? 'any supported algorithm'}`);
  }
  const keyId = opts.keyId ?? DEFAULT_KEY_ID;
  const payload: Record<string, unknown> = {
    files: files
      .filter((f) => f.name !== SIGNATURES)
      .map((f): FileInfo => ({ name: f.name, hash: hashBundleFile(f.name, f.bytes, HASH_ALGORITHM), algorithm: HASH_ALGORITHM })),
    keyid: keyId,
  };
  if (opts.scope) payload.scope = opts.scope;
  return new CompactSign(new TextEncoder().encode(JSON.stringify(payload)))
    .setProtectedHeader({ alg, kid: keyId, typ: 'JWT' })
    .sign(key);
}

/** `.signatures.json` contents for a JWS. */
export function signaturesFile(jws: string): TarEntry {
  return { name: SIGNATURES, bytes: new TextEncoder().encode(JSON.stringify({ signatures: [jws] })) };
}

function fail(message: string, file?: string): never {
  throw new BundleSignatureError(message, file ? { file } : undefined);
}

function readJws(bytes: Uint8Array | undefined): string {
  if (!bytes) fail('the bundle is not signed: .signatures.json is missing', SIGNATURES);
  let doc: unknown;
  try {
    doc = JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    fail('.signatures.json is not valid JSON', SIGNATURES);
  }
  const sigs = (doc as { signatures?: unknown })?.signatures;
  if (!Array.isArray(sigs) || sigs.length === 0) fail('.signatures.json holds no signature (expected exactly one JWS)', SIGNATURES);
  if (sigs.length > 1) fail('.signatures.json holds more than one signature (expected exactly one JWS)', SIGNATURES);
  if (typeof sigs[0] !== 'string') fail('.signatures.json signature is not a compact JWS string', SIGNATURES);
  return sigs[0];
}

function parseFiles(claim: unknown): Map<string, FileInfo> {
  if (!Array.isArray(claim)) fail('the signature has no "files" claim listing the bundle files', SIGNATURES);
  const files = new Map<string, FileInfo>();
  for (const f of claim as unknown[]) {
    const info = f as Partial<FileInfo>;
    if (typeof info?.name !== 'string' || typeof info.hash !== 'string' || typeof info.algorithm !== 'string') {
      fail('the signature\'s "files" claim has an entry without name, hash and algorithm', SIGNATURES);
    }
    files.set(info.name.replace(/^\/+/, ''), info as FileInfo);
  }
  return files;
}

/**
 * Verifies a bundle's `.signatures.json` against its files. Throws BundleSignatureError naming the
 * file or claim at fault; returns the verified key id.
 */
export async function verifyFiles(files: Map<string, Uint8Array>, opts: VerifyOptions): Promise<string> {
  const jws = readJws(files.get(SIGNATURES));
  let header: ReturnType<typeof decodeProtectedHeader>;
  try {
    header = decodeProtectedHeader(jws);
  } catch {
    fail('.signatures.json does not hold a compact JWS', SIGNATURES);
  }
  const trusted = keySet(opts);
  // The header's kid picks the key; without one, the configured default key id (OPA's behaviour).
  const headerKid = typeof header.kid === 'string' && header.kid ? header.kid : undefined;
  const wanted = headerKid ?? opts.keyId ?? DEFAULT_KEY_ID;
  const chosen = trusted.get(wanted);
  if (!chosen) {
    const have = [...trusted.keys()].map((k) => JSON.stringify(k)).join(', ');
    fail(`the signature's key id ("kid") is ${JSON.stringify(wanted)}, expected ${trusted.size === 1 ? have : `one of ${have}`}`, SIGNATURES);
  }
  const key = keyFrom(chosen.publicKeyPem, 'public');
  const allowed = algorithmsFor(key);
  if (typeof header.alg !== 'string' || !allowed.includes(header.alg)) {
    fail(`the signature's "alg" header ${JSON.stringify(header.alg)} does not fit the ${key.asymmetricKeyType} verification key ${JSON.stringify(chosen.keyId)}`, SIGNATURES);
  }
  let payload: Record<string, unknown>;
  try {
    const verified = await compactVerify(jws, key, { algorithms: allowed });
    payload = JSON.parse(new TextDecoder().decode(verified.payload)) as Record<string, unknown>;
  } catch (err) {
    throw new BundleSignatureError(`the bundle signature does not verify with the public key ${JSON.stringify(chosen.keyId)} (signed by another key, or altered)`, { cause: err, file: SIGNATURES });
  }
  const claimedKid = headerKid ?? payload.keyid;
  if (claimedKid !== undefined && claimedKid !== chosen.keyId) fail(`the signature's key id ("kid") is ${JSON.stringify(claimedKid)}, expected ${JSON.stringify(chosen.keyId)}`, SIGNATURES);
  const expectedScope = chosen.scope ?? opts.scope ?? '';
  const scope = payload.scope ?? '';
  if (scope !== expectedScope) fail(`the signature's "scope" claim ${JSON.stringify(scope)} does not match the expected scope ${JSON.stringify(expectedScope)} of key ${JSON.stringify(chosen.keyId)}`, SIGNATURES);

  const listed = parseFiles(payload.files);
  for (const [name, bytes] of files) {
    if (name === SIGNATURES) continue;
    const info = listed.get(name);
    if (!info) fail(`file ${name} is in the bundle but not covered by its signature (added after signing)`, name);
    if (hashBundleFile(name, bytes, info.algorithm) !== info.hash.toLowerCase()) {
      fail(`file ${name} does not match the digest in the signature (changed after signing)`, name);
    }
    listed.delete(name);
  }
  const missing = [...listed.keys()];
  if (missing.length) fail(`file ${missing.join(', ')} is listed in the signature but missing from the bundle`, missing[0]);
  return chosen.keyId;
}
