/**
 * Checkpoints (docs/audit-format.md §3). Format 2, written since this version: a C2SP
 * tlog-checkpoint signed note over the whole log (origin, tree size, root hash; Ed25519 note
 * signature named after the origin; witnesses' cosignatures appended). Format 1, read only so logs
 * already written stay verifiable: a compact JWS over one segment's record range and root, chained
 * to the previous checkpoint by hash.
 */
import { createHash, type KeyObject } from 'node:crypto';
import { compactVerify, decodeProtectedHeader } from 'jose';
import { hasSignature, noteKeyId, parseNote, signatureLine, strictBase64, validName, type NoteSignature } from './note.js';
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

/** A format 1 checkpoint: the compact JWS and its decoded payload. */
export interface Checkpoint {
  v: 1;
  jws: string;
  kid: string;
  payload: CheckpointPayload;
}

/** A format 2 checkpoint: a signed note over the whole log's tree head. */
export interface NoteCheckpoint {
  v: 2;
  /** The whole note as stored: text, empty line, signature lines (the log's, then cosignatures). */
  note: string;
  /** The note text: `origin\nsize\nbase64(root)\n`, what every signature covers. */
  text: string;
  origin: string;
  size: number;
  root: Buffer;
  signatures: NoteSignature[];
}

export type AnyCheckpoint = Checkpoint | NoteCheckpoint;

/** The text of a format 2 checkpoint. */
export function checkpointText(origin: string, size: number, root: Buffer): string {
  return `${origin}\n${size}\n${root.toString('base64')}\n`;
}

/** Signs the tree head as a note; the key name is the origin (tlog-checkpoint: it SHOULD match). */
export function signNoteCheckpoint(origin: string, size: number, root: Buffer, key: KeyObject): string {
  const text = checkpointText(origin, size, root);
  return `${text}\n${signatureLine(text, origin, key)}`;
}

/** Parses a format 2 checkpoint strictly (regate writes no extension lines); returns why it is not one. */
export function parseNoteCheckpoint(note: string): NoteCheckpoint | string {
  const parsed = parseNote(note);
  if (typeof parsed === 'string') return `it is not a signed note: ${parsed}`;
  const lines = parsed.text.slice(0, -1).split('\n');
  if (lines.length !== 3) return `its text has ${lines.length} lines, not 3 (origin, tree size, root hash)`;
  const [origin, sizeText, rootText] = lines as [string, string, string];
  if (!validName(origin)) return 'its origin line is empty or holds a space or +';
  if (!/^(0|[1-9][0-9]*)$/.test(sizeText) || !Number.isSafeInteger(Number(sizeText))) return `its tree size "${sizeText}" is not a decimal number without leading zeros`;
  const root = strictBase64(rootText);
  if (!root || root.length !== 32) return `its root hash "${rootText}" is not 32 bytes in base64`;
  return { v: 2, note, text: parsed.text, origin, size: Number(sizeText), root, signatures: parsed.signatures };
}

/** SHA-256 (hex) of the compact JWS's ASCII bytes: what the next format 1 checkpoint's prev_checkpoint holds. */
export function checkpointHash(jws: string): string {
  return createHash('sha256').update(jws, 'ascii').digest('hex');
}

/** Decodes a format 1 JWS without verifying; returns null when it is not a checkpoint. */
export function decodeCheckpoint(jws: string): Checkpoint | null {
  try {
    const parts = jws.split('.');
    // One encoding per value: base64url without padding whose decoding re-encodes to the same text.
    if (parts.length !== 3 || parts.some((p) => !/^[A-Za-z0-9_-]+$/.test(p) || Buffer.from(p, 'base64url').toString('base64url') !== p)) return null;
    const kid = decodeProtectedHeader(jws).kid;
    const payload = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8')) as CheckpointPayload;
    if (typeof kid !== 'string' || !isPayload(payload)) return null;
    return { v: 1, jws, kid, payload };
  } catch {
    return null;
  }
}

/** A stored checkpoint of either format, decoded without verifying; the reason when it is neither. */
export function decodeAnyCheckpoint(text: string): AnyCheckpoint | string {
  if (text.startsWith('eyJ')) return decodeCheckpoint(text) ?? 'it is not a format 1 checkpoint (a JWS with a kid and a checkpoint payload, each part in canonical base64url)';
  return parseNoteCheckpoint(text);
}

/** The text an auditor's checkpoint file holds: a bare note or JWS, or `{"jws": …}` / `{"note": …}`. */
export function checkpointFileText(text: string): string | null {
  const trimmed = text.trimStart();
  if (!trimmed.startsWith('{')) return trimmed.startsWith('eyJ') ? trimmed.trim() : text;
  try {
    const json = JSON.parse(trimmed) as { jws?: unknown; note?: unknown };
    if (typeof json.note === 'string') return json.note;
    if (typeof json.jws === 'string') return json.jws;
  } catch {
    // reported by the caller
  }
  return null;
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
 * Verifies a checkpoint of either format against the trusted keys. Returns the checkpoint and the
 * kid of the key that signed it, or the reason it fails.
 */
export async function verifyAnyCheckpoint(text: string, keys: readonly TrustedKey[]): Promise<{ checkpoint: AnyCheckpoint; kid: string } | string> {
  const decoded = decodeAnyCheckpoint(text);
  if (typeof decoded === 'string') return decoded;
  if (decoded.v === 1) {
    const r = await verifyCheckpoint(text, keys);
    return typeof r === 'string' ? r : { checkpoint: r, kid: r.kid };
  }
  for (const k of keys) {
    const ok = hasSignature(decoded, decoded.origin, k.key);
    if (ok === true) return { checkpoint: decoded, kid: k.kid };
    if (ok === false) return `its signature does not verify with trusted key ${k.kid}`;
  }
  const ids = decoded.signatures.filter((s) => s.name === decoded.origin).map((s) => s.keyId.toString(16).padStart(8, '0'));
  const trusted = keys.map((k) => `${k.kid} (key id ${noteKeyId(decoded.origin, 1, k.key).toString(16).padStart(8, '0')})`).join(', ') || 'none';
  return ids.length === 0
    ? `it carries no signature named ${decoded.origin}`
    : `it is signed by key id ${ids.join(', ')}, which is not a trusted key (trusted: ${trusted})`;
}

/**
 * Verifies a format 1 checkpoint against the trusted keys: the key named by `kid` first, then every
 * other trusted key (a checkpoint counts if any trusted key signed it). Returns the reason when it fails.
 */
export async function verifyCheckpoint(jws: string, keys: readonly TrustedKey[]): Promise<Checkpoint | string> {
  const decoded = decodeCheckpoint(jws);
  if (decoded === null) return 'it is not a regate checkpoint (JWS with a kid and a checkpoint payload, each part in canonical base64url)';
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
