/**
 * Offline verification (docs/audit-format.md §5), over any source of segments: the LMDB store or
 * exported files. It stops at the first fault and names the record or segment and the kind of
 * tampering (changed, deleted, inserted, reordered, missing segment, untrusted key, truncated tail).
 */
import { checkpointHash, verifyCheckpoint, type CheckpointPayload } from './checkpoint.js';
import type { TrustedKey } from './keys.js';
import { leafHash, merkleRoot } from './merkle.js';
import { GENESIS_PREV, parseRecord, type AuditRecord } from './record.js';

/** One stored record as read, with where it was found (for messages) and its storage key, if any. */
export interface Entry {
  bytes: Buffer;
  where: string;
  key?: number;
}

/** A segment as a source presents it: its checkpoint (null when missing) and its records in stored order. */
export interface SegmentInput {
  label: string;
  checkpoint: { jws: string; where: string } | null;
  entries: Entry[];
}

export type LogItem = { kind: 'segment'; segment: SegmentInput } | { kind: 'unsealed'; entries: Entry[] };
export type LogInput = Iterable<LogItem>;

export type FaultKind =
  | 'changed' | 'deleted' | 'inserted' | 'reordered' | 'not-a-record'
  | 'missing-segment' | 'bad-checkpoint' | 'untrusted-key' | 'truncated' | 'rewritten';

export interface Fault {
  kind: FaultKind;
  message: string;
  segment?: number;
  seq?: number;
}

export interface VerifySummary {
  logId: string | null;
  /** First and last sealed segment verified, null when none. */
  segments: { first: number; last: number } | null;
  records: number;
  /** Records after the last checkpoint, checked for the hash chain only. */
  unsealed: number;
  kids: string[];
  /** request.decision records with no request.outcome (the gateway stopped between the two). */
  decisionsWithoutOutcome: Array<{ request_id: string; seq: number }>;
  /** Whether the auditor's checkpoint was given and found, byte for byte. */
  lastCheckpointMatched: boolean | null;
}

export type VerifyResult = { ok: true; summary: VerifySummary } | { ok: false; fault: Fault; summary: VerifySummary };

export interface VerifyOptions {
  keys: readonly TrustedKey[];
  /** The auditor's last checkpoint (compact JWS): the log must contain it, byte for byte. */
  lastCheckpoint?: string;
  /** Require the log to start at segment 0 (a whole store); an export of a range may start later. */
  fromGenesis: boolean;
  onProgress?: (records: number) => void;
}

class Failed extends Error {
  constructor(readonly fault: Fault) {
    super(fault.message);
  }
}

export async function verifyLog(input: LogInput, opts: VerifyOptions): Promise<VerifyResult> {
  const v = new Verifier(opts);
  try {
    for (const item of input) {
      if (item.kind === 'segment') await v.segment(item.segment);
      else v.unsealed(item.entries);
    }
    await v.finish();
    return { ok: true, summary: v.summary() };
  } catch (err) {
    if (err instanceof Failed) return { ok: false, fault: err.fault, summary: v.summary() };
    throw err;
  }
}

class Verifier {
  private logId: string | null = null;
  private nextSegment: number | null = null;
  private firstSegment: number | null = null;
  private prevCheckpoint: string | null = null;
  private nextSeq: number | null = null;
  private prevHash: string | null = null;
  private records = 0;
  private unsealedCount = 0;
  private readonly kids = new Set<string>();
  private readonly checkpointHashes = new Map<number, string>();
  private readonly pending = new Map<string, number>();
  private lastMatched: boolean | null = null;

  constructor(private readonly opts: VerifyOptions) {
    if (opts.fromGenesis) {
      this.nextSegment = 0;
      this.nextSeq = 0;
      this.prevHash = GENESIS_PREV;
    }
  }

