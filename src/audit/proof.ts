/**
 * Proofs an auditor can check alone (docs/audit-format.md §4): inclusion (one record is in the tree
 * a signed checkpoint names, RFC 6962 §2.1.1) and consistency (a later checkpoint's tree extends an
 * earlier one's, RFC 9162 §2.1.4). Each proof is checked with the trusted keys as it is made, so a
 * tampered store yields an error naming what is wrong rather than a proof that fails later.
 */
import { verifyAnyCheckpoint, type AnyCheckpoint, type NoteCheckpoint } from './checkpoint.js';
import { AuditReadError } from './errors.js';
import type { TrustedKey } from './keys.js';
import { checkConsistency, Frontier, leafHash, RangeHasher, rootFromPath } from './merkle.js';
import { parseRecord, type AuditRecord } from './record.js';
import { checkpointEnd, storedCheckpoints, type Store } from './store.js';
import { readerOf, type LogReader } from './log-reader.js';

/** Format 1: a record in one segment's tree (its JWS checkpoint names the segment's root). */
export interface LegacyInclusionProof {
  v: 1;
  seq: number;
  leaf_index: number;
  record: string;
  path: string[];
  checkpoint: string;
}

export interface InclusionProof {
  v: 2;
  seq: number;
  /** The record's canonical JSON text, exactly as hashed. */
  record: string;
  /** Sibling hashes from the leaf up (hex), in the tree of the checkpoint's size. */
  path: string[];
  /** The checkpoint (signed note) whose tree holds the record. */
  checkpoint: string;
  /** A consistency proof between this checkpoint and one the auditor kept, when asked for. */
  consistency?: ConsistencyProof;
}

export interface ConsistencyProof {
  v: 2;
  old_size: number;
  new_size: number;
  old_checkpoint: string;
  new_checkpoint: string;
  /** RFC 6962 PROOF(old_size, D[new_size]) node hashes (hex), in order. */
  proof: string[];
}

type Checked = { ok: true; checkpoint: NoteCheckpoint } | { ok: false; message: string };

async function noteCheckpoint(text: string, keys: readonly TrustedKey[], what: string): Promise<Checked> {
  const r = await verifyAnyCheckpoint(text.trim().startsWith('eyJ') ? text.trim() : text, keys);
  if (typeof r === 'string') return { ok: false, message: `${what} is rejected: ${r}` };
  if (r.checkpoint.v !== 2) return { ok: false, message: `${what} is a format 1 (segment) checkpoint; consistency proofs need format 2 checkpoints over the whole log` };
  return { ok: true, checkpoint: r.checkpoint };
}

/** The tree's compact range at `size` and the leaves from there to `end`, read from the store. */
function hasherFor(store: Store, size: number, end: number): RangeHasher {
  let frontier: Frontier | null = null;
  for (const s of storedCheckpoints(store)) {
    if (typeof s.checkpoint !== 'string' && checkpointEnd(s.checkpoint) === size) {
      const kept = store.frontiers.getBinary(s.key);
      if (kept) frontier = Frontier.decode(size, kept);
    }
  }
  if (frontier === null) {
    frontier = new Frontier();
    for (const { value } of store.records.getRange({ start: 0, end: size })) frontier.push(leafHash(value));
    if (frontier.size !== size) throw new AuditReadError(`the audit log at ${store.dir} holds ${frontier.size} records, not the ${size} the tree needs`);
  }
  const leaves = [...store.records.getRange({ start: size, end })].map(({ value }) => leafHash(value));
  if (leaves.length !== end - size) throw new AuditReadError(`the audit log at ${store.dir} holds ${leaves.length} of records ${size}..${end - 1}: records were deleted`);
  return new RangeHasher(frontier, leaves);
}

/** The log's checkpoint of tree size `size`, or the first one after `seq` when `seq` is given, with the segment's first record. */
async function findCheckpoint(reader: LogReader, want: { size?: number; seq?: number }): Promise<{ key: number; text: string; checkpoint: AnyCheckpoint; start: number } | null> {
  // The segment ending at tree size `size` holds record size - 1: start there, not at the archive's beginning.
  for await (const s of reader.segments(want.seq ?? Math.max(0, want.size! - 1))) {
    if (typeof s.checkpoint === 'string') throw new AuditReadError(`the checkpoint of segment ${s.segment} in ${reader.where} is not a checkpoint: ${s.checkpoint}`);
    if (want.size !== undefined ? s.end === want.size : want.seq! < s.end && want.seq! >= s.first) return { key: s.segment, text: s.text, checkpoint: s.checkpoint, start: s.first };
  }
  return null;
}

