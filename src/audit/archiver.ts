/**
 * The live log's lifecycle (docs/audit-format.md §10): every sealed segment is copied to the archive
 * in order (a failed write is retried with backoff and holds back the later ones, so none is lost or
 * reordered); a segment leaves the live store only once `audit.retain_live` lets it go and the
 * archive's copy has been read back and checked (records byte for byte, root, checkpoint);
 * archived segments older than `audit.retain_archive` are deleted oldest first after a
 * `segment.expired` record says so; the store's fill level is watched (a record and a log line at
 * 80 % and 90 %).
 */
import type { AppendedRecords, ArchivedSegment, AuditArchive } from './archive.js';
import { parseNoteCheckpoint } from './checkpoint.js';
import type { AuditLog } from './log.js';
import { Frontier, leafHash } from './merkle.js';
import { parseRecord } from './record.js';
import { SegmentBody } from './segment-body.js';
import { prunedThrough, storedCheckpoints, type Store } from './store.js';

export interface ArchiverOptions {
  /** How much stays in the live store: segments sealed within `seconds`, and/or while the store holds at most `bytes`. */
  retainLive?: { seconds?: number; bytes?: number };
  /** Archived segments sealed longer ago are deleted (default 400 days). */
  retainArchiveDays?: number;
  /** First retry after a failed archive write, doubling up to `retryMaxMs` (defaults 1 s, 60 s). */
  retryBaseMs?: number;
  retryMaxMs?: number;
  /** How often the archiver looks for work besides seals (default 1 s). */
  intervalMs?: number;
  log?: (level: 'info' | 'warn' | 'error', message: string, fields: Record<string, unknown>) => void;
}

/** What /metrics shows of the lifecycle. */
export interface ArchiverStats {
  /** Highest segment the archive holds (in order from the start), -1 when none. */
  archived_through: number;
  /** Sealed segments not yet archived. */
  pending: number;
  /** Archive writes that failed since start, and in a row now. */
  failures: number;
  failing: number;
  last_error: string | null;
  pruned_through: number;
  segments_expired: number;
  used_bytes: number;
  max_bytes: number;
}

const FILL_LEVELS = [0.9, 0.8];
/** Just-sealed segments whose records are kept for the archive while it is behind (~1 MB to ~20 MB each). */
const FRESH_KEPT = 4;
/** Segments pruned or expired in one pass, so a long backlog does not hold the writer's queue for long. */
const BATCH = 200;

export class Archiver {
  private archivedThrough = -1;
  private failures = 0;
  private failing = 0;
  private lastError: string | null = null;
  private expired = 0;
  private fillLevel = 0;
  private running: Promise<void> | null = null;
  private again = false;
  private passFailing = false;
  private retryAt = 0;
  private closed = false;
  /** Set while the log closes: only archiving is left to do (no record can be appended any more). */
  private closing = false;
  private readonly timer: NodeJS.Timeout;
  private readonly store: Store;
  private fill: { usedBytes: number; capBytes: number };
  /**
   * Segments just sealed, with the records the log handed over (segment → records): archiving
   * them reads nothing back from the store. Bounded: a backlog is read from the store instead.
   */
  private readonly fresh = new Map<number, AppendedRecords>();
  /**
   * The newest segment the log has announced (or sealed before the archiver started): a pass takes
   * no segment past it, so it never reads a just-written checkpoint before its records are handed over.
   */
  private announced: number;

  private constructor(private readonly log: AuditLog, private readonly archive: AuditArchive, private readonly opts: ArchiverOptions) {
    this.store = log.reader;
    this.fill = log.fill();
    this.announced = -1;
    for (const { key } of this.store.checkpoints.getRange({ reverse: true, limit: 1 })) this.announced = key;
    log.keepSealedRecords();
    log.onSeal((s) => {
      this.announced = Math.max(this.announced, s.segment);
      if (s.appended && this.fresh.size < FRESH_KEPT) this.fresh.set(s.segment, s.appended);
      void this.kick();
    });
    log.beforeClose(() => this.close());
    this.timer = setInterval(() => this.kick(), opts.intervalMs ?? 1000);
    this.timer.unref();
  }

  /** Starts archiving `log`'s sealed segments to `archive`; picks up where the archive ends. */
  static async start(log: AuditLog, archive: AuditArchive, opts: ArchiverOptions = {}): Promise<Archiver> {
    const a = new Archiver(log, archive, opts);
    a.archivedThrough = prunedThrough(a.store);
    try {
      for await (const e of archive.list(a.archivedThrough + 1)) {
        if (e.segment !== a.archivedThrough + 1) break;
        a.archivedThrough = e.segment;
      }
    } catch (err) {
      // An archive out of reach at start must not keep the gateway from starting: the passes store
      // again what it may already hold (storing a segment again is allowed) until it answers.
      opts.log?.('warn', 'cannot list the audit archive at start; archiving from the oldest live segment', { archive: archive.where, error: (err as Error).message });
    }
    a.kick();
    return a;
  }

