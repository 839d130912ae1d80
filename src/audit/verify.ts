/**
 * Offline verification (docs/audit-format.md §6), over any source of segments: the LMDB store or
 * exported files, streamed segment by segment (memory stays flat: one segment and the tree's compact
 * range). It stops at the first fault and names the record or segment and the kind of tampering
 * (changed, deleted, inserted, reordered, missing segment, untrusted key, truncated tail, rewrite,
 * unwitnessed). Format 2 checkpoints are checked against the root of the whole log recomputed from
 * its records; kept checkpoints (the auditor's, of any age) and witnesses' cosignatures are checked
 * against the same recomputed tree, so a rewrite re-signed with the real key is still caught.
 */
import type { KeyObject } from 'node:crypto';
import { checkpointHash, verifyAnyCheckpoint, type AnyCheckpoint, type CheckpointPayload, type NoteCheckpoint } from './checkpoint.js';
import type { TrustedKey } from './keys.js';
import { Frontier, leafHash, merkleRoot } from './merkle.js';
import { cosignature } from './note.js';
import { GENESIS_PREV, parseRecord } from './record.js';
import { scanRecord, type Envelope } from './record-scan.js';

/**
 * One stored record as read, with where it was found (for messages) and its storage key, if any.
 * A streaming source may reuse `bytes` for the next entry: the verifier is done with an entry's bytes
 * before it reads on (only to report a fault does it read ahead).
 */
export interface Entry {
  bytes: Buffer;
  where: string;
  key?: number;
}

/** A segment as a source presents it: its number, checkpoint (null when missing) and records in stored order. */
export interface SegmentInput {
  label: string;
  /** The segment number the store key or file name gives (format 1 checkpoints carry their own). */
  number: number;
  checkpoint: { text: string; where: string } | null;
  /** Its records in stored order, read as the verifier walks them (a store streams them from a cursor). */
  entries: Iterable<Entry>;
  /** Set by a source that knows the segment should be there but is not (e.g. named in export.json). */
  missing?: string;
}

/**
 * Where an export says it starts (its export.json): its first segment and, for a partial export,
 * the checkpoint before it with the tree's compact range there.
 */
export interface StartInput {
  firstSegment: number;
  where: string;
  base: { segment: number; checkpoint: { text: string; where: string }; frontier: Buffer[] } | null;
  /**
   * The segments before `firstSegment` were deleted from an archive as expired: the log must hold
   * `segment.expired` records through `firstSegment - 1`, or the gap is a deletion.
   */
  expired?: boolean;
}

export type LogItem = { kind: 'start'; start: StartInput } | { kind: 'segment'; segment: SegmentInput } | { kind: 'unsealed'; entries: Iterable<Entry> };
export type LogInput = Iterable<LogItem> | AsyncIterable<LogItem>;

export type FaultKind =
  | 'changed' | 'deleted' | 'inserted' | 'reordered' | 'not-a-record'
  | 'missing-segment' | 'bad-checkpoint' | 'untrusted-key' | 'truncated' | 'rewritten' | 'unwitnessed';

export interface Fault {
  kind: FaultKind;
  message: string;
  segment?: number;
  seq?: number;
}

export interface VerifySummary {
  /** The log's origin (format 2) or log id (format 1 only). */
  logId: string | null;
  /** First and last sealed segment verified, null when none. */
  segments: { first: number; last: number } | null;
  records: number;
  /** Records after the last checkpoint, checked for the hash chain only. */
  unsealed: number;
  /** The tree size and root (base64) of the last checkpoint verified, null when none or format 1 only. */
  treeHead: { size: number; root: string } | null;
  kids: string[];
  /**
   * request.decision records with no request.outcome (the gateway stopped between the two), in log
   * order; past PAIRING_WINDOW decisions waiting at once, the oldest are reported here (the first
   * UNPAIRED_EXAMPLES of them by id) and counted.
   */
  decisionsWithoutOutcome: Array<{ request_id: string; seq: number }>;
  /** How many decisions have no outcome (the list above may show fewer). */
  decisionsWithoutOutcomeCount: number;
  /** Whether every checkpoint the auditor kept was found consistent with the log (null when none was given). */
  lastCheckpointMatched: boolean | null;
  /** With witness keys: the last segment whose checkpoint a quorum cosigned, and its tree size. */
  witnessed: { segment: number; size: number } | null;
}

