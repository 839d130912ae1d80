/**
 * The whole log as one, for the readers that are not verify (export, prove, replay, tail, the
 * console): the archive's segments up to where the live store was pruned, then the live store's
 * (docs/audit-format.md §10). Without an archive it is the live store alone, which after pruning
 * starts at its base. Segments are read one at a time (an archived one is one file), so a year of
 * archive streams in flat memory. verify reads the same two places through sources.ts, which also
 * reports what is missing; this module only reads what is there.
 */
import type { AuditArchive } from './archive.js';
import { decodeAnyCheckpoint, type AnyCheckpoint } from './checkpoint.js';
import { AuditReadError } from './errors.js';
import { Frontier, leafHash, RangeHasher } from './merkle.js';
import { checkpointEnd, prunedThrough, storedCheckpoints, type Store } from './store.js';

/** One sealed segment, wherever it is kept. */
export interface LogSegment {
  segment: number;
  /** Its checkpoint as stored (signed note with cosignatures, or format 1 JWS) and decoded (the reason when it cannot be). */
  text: string;
  checkpoint: AnyCheckpoint | string;
  /** Its records are `first..end-1`. */
  first: number;
  end: number;
  archived: boolean;
  /** The tree's compact range at `first`, when the store or the archive kept it (empty at 0). */
  base: Buffer[] | null;
  /** The checkpoint before it (what a reader starting here checks it from), when kept; null for segment 0. */
  baseCheckpoint: string | null;
  /** Its records' bytes in order. */
  records(): AsyncIterable<Buffer> | Iterable<Buffer>;
}

export class LogReader {
  /** The archive's listing through the live base, and the first record of each segment probed (archivedStart), kept for this reader's later walks. */
  private index: { base: number; numbers: number[]; firsts: Map<number, number> } | null = null;

  constructor(readonly store: Store, readonly archive: AuditArchive | null = null) {}

  /** Where the log is, for messages. */
  get where(): string {
    return this.archive ? `${this.store.dir} (with the archive ${this.archive.where})` : this.store.dir;
  }

  /** The first record the live store holds (after pruning, the end of its base), and its base segment (-1 when none). */
  private liveStart(): { first: number; base: number } {
    const pruned = prunedThrough(this.store);
    if (pruned < 0) return { first: 0, base: -1 };
    const text = this.store.checkpoints.get(pruned);
    const cp = text === undefined ? null : decodeAnyCheckpoint(text);
    return { first: cp === null || typeof cp === 'string' ? 0 : checkpointEnd(cp), base: pruned };
  }

  /**
   * Sealed segments in order: archived ones (those the live store no longer holds) first. From
   * `fromSeq` on, it starts at the segment holding that record (or the first after it): the live
   * store's without reading the archive, else the archived one found by archivedStart.
   */
  async *segments(fromSeq = 0): AsyncGenerator<LogSegment> {
    const live = this.liveStart();
    if (this.archive && live.base >= 0 && fromSeq < live.first) {
      for await (const e of this.archive.list(await this.archivedStart(fromSeq, live.base))) {
        if (e.segment > live.base) break;
        const s = await this.archive.get(e.segment);
        if (s === null) continue;
        yield {
          segment: s.segment, text: s.checkpoint, checkpoint: decodeAnyCheckpoint(s.checkpoint), first: s.first, end: s.size, archived: true,
          base: s.base?.frontier ?? (s.first === 0 ? [] : null), baseCheckpoint: s.base?.checkpoint ?? null, records: () => s.records,
        };
      }
    }
    const store = this.store;
    let start = live.first;
    for (const { key, text, checkpoint } of storedCheckpoints(store, live.base + 1)) {
      const first = start;
      const end = typeof checkpoint === 'string' ? start : checkpointEnd(checkpoint);
      start = end;
      const kept = first === 0 ? null : store.frontiers.getBinary(key - 1);
      yield {
        segment: key, text, checkpoint, first, end, archived: false,
        base: first === 0 ? [] : kept ? Frontier.decode(first, kept).nodes : null,
        baseCheckpoint: key === 0 ? null : store.checkpoints.get(key - 1) ?? null,
        records: () => (function* () {
          for (const { value } of store.records.getRange({ start: first, end })) yield value;
        })(),
      };
    }
  }