/**
 * Proves that record `seq` is in the log (the first checkpoint covering it), checked before it is
 * returned. `source` is the live store, or a LogReader over the archive and the live store.
 */
export async function proveInclusion(source: Store | LogReader, seq: number, keys: readonly TrustedKey[], kept?: string): Promise<InclusionProof | LegacyInclusionProof> {
  const reader = readerOf(source);
  const found = await findCheckpoint(reader, { seq });
  if (found === null) throw new AuditReadError(`record ${seq} is not in a sealed segment of the audit log at ${reader.where}${reader.prunedHint(seq)}`);
  let proof: InclusionProof | LegacyInclusionProof;
  if (found.checkpoint.v === 1) {
    const { first, last } = found.checkpoint.payload;
    const hasher = new RangeHasher(new Frontier(), await reader.leaves(first, last + 1));
    proof = { v: 1, seq, leaf_index: seq - first, record: await recordText(reader, seq), path: hasher.inclusion(seq - first).map(hex), checkpoint: found.text };
  } else {
    const size = found.checkpoint.size;
    proof = { v: 2, seq, record: await recordText(reader, seq), path: (await reader.hasher(found.start, size)).inclusion(seq, size).map(hex), checkpoint: found.text };
    if (kept !== undefined) {
      const k = await noteCheckpoint(kept, keys, 'the checkpoint you kept');
      if (!k.ok) throw new AuditReadError(k.message);
      const [a, b] = k.checkpoint.size <= size ? [kept, found.text] : [found.text, kept];
      proof.consistency = await proveConsistency(reader, a, b, keys);
    }
  }
  const checked = await verifyInclusion(proof, keys, kept);
  if (!checked.ok) throw new AuditReadError(`the audit log at ${reader.where} does not prove record ${seq}: ${checked.message}`);
  return proof;
}

async function recordText(reader: LogReader, seq: number): Promise<string> {
  const bytes = await reader.record(seq);
  if (!bytes) throw new AuditReadError(`record ${seq} is missing from the audit log at ${reader.where}`);
  return Buffer.from(bytes).toString('utf8');
}

const hex = (h: Buffer): string => h.toString('hex');

/** Proves the checkpoint `newer` extends `older` (checkpoint texts, both signed by a trusted key), from the store or a LogReader. */
export async function proveConsistency(source: Store | LogReader, older: string, newer: string, keys: readonly TrustedKey[]): Promise<ConsistencyProof> {
  const reader = readerOf(source);
  const o = await noteCheckpoint(older, keys, 'the old checkpoint');
  if (!o.ok) throw new AuditReadError(o.message);
  const n = await noteCheckpoint(newer, keys, 'the new checkpoint');
  if (!n.ok) throw new AuditReadError(n.message);
  const [m, size] = [o.checkpoint.size, n.checkpoint.size];
  if (m > size) throw new AuditReadError(`the old checkpoint (tree size ${m}) is larger than the new one (${size}): give them oldest first`);
  const nodes = m === 0 || m === size ? [] : (await reader.hasher(m, size)).consistency(m, size);
  const proof: ConsistencyProof = { v: 2, old_size: m, new_size: size, old_checkpoint: older, new_checkpoint: newer, proof: nodes.map(hex) };
  const checked = await verifyConsistency(proof, keys);
  if (!checked.ok) throw new AuditReadError(`the audit log at ${reader.where} cannot prove that tree size ${size} extends ${m}: ${checked.message}`);
  return proof;
}

/** Checks a consistency proof: both checkpoints' signatures, the same log, and the proof between their roots. */
export async function verifyConsistency(proof: ConsistencyProof, keys: readonly TrustedKey[]): Promise<{ ok: true; old: NoteCheckpoint; new: NoteCheckpoint } | { ok: false; message: string }> {
  const o = await noteCheckpoint(proof.old_checkpoint, keys, "the proof's old checkpoint");
  if (!o.ok) return o;
  const n = await noteCheckpoint(proof.new_checkpoint, keys, "the proof's new checkpoint");
  if (!n.ok) return n;
  if (o.checkpoint.origin !== n.checkpoint.origin) return { ok: false, message: `the checkpoints belong to different logs (${o.checkpoint.origin}, ${n.checkpoint.origin})` };
  if (o.checkpoint.size !== proof.old_size || n.checkpoint.size !== proof.new_size) return { ok: false, message: `the proof is for sizes ${proof.old_size} → ${proof.new_size}, but its checkpoints are for ${o.checkpoint.size} → ${n.checkpoint.size}` };
  if (!Array.isArray(proof.proof) || !proof.proof.every((h) => typeof h === 'string' && /^[0-9a-f]{64}$/.test(h))) return { ok: false, message: 'its proof is not a list of 64-hex-digit hashes' };
  const why = checkConsistency(o.checkpoint.size, n.checkpoint.size, o.checkpoint.root, n.checkpoint.root, proof.proof.map((h) => Buffer.from(h, 'hex')));
  if (why !== null) return { ok: false, message: `tree size ${n.checkpoint.size} does not extend tree size ${o.checkpoint.size}: ${why}` };
  return { ok: true, old: o.checkpoint, new: n.checkpoint };
}