export type VerifyResult = { ok: true; summary: VerifySummary } | { ok: false; fault: Fault; summary: VerifySummary };

export interface Witness {
  name: string;
  key: KeyObject;
}

export interface VerifyOptions {
  /** The keys the auditor trusts (configured): every checkpoint must be signed by one, or by a key they vouch for. */
  keys: readonly TrustedKey[];
  /**
   * Keys that may have signed earlier checkpoints (e.g. rotated-out public keys kept beside the
   * current one). Each counts only if a `key.rotated` record, in a segment signed by a trusted key,
   * names it: a key file dropped beside the others earns no trust.
   */
  candidateKeys?: readonly TrustedKey[];
  /** Checkpoints the auditor kept (note or JWS text), any age: the log must be consistent with each. */
  checkpoints?: readonly string[];
  /** Kept for callers of the one-checkpoint form: the same as `checkpoints: [lastCheckpoint]`. */
  lastCheckpoint?: string;
  /** Require the log to start at segment 0 (a whole store); an export of a range may start later. */
  fromGenesis: boolean;
  /** The export must hold record `fromRecord` (its first segments may not be missing). */
  fromRecord?: number;
  /** Witnesses whose cosignatures are required on the last checkpoint (`quorum` of them, default all). */
  witnesses?: readonly Witness[];
  quorum?: number;
  /** How many newest checkpoints may still wait for their cosignatures (default 0). */
  witnessLag?: number;
  onProgress?: (records: number) => void;
  /** How many decisions may wait for their outcome at once (default PAIRING_WINDOW). */
  pairingWindow?: number;
}

/** How many decisions may wait for their outcome at once before the oldest is reported without one. */
export const PAIRING_WINDOW = 1_000_000;
/** How many of the decisions pushed out of the window are named in the summary (all are counted). */
const UNPAIRED_EXAMPLES = 1000;

/**
 * Reads on (the walk stops at the fault it is about to report anyway) for record `seq`: where it
 * is, when it comes later in the segment (the records were reordered), else null.
 */
function findLater(it: Iterator<Entry>, seq: number): string | null {
  for (let step = it.next(); !step.done; step = it.next()) {
    const r = scanRecord(step.value.bytes);
    if (typeof r !== 'string' && r.seq === seq) return step.value.where;
  }
  return null;
}

/** `prev` of record 0, as the hash it stands for. */
const GENESIS_LEAF = Buffer.from(GENESIS_PREV, 'hex');

class Failed extends Error {
  constructor(readonly fault: Fault) {
    super(fault.message);
  }
}

export async function verifyLog(input: LogInput, opts: VerifyOptions): Promise<VerifyResult> {
  const v = new Verifier(opts);
  try {
    await v.prepare();
    for await (const item of input) {
      if (item.kind === 'start') await v.start(item.start);
      else if (item.kind === 'segment') await v.segment(item.segment);
      else v.unsealed(item.entries);
    }
    await v.finish();
    return { ok: true, summary: v.summary() };
  } catch (err) {
    if (err instanceof Failed) return { ok: false, fault: err.fault, summary: v.summary() };
    throw err;
  }
}

const fail = (fault: Fault): never => {
  throw new Failed(fault);
};

interface Kept {
  checkpoint: NoteCheckpoint;
  matched: boolean;
}

