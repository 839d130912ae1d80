/**
 * Inclusion proofs: one record, its audit path and its segment's signed checkpoint, so a single
 * record can be shown to be in the log without handing over the rest (RFC 6962 §2.1.1).
 */
import { verifyCheckpoint } from './checkpoint.js';
import { AuditReadError } from './errors.js';
import type { TrustedKey } from './keys.js';
import { inclusionPath, leafHash, rootFromPath } from './merkle.js';
import { parseRecord, type AuditRecord } from './record.js';
import { storedCheckpoints, type Store } from './store.js';

export interface InclusionProof {
  v: 1;
  seq: number;
  leaf_index: number;
  /** The record's canonical JSON text, exactly as hashed. */
  record: string;
  /** Sibling hashes from the leaf up (hex). */
  path: string[];
  /** The segment's checkpoint (compact JWS): its payload holds the root and tree size. */
  checkpoint: string;
}

export function proveInclusion(store: Store, seq: number): InclusionProof {
  for (const { jws, checkpoint } of storedCheckpoints(store)) {
    if (checkpoint === null || seq < checkpoint.payload.first || seq > checkpoint.payload.last) continue;
    const { first, last } = checkpoint.payload;
    const records = [...store.records.getRange({ start: first, end: last + 1 })].map(({ value }) => value);
    const leaves = records.map(leafHash);
    return { v: 1, seq, leaf_index: seq - first, record: records[seq - first]!.toString('utf8'), path: inclusionPath(leaves, seq - first).map((h) => h.toString('hex')), checkpoint: jws };
  }
  throw new AuditReadError(`record ${seq} is not in a sealed segment of the audit log at ${store.dir}`);
}

/** Checks a proof: the checkpoint's signature, the record's number, and the path up to the signed root. */
export async function verifyInclusion(proof: InclusionProof, keys: readonly TrustedKey[]): Promise<{ ok: true; record: AuditRecord; segment: number } | { ok: false; message: string }> {
  const checked = await verifyCheckpoint(proof.checkpoint, keys);
  if (typeof checked === 'string') return { ok: false, message: `the proof's checkpoint is rejected: ${checked}` };
  const record = parseRecord(Buffer.from(proof.record, 'utf8'));
  if (typeof record === 'string') return { ok: false, message: `the proof's record is not a record: ${record}` };
  const p = checked.payload;
  if (record.seq !== proof.seq || record.seq - p.first !== proof.leaf_index) return { ok: false, message: `the proof's record is number ${record.seq}, not ${proof.seq} at index ${proof.leaf_index} of segment ${p.segment} (records ${p.first}..${p.last})` };
  const root = rootFromPath(leafHash(Buffer.from(proof.record, 'utf8')), proof.leaf_index, p.tree_size, proof.path.map((h) => Buffer.from(h, 'hex')));
  if (root === null || root.toString('hex') !== p.root) return { ok: false, message: `record ${proof.seq} is not included: its audit path does not lead to segment ${p.segment}'s signed root` };
  return { ok: true, record, segment: p.segment };
}