  async segment(s: SegmentInput): Promise<void> {
    if (s.checkpoint === null) throw new Failed({ kind: 'missing-segment', message: `${s.label}: its checkpoint is missing` });
    const checked = await verifyCheckpoint(s.checkpoint.jws, this.opts.keys);
    if (typeof checked === 'string') {
      const kind = checked.includes('not a trusted key') ? 'untrusted-key' : 'bad-checkpoint';
      throw new Failed({ kind, message: `${s.label}: the checkpoint (${s.checkpoint.where}) is rejected: ${checked}` });
    }
    const p = checked.payload;
    this.kids.add(checked.kid);
    const name = `segment ${p.segment}`;
    if (this.logId !== null && p.log_id !== this.logId) throw new Failed({ kind: 'bad-checkpoint', segment: p.segment, message: `${name} belongs to log ${p.log_id}, not ${this.logId}` });
    this.logId = p.log_id;
    if (this.nextSegment === null) this.startAt(p, s.entries[0]);
    if (p.segment > this.nextSegment!) {
      const missing = this.nextSegment === p.segment - 1 ? `segment ${this.nextSegment} is missing` : `segments ${this.nextSegment}..${p.segment - 1} are missing`;
      throw new Failed({ kind: 'missing-segment', segment: this.nextSegment!, message: `${missing}: the checkpoint of segment ${p.segment} follows ${this.nextSegment === 0 ? 'the start of the log' : `segment ${this.nextSegment! - 1}`}` });
    }
    if (p.segment < this.nextSegment!) throw new Failed({ kind: 'inserted', segment: p.segment, message: `${name} appears again after segment ${this.nextSegment! - 1}` });
    if (p.prev_checkpoint !== this.prevCheckpoint) throw new Failed({ kind: 'rewritten', segment: p.segment, message: `${name}'s checkpoint does not chain to the previous checkpoint (prev_checkpoint ${p.prev_checkpoint} ≠ ${this.prevCheckpoint})` });
    if (p.first !== this.nextSeq || p.tree_size !== p.last - p.first + 1) {
      throw new Failed({ kind: 'bad-checkpoint', segment: p.segment, message: `${name}'s checkpoint covers records ${p.first}..${p.last} (tree size ${p.tree_size}), but the previous segment ended at record ${this.nextSeq! - 1}` });
    }
    const leaves = this.walk(s.entries, p.last);
    if (leaves.length !== p.tree_size) {
      throw new Failed({ kind: 'deleted', segment: p.segment, seq: this.nextSeq!, message: `record ${this.nextSeq} was deleted: ${name} ends at record ${this.nextSeq! - 1}, but its checkpoint says ${p.last}` });
    }
    if (!merkleRoot(leaves).equals(Buffer.from(p.root, 'hex'))) {
      throw new Failed({ kind: 'changed', segment: p.segment, seq: p.last, message: `record ${p.last} was changed: ${name}'s Merkle root over records ${p.first}..${p.last} does not match its signed checkpoint` });
    }
    this.prevCheckpoint = checkpointHash(checked.jws);
    this.checkpointHashes.set(p.segment, this.prevCheckpoint);
    this.firstSegment ??= p.segment;
    this.nextSegment = p.segment + 1;
  }

  unsealed(entries: Entry[]): void {
    if (this.nextSeq === null && entries[0]) {
      // An export holds sealed segments only; a bare store with no checkpoint starts at genesis.
      this.nextSeq = 0;
      this.prevHash = GENESIS_PREV;
    }
    this.unsealedCount += this.walk(entries, Infinity).length;
  }

  /** An export of a later range starts mid-log: take its first checkpoint and record as given. */
  private startAt(p: CheckpointPayload, first: Entry | undefined): void {
    this.nextSegment = p.segment;
    this.prevCheckpoint = p.prev_checkpoint;
    this.nextSeq = p.first;
    const r = first ? parseRecord(first.bytes) : null;
    this.prevHash = r !== null && typeof r !== 'string' ? r.prev : GENESIS_PREV;
  }