class Verifier {
  private logId: string | null = null;
  private origin: string | null = null;
  private nextSegment: number | null = null;
  private firstSegment: number | null = null;
  /** Format 1: the hash of the previous JWS checkpoint (each chains to the one before). */
  private prevCheckpoint: string | null = null;
  private nextSeq: number | null = null;
  /** The record before the next one's leaf hash; null when a partial export leaves it to the first record's word. */
  private prevHash: Buffer | null = null;
  private frontier: Frontier | null = null;
  private records = 0;
  private unsealedCount = 0;
  private readonly kids = new Set<string>();
  private readonly legacyHashes = new Map<number, string>();
  /** Decisions waiting for their outcome, request id → record number, oldest first (at most PAIRING_WINDOW). */
  private readonly pending = new Map<string, number>();
  /** Decisions pushed out of the window without an outcome: the first UNPAIRED_EXAMPLES by id, and how many. */
  private readonly unpaired = new Map<string, number>();
  private unpairedCount = 0;
  private kept: Kept[] = [];
  private keptLegacy: Array<{ segment: number; hash: string; matched: boolean }> = [];
  private treeHead: { size: number; root: string } | null = null;
  private checkpointsSeen = 0;
  private lastWitnessed: { segment: number; size: number; index: number } | null = null;
  private lastSegmentName = '';
  /** Set when the log starts after expired segments: the first segment that is still there. */
  private mustHaveExpired: number | null = null;
  /** The last segment `segment.expired` records say expired, -1 when none. */
  private expiredThrough = -1;
  /** The kid that signed the segment being walked (its records may vouch for a previous key). */
  private segmentKid: string | null = null;
  /** Candidate keys used, with the first segment each signed. */
  private readonly provisional = new Map<string, number>();
  private readonly vouches: Array<{ by: string; previous: string }> = [];
  /** The first segment an export's manifest names, when it starts mid-log without a base. */
  private declaredFirst: number | null = null;

  constructor(private readonly opts: VerifyOptions) {
    if (opts.fromGenesis) this.startEmpty();
  }

  private startEmpty(): void {
    this.nextSegment = 0;
    this.nextSeq = 0;
    this.prevHash = GENESIS_LEAF;
    this.frontier = new Frontier();
  }

  /** Checks the auditor's kept checkpoints' signatures before reading the log. */
  async prepare(): Promise<void> {
    const given = [...(this.opts.checkpoints ?? []), ...(this.opts.lastCheckpoint !== undefined ? [this.opts.lastCheckpoint] : [])];
    for (const text of given) {
      const checked = await verifyAnyCheckpoint(text, this.opts.keys);
      if (typeof checked === 'string') fail({ kind: 'bad-checkpoint', message: `a checkpoint you kept is rejected: ${checked}` });
      else if (checked.checkpoint.v === 2) this.kept.push({ checkpoint: checked.checkpoint, matched: false });
      else this.keptLegacy.push({ segment: checked.checkpoint.payload.segment, hash: checkpointHash(text), matched: false });
    }
    this.kept.sort((a, b) => a.checkpoint.size - b.checkpoint.size);
    const origins = new Set(this.kept.map((k) => k.checkpoint.origin));
    if (origins.size > 1) fail({ kind: 'bad-checkpoint', message: `the checkpoints you kept belong to different logs: ${[...origins].join(', ')}` });
  }

  /** Where an export starts: segment 0 from the empty tree, else from its base checkpoint, whose root its compact range must fold to. */
  async start(st: StartInput): Promise<void> {
    if (st.base === null) {
      // A format 1 export may start mid-log with no base: its first segment's checkpoint is taken as given.
      if (st.firstSegment !== 0) this.declaredFirst = st.firstSegment;
      else this.startEmpty();
      return;
    }
    const b = st.base;
    if (b.segment !== st.firstSegment - 1) fail({ kind: 'bad-checkpoint', message: `${st.where}: its base checkpoint is segment ${b.segment}'s, not that of segment ${st.firstSegment - 1} before the first segment` });
    const cp = await this.checked(b.checkpoint, `the checkpoint before segment ${st.firstSegment}`);
    if (cp.v !== 2) return fail({ kind: 'bad-checkpoint', message: `the base checkpoint (${b.checkpoint.where}) is a format 1 checkpoint; a partial export starts from a format 2 one` });
    let frontier: Frontier;
    try {
      frontier = new Frontier(cp.size, b.frontier);
    } catch (err) {
      return fail({ kind: 'bad-checkpoint', message: `the base of the export (${b.checkpoint.where}) is malformed: ${(err as Error).message}` });
    }
    if (cp.size > 0 && !frontier.root()!.equals(cp.root)) fail({ kind: 'bad-checkpoint', segment: b.segment, message: `the base of the export (${b.checkpoint.where}): its compact range does not fold to the root of its checkpoint (tree size ${cp.size})` });
    this.origin = cp.origin;
    this.frontier = frontier;
    this.nextSeq = cp.size;
    this.nextSegment = st.firstSegment;
    this.prevHash = null;
    if (st.expired) this.mustHaveExpired = st.firstSegment;
    this.checkKeptBefore(cp.size, `the export starts at record ${cp.size} (segment ${st.firstSegment})`);
    this.checkKept();
    this.noteTreeHead(cp);
  }