  /**
   * The archived segment holding record `seq` (else the first of those listed): the listing's
   * segment numbers bisected on each probed segment's record range, so a year of archive is found
   * in about twenty reads instead of one per segment. What the probes say is used only to find
   * where to start: every reader checks what it reads (a proof is verified before it is given, a
   * wrong start finds nothing rather than something wrong).
   */
  private async archivedStart(seq: number, base: number): Promise<number> {
    if (this.index?.base !== base) {
      const numbers: number[] = [];
      for await (const e of this.archive!.list()) {
        if (e.segment > base) break;
        numbers.push(e.segment);
      }
      this.index = { base, numbers, firsts: new Map() };
    }
    const { numbers, firsts } = this.index;
    if (seq <= 0 || numbers.length === 0) return 0;
    let [lo, hi, found] = [0, numbers.length - 1, numbers[0]!];
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      let first = firsts.get(numbers[mid]!);
      if (first === undefined) {
        const probe = await this.archive!.get(numbers[mid]!);
        // Deleted under us (retention): read from the start, as without the index.
        if (probe === null) return numbers[0]!;
        firsts.set(numbers[mid]!, (first = probe.first));
      }
      if (first <= seq) [found, lo] = [numbers[mid]!, mid + 1];
      else hi = mid - 1;
    }
    return found;
  }

  /** Every record from `from` on, sealed or not, in order, with its number. */
  async *records(from = 0): AsyncGenerator<{ seq: number; bytes: Buffer }> {
    const live = this.liveStart();
    if (this.archive && from < live.first) {
      for await (const s of this.segments(from)) {
        if (!s.archived) break;
        if (s.end <= from) continue;
        let seq = s.first;
        for await (const bytes of s.records()) {
          if (seq >= from) yield { seq, bytes };
          seq++;
        }
      }
    }
    for (const { key, value } of this.store.records.getRange({ start: Math.max(from, live.first) })) yield { seq: key, bytes: value };
  }

  /**
   * Every record, newest first: the live store's (a reverse cursor), then the archived segments'
   * from the newest down (for a search that stops at its limit, most often inside the live store:
   * the archive is listed only when the walk reaches it). `sealedFrom` (ms): archived segments
   * sealed before it, and all older ones, are skipped, since their records are older still.
   */
  async *newestFirst(opts: { sealedFrom?: number } = {}): AsyncGenerator<{ seq: number; bytes: Buffer }> {
    const live = this.liveStart();
    for (const { key, value } of this.store.records.getRange({ reverse: true })) {
      if (key < live.first) break;
      yield { seq: key, bytes: value };
    }
    if (!this.archive || live.base < 0) return;
    const archived: number[] = [];
    for await (const e of this.archive.list()) {
      if (e.segment > live.base) break;
      if (opts.sealedFrom !== undefined && Date.parse(e.sealedAt) < opts.sealedFrom) archived.length = 0;
      else archived.push(e.segment);
    }
    for (let i = archived.length - 1; i >= 0; i--) {
      const s = await this.archive.get(archived[i]!);
      if (s === null) continue;
      for (let j = s.records.length - 1; j >= 0; j--) yield { seq: s.first + j, bytes: s.records[j]! };
    }
  }

  /** The leaf hashes of records `a..b-1`. */
  async leaves(a: number, b: number): Promise<Buffer[]> {
    const out: Buffer[] = [];
    for await (const s of this.segments(a)) {
      if (s.end <= a) continue;
      if (s.first >= b) break;
      let seq = s.first;
      for await (const bytes of s.records()) {
        if (seq >= a && seq < b) out.push(leafHash(bytes));
        seq++;
      }
      // Done: the next segment (an archived file to read) is not needed.
      if (s.end >= b) break;
    }
    if (out.length !== b - a) throw new AuditReadError(`the audit log at ${this.where} holds ${out.length} of records ${a}..${b - 1}: records were deleted`);
    return out;
  }

  /** The tree's compact range at `size`: a segment's kept base when one starts there, else rebuilt from the records before it. */
  async frontierAt(size: number): Promise<Frontier> {
    if (size === 0) return new Frontier();
    for await (const s of this.segments(size)) {
      if (s.first === size && s.base !== null) return new Frontier(size, s.base);
      if (s.first > size) break;
    }
    const frontier = new Frontier();
    for (const leaf of await this.leaves(0, size)) frontier.push(leaf);
    return frontier;
  }

  /** What an inclusion or consistency proof needs: the tree's compact range at `size` and the leaves `size..end-1`. */
  async hasher(size: number, end: number): Promise<RangeHasher> {
    return new RangeHasher(await this.frontierAt(size), await this.leaves(size, end));
  }

  /** Why record `seq` may not be found here: it was pruned from the live store and no archive is read (else ''). */
  prunedHint(seq: number): string {
    const live = this.liveStart();
    if (this.archive || live.base < 0 || seq >= live.first) return '';
    return ` (the live store was pruned through segment ${live.base}, record ${live.first - 1}: give --archive DIR (the audit.archive.dir) or --config FILE (the gateway's config) to read the records before it)`;
  }

  /** Record `seq`'s bytes, or null when neither place holds it. */
  async record(seq: number): Promise<Buffer | null> {
    for await (const r of this.records(seq)) return r.seq === seq ? r.bytes : null;
    return null;
  }
}

/** A reader of the store alone, or the reader given. */
export function readerOf(source: Store | LogReader): LogReader {
  return source instanceof LogReader ? source : new LogReader(source);
}