/**
 * Checks an inclusion proof: the checkpoint's signature, the record's number, the path up to the
 * signed root; given a checkpoint the auditor kept, also that the proof's tree is consistent with it.
 */
export async function verifyInclusion(proof: InclusionProof | LegacyInclusionProof, keys: readonly TrustedKey[], kept?: string): Promise<{ ok: true; record: AuditRecord; treeSize: number } | { ok: false; message: string }> {
  const checked = await verifyAnyCheckpoint(typeof proof.checkpoint === 'string' && proof.checkpoint.startsWith('eyJ') ? proof.checkpoint.trim() : proof.checkpoint, keys);
  if (typeof checked === 'string') return { ok: false, message: `the proof's checkpoint is rejected: ${checked}` };
  const record = parseRecord(Buffer.from(proof.record, 'utf8'));
  if (typeof record === 'string') return { ok: false, message: `the proof's record is not a record: ${record}` };
  if (!Array.isArray(proof.path) || !proof.path.every((h) => typeof h === 'string' && /^[0-9a-f]{64}$/.test(h))) return { ok: false, message: "the proof's path is not a list of 64-hex-digit hashes" };
  const path = proof.path.map((h) => Buffer.from(h, 'hex'));
  const leaf = leafHash(Buffer.from(proof.record, 'utf8'));
  const cp = checked.checkpoint;
  if (cp.v === 1) {
    const p = cp.payload;
    const index = (proof as LegacyInclusionProof).leaf_index;
    if (record.seq !== proof.seq || record.seq - p.first !== index) return { ok: false, message: `the proof's record is number ${record.seq}, not ${proof.seq} at index ${index} of segment ${p.segment} (records ${p.first}..${p.last})` };
    const root = rootFromPath(leaf, index, p.tree_size, path);
    if (root === null || root.toString('hex') !== p.root) return { ok: false, message: `record ${proof.seq} is not included: its audit path does not lead to segment ${p.segment}'s signed root` };
    if (kept !== undefined) return { ok: false, message: 'a format 1 proof cannot be compared with a kept checkpoint' };
    return { ok: true, record, treeSize: p.tree_size };
  }
  if (record.seq !== proof.seq) return { ok: false, message: `the proof's record is number ${record.seq}, not ${proof.seq}` };
  const root = rootFromPath(leaf, record.seq, cp.size, path);
  if (root === null || !root.equals(cp.root)) return { ok: false, message: `record ${proof.seq} is not included: its audit path does not lead to the signed root of tree size ${cp.size}` };
  if (kept !== undefined) {
    const k = await noteCheckpoint(kept, keys, 'the checkpoint you kept');
    if (!k.ok) return k;
    if (k.checkpoint.size === cp.size) {
      if (!k.checkpoint.root.equals(cp.root) || k.checkpoint.origin !== cp.origin) return { ok: false, message: `the proof's checkpoint (tree size ${cp.size}) differs from the one you kept of the same size: the log was rewritten` };
    } else {
      const c = (proof as InclusionProof).consistency;
      if (!c) return { ok: false, message: `the proof's tree (size ${cp.size}) is not the one you kept (size ${k.checkpoint.size}) and it carries no consistency proof between them (prove with --checkpoint)` };
      const [a, b] = k.checkpoint.size < cp.size ? [k.checkpoint, cp] : [cp, k.checkpoint];
      const co = await verifyConsistency(c, keys);
      if (!co.ok) return { ok: false, message: `the proof's tree is not consistent with the checkpoint you kept: ${co.message}` };
      if (!co.old.root.equals(a.root) || !co.new.root.equals(b.root) || co.old.size !== a.size || co.new.size !== b.size) return { ok: false, message: "the proof's consistency proof is between other checkpoints than the proof's and the one you kept" };
    }
  }
  return { ok: true, record, treeSize: cp.size };
}

/** The consistency proof nodes from tree size `m` to `n` of the log in `store` (unchecked: the caller checks or the receiver does). */
export function consistencyNodes(store: Store, m: number, n: number): Buffer[] {
  return m === 0 || m === n ? [] : hasherFor(store, m, n).consistency(m, n);
}