  async segment(s: SegmentInput): Promise<void> {
    if (s.missing !== undefined) fail({ kind: 'missing-segment', segment: s.number, message: s.missing });
    if (s.checkpoint === null) fail({ kind: 'missing-segment', segment: s.number, message: `${s.label}: its checkpoint is missing` });
    const cp = await this.checked(s.checkpoint!, s.label, s.number);
    const number = cp.v === 1 ? cp.payload.segment : s.number;
    const name = `segment ${number}`;
    this.lastSegmentName = name;
    // A source's array can be peeked at; a stream's first record vouches for its own prev.
    if (this.nextSegment === null) this.startAt(cp, number, Array.isArray(s.entries) ? s.entries[0] ?? null : undefined);
    if (number > this.nextSegment!) {
      const missing = this.nextSegment === number - 1 ? `segment ${this.nextSegment} is missing` : `segments ${this.nextSegment}..${number - 1} are missing`;
      fail({ kind: 'missing-segment', segment: this.nextSegment!, message: `${missing}: ${name} follows ${this.nextSegment === 0 ? 'the start of the log' : `segment ${this.nextSegment! - 1}`}` });
    }
    if (number < this.nextSegment!) fail({ kind: 'inserted', segment: number, message: `${name} appears again after segment ${this.nextSegment! - 1}` });
    if (cp.v === 1) this.legacySegment(cp.payload, s, name);
    else this.noteSegment(cp, s, name, number);
    this.firstSegment ??= number;
    this.nextSegment = number + 1;
    this.checkpointsSeen++;
  }

  private async checked(c: { text: string; where: string }, label: string, segment?: number): Promise<AnyCheckpoint> {
    const candidates = this.opts.candidateKeys ?? [];
    const checked = await verifyAnyCheckpoint(c.text, [...this.opts.keys, ...candidates]);
    if (typeof checked === 'string') {
      const kind = checked.includes('not a trusted key') ? 'untrusted-key' : 'bad-checkpoint';
      return fail({ kind, message: `${label}: the checkpoint (${c.where}) is rejected: ${checked}` });
    }
    this.kids.add(checked.kid);
    this.segmentKid = checked.kid;
    if (!this.opts.keys.some((k) => k.kid === checked.kid) && !this.provisional.has(checked.kid)) this.provisional.set(checked.kid, segment ?? -1);
    return checked.checkpoint;
  }

  private legacySegment(p: CheckpointPayload, s: SegmentInput, name: string): void {
    if (this.logId !== null && p.log_id !== this.logId) fail({ kind: 'bad-checkpoint', segment: p.segment, message: `${name} belongs to log ${p.log_id}, not ${this.logId}` });
    this.logId = p.log_id;
    if (this.origin !== null) fail({ kind: 'bad-checkpoint', segment: p.segment, message: `${name} has a format 1 checkpoint after format 2 ones` });
    if (p.prev_checkpoint !== this.prevCheckpoint) fail({ kind: 'rewritten', segment: p.segment, message: `${name}'s checkpoint does not chain to the previous checkpoint (prev_checkpoint ${p.prev_checkpoint} ≠ ${this.prevCheckpoint})` });
    if (p.first !== this.nextSeq || p.tree_size !== p.last - p.first + 1) {
      fail({ kind: 'bad-checkpoint', segment: p.segment, message: `${name}'s checkpoint covers records ${p.first}..${p.last} (tree size ${p.tree_size}), but the previous segment ended at record ${this.nextSeq! - 1}` });
    }
    const leaves: Buffer[] = [];
    this.walk(s.entries, p.last, leaves);
    if (leaves.length !== p.tree_size) {
      fail({ kind: 'deleted', segment: p.segment, seq: this.nextSeq!, message: `record ${this.nextSeq} was deleted: ${name} ends at record ${this.nextSeq! - 1}, but its checkpoint says ${p.last}` });
    }
    if (!merkleRoot(leaves).equals(Buffer.from(p.root, 'hex'))) {
      fail({ kind: 'changed', segment: p.segment, seq: p.last, message: `record ${p.last} was changed: ${name}'s Merkle root over records ${p.first}..${p.last} does not match its signed checkpoint` });
    }
    this.prevCheckpoint = checkpointHash(s.checkpoint!.text);
    this.legacyHashes.set(p.segment, this.prevCheckpoint);
  }