  /**
   * Walks records in stored order, checking number and hash chain; returns their leaf hashes.
   * Too few records are left to the caller's count check.
   */
  private walk(entries: Entry[], last: number): Buffer[] {
    const leaves: Buffer[] = [];
    const parsed = entries.map((e) => parseRecord(e.bytes));
    const seen = new Map<number, string>();
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i]!;
      const r = parsed[i]!;
      const expected = this.nextSeq!;
      if (typeof r === 'string') throw new Failed({ kind: r === 'it is not canonical JSON' ? 'changed' : 'not-a-record', seq: e.key ?? expected, message: `the record at ${e.where} was changed: ${r}` });
      const later = r.seq > expected ? parsed.findIndex((x, j) => j > i && typeof x !== 'string' && x.seq === expected) : -1;
      if (r.seq !== expected && later < 0 && e.key === expected) {
        // The store's key says where it belongs: the record there now claims another number.
        throw new Failed({ kind: 'changed', seq: expected, message: `the record at ${e.where} was changed: it claims to be record ${r.seq}` });
      }
      if (r.seq < expected) {
        const other = seen.get(r.seq);
        throw new Failed({ kind: 'inserted', seq: r.seq, message: `a record was inserted at ${e.where}: it claims to be record ${r.seq}, which ${other ?? 'an earlier record'} already is` });
      }
      if (r.seq > expected) {
        if (later >= 0) throw new Failed({ kind: 'reordered', seq: expected, message: `records were reordered: record ${r.seq} (${e.where}) comes before record ${expected} (${entries[later]!.where})` });
        const which = r.seq === expected + 1 ? `record ${expected} was deleted` : `records ${expected}..${r.seq - 1} were deleted`;
        throw new Failed({ kind: 'deleted', seq: expected, message: `${which}: record ${r.seq} (${e.where}) follows ${expected === 0 ? 'the start of the log' : `record ${expected - 1}`}` });
      }
      if (e.key !== undefined && e.key !== r.seq) throw new Failed({ kind: 'inserted', seq: r.seq, message: `a record was inserted at ${e.where}: it claims to be record ${r.seq}` });
      if (r.prev !== this.prevHash) {
        throw new Failed({ kind: 'changed', seq: expected - 1, message: `record ${expected - 1} was changed: its hash no longer matches the prev hash in record ${expected} (${e.where})` });
      }
      if (r.seq > last) throw new Failed({ kind: 'inserted', seq: r.seq, message: `a record was inserted at ${e.where}: the segment's checkpoint ends at record ${last}` });
      const leaf = leafHash(e.bytes);
      leaves.push(leaf);
      seen.set(r.seq, e.where);
      this.prevHash = leaf.toString('hex');
      this.nextSeq = expected + 1;
      this.note(r);
    }
    return leaves;
  }

  private note(r: AuditRecord): void {
    this.records++;
    if (r.event.type === 'request.decision') this.pending.set(r.event.request_id, r.seq);
    else if (r.event.type === 'request.outcome') this.pending.delete(r.event.request_id);
    if (this.records % 10_000 === 0) this.opts.onProgress?.(this.records);
  }

  async finish(): Promise<void> {
    this.opts.onProgress?.(this.records);
    if (this.opts.lastCheckpoint === undefined) return;
    const given = await verifyCheckpoint(this.opts.lastCheckpoint.trim(), this.opts.keys);
    if (typeof given === 'string') throw new Failed({ kind: 'bad-checkpoint', message: `the given last checkpoint is rejected: ${given}` });
    const g = given.payload;
    if (this.logId !== null && g.log_id !== this.logId) throw new Failed({ kind: 'bad-checkpoint', message: `the given last checkpoint belongs to log ${g.log_id}, not ${this.logId}` });
    const found = this.checkpointHashes.get(g.segment);
    if (found === undefined) {
      const end = this.nextSegment === null || this.nextSegment === this.firstSegment ? 'the log has no sealed segment' : `the log ends at segment ${this.nextSegment - 1} (record ${this.nextSeq! - 1 - this.unsealedCount})`;
      if (this.firstSegment !== null && g.segment < this.firstSegment) throw new Failed({ kind: 'truncated', segment: g.segment, message: `the given last checkpoint is for segment ${g.segment}, before the first segment here (${this.firstSegment})` });
      throw new Failed({ kind: 'truncated', segment: g.segment, seq: g.last, message: `the log is truncated: the given last checkpoint is for segment ${g.segment} (records ${g.first}..${g.last}), but ${end}` });
    }
    if (found !== checkpointHash(given.jws)) throw new Failed({ kind: 'rewritten', segment: g.segment, message: `segment ${g.segment}'s checkpoint differs from the given last checkpoint: the log was rewritten from segment ${g.segment} on` });
    this.lastMatched = true;
  }

  summary(): VerifySummary {
    return {
      logId: this.logId,
      segments: this.firstSegment === null ? null : { first: this.firstSegment, last: this.nextSegment! - 1 },
      records: this.records,
      unsealed: this.unsealedCount,
      kids: [...this.kids],
      decisionsWithoutOutcome: [...this.pending].map(([request_id, seq]) => ({ request_id, seq })),
      lastCheckpointMatched: this.opts.lastCheckpoint === undefined ? null : this.lastMatched,
    };
  }
}