  stats(): ArchiverStats {
    let sealed = -1;
    for (const { key } of this.store.checkpoints.getRange({ reverse: true, limit: 1 })) sealed = key;
    return {
      archived_through: this.archivedThrough, pending: Math.max(0, sealed - this.archivedThrough), failures: this.failures, failing: this.failing,
      last_error: this.lastError, pruned_through: prunedThrough(this.store), segments_expired: this.expired,
      used_bytes: this.fill.usedBytes, max_bytes: this.fill.capBytes,
    };
  }

  /** Runs a pass now (or right after the one under way); resolves when it is done. */
  kick(): Promise<void> {
    if (this.closed) return Promise.resolve();
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      try {
        do {
          this.again = false;
          try {
            await this.pass();
            if (this.passFailing) this.opts.log?.('info', 'audit archive passes succeed again', { archive: this.archive.where });
            this.passFailing = false;
          } catch (err) {
            // Once per outage, not once a second: the metrics show it meanwhile.
            if (!this.passFailing) this.opts.log?.('error', 'audit archive pass failed; retrying', { archive: this.archive.where, error: (err as Error).message });
            this.passFailing = true;
          }
        } while (this.again && !this.closed);
      } finally {
        this.running = null;
      }
    })();
    return this.running;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    clearInterval(this.timer);
    // The last seal's segment goes to the archive before the log closes, if the archive takes it.
    this.closing = true;
    this.retryAt = 0;
    await this.running;
    await this.kick();
    this.closed = true;
    await this.running;
  }

  private async pass(): Promise<void> {
    if (Date.now() >= this.retryAt) await this.archiveSealed();
    if (this.closing) return;
    await this.prune();
    await this.expire();
    await this.watchFill();
  }

  /** Copies sealed segments after the last archived one, in order; a failure stops the pass and is retried later. */
  private async archiveSealed(): Promise<void> {
    for (const { key } of storedCheckpoints(this.store, this.archivedThrough + 1)) {
      if (key > this.announced) return;
      const kept = this.fresh.get(key);
      this.fresh.delete(key);
      const seg = this.segmentOf(key, kept);
      if (seg === null) return;
      try {
        await this.archive.put(seg);
        // The backend holds no view of them now, and this pass drops its own: the writer may reuse them.
        if (kept && seg.records === kept.records && this.archive.releasesRecords) kept.release?.();
      } catch (err) {
        this.failures++;
        this.failing++;
        this.lastError = (err as Error).message;
        const wait = Math.min((this.opts.retryBaseMs ?? 1000) * 2 ** Math.min(this.failing - 1, 20), this.opts.retryMaxMs ?? 60_000);
        this.retryAt = Date.now() + wait * (0.75 + Math.random() * 0.5);
        this.opts.log?.('warn', 'audit archive write failed; retrying', { segment: key, archive: this.archive.where, failures: this.failing, retry_in_ms: Math.round(this.retryAt - Date.now()), error: this.lastError });
        return;
      }
      if (this.failing > 0) this.opts.log?.('info', 'audit archive writes succeed again', { segment: key, archive: this.archive.where, after_failures: this.failing });
      this.failing = 0;
      this.lastError = null;
      this.archivedThrough = key;
    }
  }

  /**
   * The live store's segment `key` as the archive keeps it, from `kept` when the log handed its
   * records over at the seal; null when the store does not hold it (whole).
   */
  private segmentOf(key: number, kept?: AppendedRecords): ArchivedSegment | null {
    const note = this.store.checkpoints.get(key);
    const cp = note === undefined ? null : parseNoteCheckpoint(note);
    if (cp === null || typeof cp === 'string') return null;
    const prevNote = key > 0 ? this.store.checkpoints.get(key - 1) : undefined;
    const prev = prevNote === undefined ? null : parseNoteCheckpoint(prevNote);
    if (key > 0 && (prev === null || typeof prev === 'string')) return null;
    const first = prev === null || typeof prev === 'string' ? 0 : prev.size;
    const frontier = prev === null || typeof prev === 'string' ? null : this.store.frontiers.getBinary(key - 1);
    const handed = kept?.records.length === cp.size - first ? kept : null;
    const records = handed ? handed.records : readRecords(this.store, first, cp.size);
    if (records.length !== cp.size - first || (key > 0 && !frontier)) return null;
    const last = parseRecord(records[records.length - 1]!);
    return {
      segment: key, first, size: cp.size, checkpoint: note!, records, ...(handed ? { leaves: handed.leaves } : {}),
      base: prevNote === undefined ? null : { checkpoint: prevNote, frontier: Frontier.decode(first, frontier!).nodes },
      sealedAt: typeof last === 'string' ? new Date().toISOString() : last.ts,
    };
  }

  /** Prunes the oldest live segments that `retainLive` lets go, each only after its archived copy checks out. */
  private async prune(): Promise<void> {
    const keep = this.opts.retainLive;
    if (!keep || (keep.seconds === undefined && keep.bytes === undefined)) return;
    for (let n = 0; n < BATCH && !this.closed; n++) {
      const pruned = prunedThrough(this.store);
      const key = pruned + 1;
      if (key > this.archivedThrough) return;
      const keys = [...this.store.checkpoints.getKeys({ start: key, limit: 2 })];
      // The newest sealed segment stays: the next record chains to its last one.
      if (keys[0] !== key || keys.length < 2) return;
      const live = this.segmentOf(key);
      if (live === null) return;
      const old = keep.seconds !== undefined && Date.parse(live.sealedAt) < Date.now() - keep.seconds * 1000;
      const big = keep.bytes !== undefined && this.log.fill().usedBytes > keep.bytes;
      if (!old && !big) return;
      const why = await this.checkArchived(live);
      if (why !== null) {
        this.opts.log?.('error', 'an archived audit segment does not match the live log; it is kept live and archived again', { segment: key, archive: this.archive.where, error: why });
        this.archivedThrough = Math.min(this.archivedThrough, key - 1);
        return;
      }
      await this.log.prune(key, live.first, live.size);
    }
  }

  /** Reads segment `live` back from the archive (storing it again first when the live checkpoint gained cosignatures); returns why it does not match. */
  private async checkArchived(live: ArchivedSegment): Promise<string | null> {
    let got = await this.archive.get(live.segment);
    if (got !== null && got.checkpoint !== live.checkpoint && live.checkpoint.startsWith(got.checkpoint)) {
      await this.archive.put(live);
      got = await this.archive.get(live.segment);
    }
    if (got === null) return 'the archive does not hold it';
    if (got.checkpoint !== live.checkpoint) return 'its archived checkpoint differs';
    if (got.first !== live.first || got.size !== live.size || got.records.length !== live.records.length) return `the archive holds records ${got.first}..${got.size - 1} (${got.records.length}), not ${live.first}..${live.size - 1}`;
    const frontier = new Frontier(live.first, got.base?.frontier ?? []);
    for (let i = 0; i < live.records.length; i++) {
      if (!got.records[i]!.equals(live.records[i]!)) return `record ${live.first + i} differs`;
      frontier.push(leafHash(got.records[i]!));
    }
    const cp = parseNoteCheckpoint(got.checkpoint);
    if (typeof cp === 'string' || !frontier.root()?.equals(cp.root)) return 'its records do not hash to its checkpoint';
    if ((got.base?.checkpoint ?? null) !== (live.base?.checkpoint ?? null)) return 'its base checkpoint differs';
    return null;
  }

  /** Deletes the oldest archived segments sealed before the retention, after a `segment.expired` record says which. */
  private async expire(): Promise<void> {
    const days = this.opts.retainArchiveDays ?? 400;
    const before = new Date(Date.now() - days * 86_400_000).toISOString();
    const pruned = prunedThrough(this.store);
    const run: number[] = [];
    for await (const e of this.archive.list()) {
      // Only what has left the live store, and oldest first, so what is left is one unbroken log.
      if (e.segment >= pruned || e.sealedAt >= before || run.length >= BATCH) break;
      run.push(e.segment);
    }
    if (run.length === 0) return;
    const first = await this.archive.get(run[0]!);
    const last = await this.archive.get(run[run.length - 1]!);
    if (!first || !last) return;
    await this.log.append({ type: 'segment.expired', first_segment: first.segment, last_segment: last.segment, first: first.first, last: last.size - 1, sealed_before: before, retain_days: days });
    for (const s of run) await this.archive.delete(s);
    this.expired += run.length;
    this.opts.log?.('info', 'expired audit segments deleted from the archive', { first_segment: first.segment, last_segment: last.segment, archive: this.archive.where, retain_days: days });
  }

  /** A record and a log line when the store first crosses 80 % and 90 % (again after it fell back under). */
  private async watchFill(): Promise<void> {
    this.fill = this.log.fill();
    const ratio = this.fill.usedBytes / this.fill.capBytes;
    const level = FILL_LEVELS.find((l) => ratio >= l) ?? 0;
    if (level <= this.fillLevel) {
      this.fillLevel = level;
      return;
    }
    this.fillLevel = level;
    const percent = Math.round(level * 100);
    this.opts.log?.('warn', `the audit log's live store is ${percent} % full`, { used_bytes: this.fill.usedBytes, max_bytes: this.fill.capBytes, dir: this.log.dir });
    await this.log.append({ type: 'audit.store_fill', percent, used_bytes: this.fill.usedBytes, max_bytes: this.fill.capBytes }).catch(() => undefined);
  }
}

/**
 * Records `first..end-1` of the store, copied (from views into LMDB's read buffer) into one segment
 * body as the writer lays it out (segment-body.ts): one allocation a segment, not one a record,
 * and the archive stores the body without joining it again. They carry no leaves: read from
 * storage, they are hashed.
 */
function readRecords(store: Store, first: number, end: number): readonly Buffer[] {
  const body = new SegmentBody();
  for (const { value } of store.recordViews.getRange({ start: first, end })) body.add(value);
  return body.done().records;
}