  private noteSegment(cp: NoteCheckpoint, s: SegmentInput, name: string, number: number): void {
    if (this.origin !== null && cp.origin !== this.origin) fail({ kind: 'bad-checkpoint', segment: number, message: `${name} belongs to log ${cp.origin}, not ${this.origin}` });
    this.origin = cp.origin;
    if (this.frontier === null) fail({ kind: 'bad-checkpoint', segment: number, message: `${name} has a format 2 checkpoint over the whole log, but this export starts mid-log at a format 1 segment: export from the start of the log` });
    const first = this.nextSeq!;
    if (cp.size < first) fail({ kind: 'bad-checkpoint', segment: number, message: `${name}'s checkpoint is for tree size ${cp.size}, but the log already holds ${first} records before it` });
    this.walk(s.entries, cp.size - 1);
    if (this.nextSeq! < cp.size) {
      fail({ kind: 'deleted', segment: number, seq: this.nextSeq!, message: `record ${this.nextSeq} was deleted: ${name} ends at record ${this.nextSeq! - 1}, but its checkpoint covers records up to ${cp.size - 1}` });
    }
    if (!this.frontier!.root()?.equals(cp.root)) {
      fail({ kind: 'changed', segment: number, seq: cp.size - 1, message: `${name} (records ${first}..${cp.size - 1}) was changed: the log's Merkle root at tree size ${cp.size} does not match its signed checkpoint` });
    }
    this.noteTreeHead(cp);
    this.checkCosignatures(cp, number);
  }

  private noteTreeHead(cp: NoteCheckpoint): void {
    this.treeHead = { size: cp.size, root: cp.root.toString('base64') };
  }

  /** Witnesses' cosignatures on a checkpoint whose root the records just reproduced. */
  private checkCosignatures(cp: NoteCheckpoint, segment: number): void {
    const witnesses = this.opts.witnesses ?? [];
    if (witnesses.length === 0) return;
    let valid = 0;
    for (const w of witnesses) {
      const r = cosignature(cp, w.name, w.key);
      if (r === false) {
        fail({ kind: 'rewritten', segment, seq: cp.size - 1, message: `segment ${segment}'s checkpoint (tree size ${cp.size}) is not the one witness ${w.name} cosigned: the log was rewritten at or before record ${cp.size - 1}` });
      }
      if (typeof r === 'number') valid++;
    }
    if (valid >= this.quorum()) this.lastWitnessed = { segment, size: cp.size, index: this.checkpointsSeen };
  }

  private quorum(): number {
    return this.opts.quorum ?? this.opts.witnesses?.length ?? 0;
  }

  /** Unsealed records are signed by nobody yet: they vouch for no key. */
  private inUnsealed = false;

  unsealed(entries: Iterable<Entry>): void {
    this.inUnsealed = true;
    if (this.nextSeq === null) this.startEmpty();
    this.unsealedCount += this.walk(entries, Infinity);
  }

  /** An export of a later range with no base (format 1) starts mid-log: take its first checkpoint and record as given. */
  private startAt(cp: AnyCheckpoint, number: number, first: Entry | null | undefined): void {
    if (cp.v === 2) {
      if (number === 0 && (this.opts.fromRecord ?? 0) === 0) return this.startEmpty();
      fail({ kind: 'missing-segment', segment: number, message: `the log starts at segment ${number}, without the base checkpoint and compact range a partial export carries (export.json): segments before it are missing` });
    }
    const p = (cp as { payload: CheckpointPayload }).payload;
    if (this.declaredFirst !== null && this.declaredFirst < p.segment) {
      fail({ kind: 'missing-segment', segment: this.declaredFirst, message: `segment ${this.declaredFirst} is missing: the export's manifest says it starts there, but its first file is segment ${p.segment}'s` });
    }
    this.nextSegment = p.segment;
    this.prevCheckpoint = p.prev_checkpoint;
    this.nextSeq = p.first;
    if (first === undefined) this.prevHash = null;
    else {
      const r = first ? parseRecord(first.bytes) : null;
      this.prevHash = Buffer.from(r !== null && typeof r !== 'string' ? r.prev : GENESIS_PREV, 'hex');
    }
    // Format 1 segments carry their own roots; the whole-log tree is not known mid-log.
    this.frontier = null;
    this.checkKeptBefore(p.first, `the export starts at record ${p.first} (segment ${p.segment})`);
  }

