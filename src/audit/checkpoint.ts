/**
 * Segment checkpoints (docs/audit-format.md §3): a canonical JSON payload naming a segment's record
 * range and Merkle root, chained to the previous checkpoint by hash, signed as an Ed25519 compact JWS.
 */
import { createHash, type KeyObject } from 'node:crypto';
import { CompactSign, compactVerify, decodeProtectedHeader } from 'jose';
import { canonicalBytes } from './canonical.js';
import type { TrustedKey } from './keys.js';

export const CHECKPOINT_TYP = 'regate-audit-checkpoint';

export interface CheckpointPayload {
  first: number;
  last: number;
  log_id: string;
  prev_checkpoint: string | null;
  root: string;
  sealed_at: string;
  segment: number;
  tree_size: number;
  v: number;
}

/** A sealed segment's checkpoint: the compact JWS and its decoded payload. */
export interface Checkpoint {
  jws: string;
  kid: string;
  payload: CheckpointPayload;
}

export async function signCheckpoint(payload: CheckpointPayload, key: KeyObject, kid: string): Promise<Checkpoint> {
  const jws = await new CompactSign(canonicalBytes(payload)).setProtectedHeader({ alg: 'EdDSA', kid, typ: CHECKPOINT_TYP }).sign(key);
  return { jws, kid, payload };
}

/** SHA-256 (hex) of the compact JWS's ASCII bytes: what the next checkpoint's prev_checkpoint holds. */
export function checkpointHash(jws: string): string {
  return createHash('sha256').update(jws, 'ascii').digest('hex');
}

/** Decodes without verifying, for reading our own store; returns null when it is not a checkpoint. */
export function decodeCheckpoint(jws: string): Checkpoint | null {
  try {
    const kid = decodeProtectedHeader(jws).kid;
    const payload = JSON.parse(Buffer.from(jws.split('.')[1] ?? '', 'base64url').toString('utf8')) as CheckpointPayload;
    if (typeof kid !== 'string' || !isPayload(payload)) return null;
    return { jws, kid, payload };
  } catch {
    return null;
  }
}

function isPayload(p: CheckpointPayload): boolean {
  return (
    typeof p === 'object' && p !== null &&
    [p.first, p.last, p.segment, p.tree_size].every((n) => Number.isSafeInteger(n) && n >= 0) &&
    typeof p.log_id === 'string' && typeof p.root === 'string' && typeof p.sealed_at === 'string' &&
    (p.prev_checkpoint === null || typeof p.prev_checkpoint === 'string')
  );
}

/**
 * Verifies a checkpoint against the trusted keys: the key named by `kid` first, then every other
 * trusted key (a checkpoint counts if any trusted key signed it). Returns the reason when it fails.
 */
export async function verifyCheckpoint(jws: string, keys: readonly TrustedKey[]): Promise<Checkpoint | string> {
  const decoded = decodeCheckpoint(jws);
  if (decoded === null) return 'it is not a regate checkpoint (JWS with a kid and a checkpoint payload)';
  const header = decodeProtectedHeader(jws);
  if (header.alg !== 'EdDSA' || header.typ !== CHECKPOINT_TYP) return `its header is alg ${String(header.alg)}, typ ${String(header.typ)}, not EdDSA ${CHECKPOINT_TYP}`;
  const named = keys.filter((k) => k.kid === decoded.kid);
  for (const k of [...named, ...keys.filter((k) => k.kid !== decoded.kid)]) {
    try {
      await compactVerify(jws, k.key, { algorithms: ['EdDSA'] });
      return decoded;
    } catch {
      // try the next trusted key
    }
  }
  return named.length > 0
    ? `its signature does not verify with trusted key ${decoded.kid}`
    : `it is signed by key ${decoded.kid}, which is not a trusted key (trusted: ${keys.map((k) => k.kid).join(', ') || 'none'})`;
}