  /** Kept checkpoints (and --from) the export starts after: what lies between is missing. */
  private checkKeptBefore(start: number, what: string): void {
    const from = this.opts.fromRecord;
    if (from !== undefined && from < start) fail({ kind: 'missing-segment', seq: from, message: `${what}, but record ${from} was asked for: the segments holding records ${from}..${start - 1} are missing` });
    const k = this.kept.find((k) => k.checkpoint.size < start && k.checkpoint.size > 0);
    if (k) fail({ kind: 'truncated', seq: k.checkpoint.size - 1, message: `${what}, after your checkpoint of tree size ${k.checkpoint.size}: records ${k.checkpoint.size - 1}..${start - 1} cannot be checked against it (the first segments are missing)` });
  }

  /**
   * Walks records in stored order as the source streams them, checking number and hash chain,
   * growing the tree; returns how many it walked, and pushes their leaf hashes to `leaves` when
   * given (format 1 roots). Too few records are left to the caller's count check. Each record is
   * read by scanRecord (canonical form and the few fields needed, without building the record),
   * so memory holds one record at a time plus the segment's record numbers seen (for messages).
   */
  private walk(entries: Iterable<Entry>, last: number, leaves?: Buffer[]): number {
    const it = entries[Symbol.iterator]();
    // Where each record number of this walk was found: a store's key says it (key = number), files' lines are kept.
    const seen = new Map<number, string>();
    const walkStart = this.nextSeq!;
    let count = 0;
    for (let step = it.next(); !step.done; step = it.next()) {
      const e = step.value;
      const r = scanRecord(e.bytes, this.prevHash);
      const expected = this.nextSeq!;
      if (typeof r === 'string') fail({ kind: r === 'it is not canonical JSON' ? 'changed' : 'not-a-record', seq: e.key ?? expected, message: `the record at ${e.where} was changed: ${r}` });
      const rec = r as Envelope;
      // Only when a record comes early: is the one expected further on (reordered) or gone (deleted)?
      const later = rec.seq > expected ? findLater(it, expected) : null;
      if (rec.seq !== expected && later === null && e.key === expected) {
        // The store's key says where it belongs: the record there now claims another number.
        fail({ kind: 'changed', seq: expected, message: `the record at ${e.where} was changed: it claims to be record ${rec.seq}` });
      }
      if (rec.seq < expected) {
        const other = e.key !== undefined ? (rec.seq >= walkStart ? `key ${rec.seq}` : undefined) : seen.get(rec.seq);
        fail({ kind: 'inserted', seq: rec.seq, message: `a record was inserted at ${e.where}: it claims to be record ${rec.seq}, which ${other ?? 'an earlier record'} already is` });
      }
      if (rec.seq > expected) {
        if (later !== null) fail({ kind: 'reordered', seq: expected, message: `records were reordered: record ${rec.seq} (${e.where}) comes before record ${expected} (${later})` });
        const which = rec.seq === expected + 1 ? `record ${expected} was deleted` : `records ${expected}..${rec.seq - 1} were deleted`;
        fail({ kind: 'deleted', seq: expected, message: `${which}: record ${rec.seq} (${e.where}) follows ${expected === 0 ? 'the start of the log' : `record ${expected - 1}`}` });
      }
      if (e.key !== undefined && e.key !== rec.seq) fail({ kind: 'inserted', seq: rec.seq, message: `a record was inserted at ${e.where}: it claims to be record ${rec.seq}` });
      if (this.prevHash !== null && rec.prev !== null) {
        fail({ kind: 'changed', seq: expected - 1, message: `record ${expected - 1} was changed: its hash no longer matches the prev hash in record ${expected} (${e.where})` });
      }
      if (rec.seq > last) fail({ kind: 'inserted', seq: rec.seq, message: `a record was inserted at ${e.where}: the segment's checkpoint ends at record ${last}` });
      const leaf = leafHash(e.bytes);
      leaves?.push(leaf);
      if (e.key === undefined) seen.set(rec.seq, e.where);
      this.prevHash = leaf;
      this.nextSeq = expected + 1;
      count++;
      if (this.frontier) {
        this.frontier.push(leaf);
        if (this.kept.length > 0) this.checkKept();
      }
      this.note(rec);
    }
    return count;
  }

  /** A kept checkpoint whose size the tree just reached must have the same root. */
  private checkKept(): void {
    const size = this.frontier!.size;
    for (const k of this.kept) {
      if (k.checkpoint.size !== size) continue;
      if (k.checkpoint.origin !== this.origin && this.origin !== null) fail({ kind: 'bad-checkpoint', message: `the checkpoint you kept belongs to log ${k.checkpoint.origin}, not ${this.origin}` });
      if (!this.frontier!.root()!.equals(k.checkpoint.root)) {
        const before = this.kept.filter((o) => o.matched && o.checkpoint.size < size).at(-1);
        const after = before ? ` and after record ${before.checkpoint.size - 1}, where your checkpoint of tree size ${before.checkpoint.size} still matches` : '';
        fail({ kind: 'rewritten', seq: size - 1, message: `the log was rewritten: records 0..${size - 1} (up to ${this.lastSegmentName || 'the start'}) no longer hash to the root of your checkpoint of tree size ${size}; the change is at or before record ${size - 1}${after}` });
      }
      k.matched = true;
    }
  }

  private note(r: Envelope): void {
    this.records++;
    if (r.type === 'key.rotated' && r.previousKid && this.segmentKid && !this.inUnsealed) this.vouches.push({ by: this.segmentKid, previous: r.previousKid });
    if (r.type === 'request.decision' && r.requestId !== undefined) this.decided(r.requestId, r.seq);
    else if (r.type === 'request.outcome' && r.requestId !== undefined) this.answered(r.requestId);
    else if (r.type === 'segment.expired' && r.lastSegment !== undefined) this.expiredThrough = Math.max(this.expiredThrough, r.lastSegment);
    if (this.records % 10_000 === 0) this.opts.onProgress?.(this.records);
  }

  /**
   * Pairing decisions with outcomes in bounded memory: a decision still waiting when PAIRING_WINDOW
   * newer ones wait too is reported without an outcome (a request outlives a million others only when
   * the gateway never answered it); if its outcome comes after all, the report drops it.
   */
  private decided(requestId: string, seq: number): void {
    this.pending.delete(requestId);
    this.pending.set(requestId, seq);
    if (this.pending.size <= (this.opts.pairingWindow ?? PAIRING_WINDOW)) return;
    const [oldest, at] = this.pending.entries().next().value as [string, number];
    this.pending.delete(oldest);
    this.unpairedCount++;
    if (this.unpaired.size < UNPAIRED_EXAMPLES) this.unpaired.set(oldest, at);
  }

  private answered(requestId: string): void {
    if (this.pending.delete(requestId) || this.unpairedCount === 0) return;
    if (this.unpaired.delete(requestId)) this.unpairedCount--;
  }

  async finish(): Promise<void> {
    this.opts.onProgress?.(this.records);
    if (this.mustHaveExpired !== null && this.expiredThrough < this.mustHaveExpired - 1) {
      const gap = this.expiredThrough + 1;
      const which = gap === this.mustHaveExpired - 1 ? `segment ${gap} is` : `segments ${gap}..${this.mustHaveExpired - 1} are`;
      fail({ kind: 'missing-segment', segment: gap, message: `${which} missing from the archive and no segment.expired record says ${gap === this.mustHaveExpired - 1 ? 'it' : 'they'} expired (${this.expiredThrough < 0 ? 'none does' : `they end at segment ${this.expiredThrough}`}): deleted, not expired` });
    }
    const sealedEnd = this.nextSeq === null ? 0 : this.nextSeq - this.unsealedCount;
    const end = this.nextSegment === null || this.firstSegment === null ? 'the log has no sealed segment' : `the log's sealed segments end at segment ${this.nextSegment - 1} (record ${sealedEnd - 1})`;
    for (const k of this.kept) {
      if (k.matched) continue;
      if (this.origin !== null && k.checkpoint.origin !== this.origin) fail({ kind: 'bad-checkpoint', message: `the checkpoint you kept belongs to log ${k.checkpoint.origin}, not ${this.origin}` });
      if (k.checkpoint.size === 0) continue;
      fail({ kind: 'truncated', seq: sealedEnd, message: `the log is truncated: your checkpoint covers records 0..${k.checkpoint.size - 1} (tree size ${k.checkpoint.size}), but ${end}` });
    }
    for (const k of this.keptLegacy) {
      const found = this.legacyHashes.get(k.segment);
      if (found === undefined) {
        if (this.firstSegment !== null && k.segment < this.firstSegment) fail({ kind: 'truncated', segment: k.segment, message: `your checkpoint is for segment ${k.segment}, before the first segment here (${this.firstSegment})` });
        fail({ kind: 'truncated', segment: k.segment, message: `the log is truncated: your checkpoint is for segment ${k.segment}, but ${end}` });
      }
      if (found !== k.hash) fail({ kind: 'rewritten', segment: k.segment, message: `segment ${k.segment}'s checkpoint differs from the one you kept: the log was rewritten at or before segment ${k.segment}` });
      k.matched = true;
    }
    this.checkVouched();
    if ((this.opts.witnesses ?? []).length > 0) this.checkWitnessed();
  }

  /** Every candidate key that signed a checkpoint must be vouched for, through a chain of key.rotated records, by a trusted key. */
  private checkVouched(): void {
    const trusted = new Set(this.opts.keys.map((k) => k.kid));
    for (let grew = true; grew; ) {
      grew = false;
      for (const v of this.vouches) {
        if (trusted.has(v.by) && !trusted.has(v.previous)) {
          trusted.add(v.previous);
          grew = true;
        }
      }
    }
    for (const [kid, segment] of this.provisional) {
      if (!trusted.has(kid)) {
        fail({ kind: 'untrusted-key', segment, message: `segment ${segment}'s checkpoint is signed by key ${kid}, which is not a trusted key and no key.rotated record signed by a trusted key vouches for it (trusted: ${this.opts.keys.map((k) => k.kid).join(', ') || 'none'})` });
      }
    }
  }

  private checkWitnessed(): void {
    const lag = this.opts.witnessLag ?? 0;
    const names = this.opts.witnesses!.map((w) => w.name).join(', ');
    if (this.checkpointsSeen === 0) return;
    if (this.lastWitnessed === null) {
      fail({ kind: 'unwitnessed', segment: this.firstSegment!, message: `no checkpoint of this log is cosigned by ${this.quorum()} of the witnesses (${names}): nothing here is witnessed, from segment ${this.firstSegment} on` });
    }
    const w = this.lastWitnessed!;
    const after = this.checkpointsSeen - 1 - w.index;
    if (after > lag) {
      fail({ kind: 'unwitnessed', segment: w.segment + 1, seq: w.size, message: `segments ${w.segment + 1}..${this.nextSegment! - 1} (from record ${w.size}) are not cosigned by ${this.quorum()} of the witnesses (${names}); the last witnessed checkpoint is segment ${w.segment}'s (tree size ${w.size}). A rewrite from record ${w.size} on would look like this.` });
    }
  }

  summary(): VerifySummary {
    const given = this.kept.length + this.keptLegacy.length;
    return {
      logId: this.origin ?? this.logId,
      segments: this.firstSegment === null ? null : { first: this.firstSegment, last: this.nextSegment! - 1 },
      records: this.records,
      unsealed: this.unsealedCount,
      treeHead: this.treeHead,
      kids: [...this.kids],
      decisionsWithoutOutcome: [...this.unpaired, ...this.pending].map(([request_id, seq]) => ({ request_id, seq })),
      decisionsWithoutOutcomeCount: this.unpairedCount + this.pending.size,
      lastCheckpointMatched: given === 0 ? null : [...this.kept, ...this.keptLegacy].every((k) => k.matched),
      witnessed: this.lastWitnessed && { segment: this.lastWitnessed.segment, size: this.lastWitnessed.size },
    };
  }
}
