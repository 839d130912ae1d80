/**
 * The writer: numbers records, chains their hashes, batches concurrent appends into LMDB
 * transactions (lmdb-js commits one event turn's puts together) and acknowledges an append only once
 * it is durable; cuts segments by count, age and on close, and at each cut signs a checkpoint over
 * the whole log (a C2SP signed note: origin, tree size, root), kept with the tree's compact range so
 * proofs and partial exports need not read the log from its start.
 */
import { createPrivateKey, randomUUID, type KeyObject } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { parseNoteCheckpoint, signNoteCheckpoint } from './checkpoint.js';
import { AuditClosedError, AuditLogFullError, AuditReadOnlyError, AuditStoreMismatchError, AuditWriteError } from './errors.js';
import { eventJson, type AuditEvent, type Scrub } from './events.js';
import { Frontier, leafHash } from './merkle.js';
import { lockWriter } from './lock.js';
import { hasSignature, validName } from './note.js';
import type { TrustedKey } from './keys.js';
import { VERSION } from '../util/index.js';
import type { AppendedRecords } from './archive.js';
import { encodeRecord, GENESIS_PREV } from './record.js';
import { SegmentBody, SpareBuffers } from './segment-body.js';
import { checkpointEnd, lastRecordKey, lastStoredCheckpoint, newStorePageSize, openStore, storeBytes, storePageSize, storedCheckpoints, type Durability, type Store } from './store.js';

export interface AuditLogOptions {
  dir: string;
  /** Ed25519 private key, or its PKCS8 PEM. */
  signingKey: KeyObject | string;
  keyId: string;
  /** Fixed when the log is created; a different id for an existing log is refused. */
  logId?: string;
  /**
   * The checkpoints' origin line (and signature name), fixed when the log is created; default
   * `regate.audit/<log id>`. A schema-less URL without spaces or '+'.
   */
  origin?: string;
  /** Seal a segment when it holds this many records (default 10,000). */
  segmentRecords?: number;
  /** Seal a segment when its first record is this old (default 60). */
  segmentSeconds?: number;
  /** The most the log may occupy on disk; appends beyond it reject with AuditLogFullError (default 64 GiB). */
  mapSizeBytes?: number;
  durability?: Durability;
  /** The LMDB page size of a store this creates (default newStorePageSize: 32 KiB, 4 KiB under a 256 MiB map); an existing store keeps its own. */
  pageSizeBytes?: number;
  /** Defence in depth: every string of every event (values and keys) passes through it. */
  scrub?: Scrub;
  /**
   * A file outside the store (the gateway's state folder) where each checkpoint is published as it
   * is sealed. At open the store must extend the checkpoint found there, else the log refuses to
   * open (AuditStoreMismatchError): a rolled-back, truncated or rewritten store is not signed on.
   */
  publishedFile?: string;
  /**
   * The newest checkpoint each configured witness cosigned of this log's origin (src/witness asks
   * them): the store must extend each too, so a store rolled back together with its published file
   * is still caught. Witnesses that cannot be asked are the caller's to report (and are skipped).
   */
  witnessed?: (origin: string) => Promise<WitnessedCheckpoint[]>;
  /** Open anyway when the store does not extend the published (or a witnessed) checkpoint; the reason is recorded as `gateway.override`. */
  override?: string;
  /** Keys that signed this log before (rotated out): the one that signed the last checkpoint is vouched for in a `key.rotated` record. */
  previousKeys?: readonly TrustedKey[];
}

/** A checkpoint a witness cosigned, as it answered it: who (its name and URL) and the signed note. */
export interface WitnessedCheckpoint {
  witness: string;
  url: string;
  note: string;
}

/** A checkpoint as sealed: its segment, the records it adds, and the signed note over the whole log. */
export interface Sealed {
  segment: number;
  /** The segment's first record; it ends at record size - 1. */
  first: number;
  size: number;
  note: string;
  /**
   * The segment's records and their leaf hashes as this process appended them (after
   * `keepSealedRecords()`), so the archiver neither reads a just-sealed segment back from the store
   * nor hashes it again; null when some were written before the log was opened (a crash's open
   * segment) or nobody asked.
   */
  appended?: AppendedRecords | null;
}

interface OpenSegment {
  number: number;
  first: number;
  count: number;
  openedAt: number;
  /** Only segment.sealed records so far: not worth sealing on age alone. */
  onlySealEvents: boolean;
  /** Its records as appended (while `keepSealedRecords()` asks), null when it began before this process. */
  appended: SegmentBody | null;
}

const DEFAULT_MAP_SIZE = 64 * 2 ** 30;
/**
 * Kept free for checkpoints so a full log can still seal what it holds: a seal copies a few pages
 * of each database on write, so the reserve is counted in pages (16), at least 256 KiB.
 */
const sealReserve = (pageSize: number) => Math.max(256 * 1024, 16 * pageSize);
/** Estimated LMDB bytes per record beyond its own bytes (key, node header, page slack). */
const RECORD_OVERHEAD = 64;

export class AuditLog {
  readonly logId: string;
  readonly origin: string;
  readonly dir: string;
  private readonly store: Store;
  private readonly key: KeyObject;
  private readonly segmentRecords: number;
  private readonly scrub: Scrub | undefined;
  private readonly capBytes: number;
  private readonly sealReserve: number;
  private nextSeq: number;
  private prevHash: string;
  private segment: OpenSegment;
  /** The compact range of every record numbered so far (written or not yet). */
  private readonly frontier: Frontier;
  private readonly sealListeners: Array<(s: Sealed) => void> = [];
  private readonly closeHooks: Array<() => Promise<void>> = [];
  private readonly publishedFile: string | undefined;
  private keepRecords = false;
  /** Stored segments' buffers, back from the archiver for later segments' bodies. */
  private readonly spares = new SpareBuffers();
  private lastWrite: Promise<unknown> = Promise.resolve();
  private sealQueue: Promise<unknown> = Promise.resolve();
  private usedBytes = 0;
  private bytesSinceMeasure = 0;
  private failure: AuditWriteError | null = null;
  /** The last refusal for want of space, until an append fits again. */
  private full: AuditLogFullError | null = null;
  private readonly unwritable: AuditReadOnlyError | null;
  private closed = false;
  private closing: Promise<void> | undefined;
  private readonly timer: NodeJS.Timeout | undefined;
  private readonly unlock: () => void;

  private constructor(store: Store, opts: AuditLogOptions, ids: { logId: string; origin: string }, unwritable: AuditReadOnlyError | null, unlock: () => void) {
    this.store = store;
    this.unlock = unlock;
    this.dir = opts.dir;
    this.logId = ids.logId;
    this.origin = ids.origin;
    this.publishedFile = opts.publishedFile;
    this.unwritable = unwritable;
    this.key = opts.signingKey as KeyObject;
    this.segmentRecords = opts.segmentRecords ?? 10_000;
    this.scrub = opts.scrub;
    this.sealReserve = sealReserve(storePageSize(store));
    this.capBytes = (opts.mapSizeBytes ?? DEFAULT_MAP_SIZE) - this.sealReserve;
    const last = lastStoredCheckpoint(store);
    const lastKey = lastRecordKey(store);
    const first = last && typeof last.checkpoint !== 'string' ? checkpointEnd(last.checkpoint) : 0;
    // Pruning never takes the newest sealed segment's records, so the last record is always there to chain to.
    if (lastKey + 1 < first) throw new AuditWriteError(`the audit log at ${opts.dir} lacks its newest records (its last checkpoint covers ${first} records, the store ends at record ${lastKey})`);
    this.nextSeq = lastKey + 1;
    const kept = last ? store.frontiers.getBinary(last.key) : undefined;
    // A format 1 log (or a lost frontier) is read once from its start to build the whole-log tree.
    this.frontier = kept ? Frontier.decode(first, kept) : new Frontier();
    for (const { value } of store.records.getRange({ start: this.frontier.size })) this.frontier.push(leafHash(value));
    this.prevHash = lastKey >= 0 ? leafHash(store.records.getBinary(lastKey)!).toString('hex') : GENESIS_PREV;
    // Records written after the last checkpoint (a crash before sealing) form the open segment again.
    this.segment = { number: last ? last.key + 1 : 0, first, count: this.nextSeq - first, openedAt: Date.now(), onlySealEvents: false, appended: null };
    this.measure();
    const seconds = opts.segmentSeconds ?? 60;
    if (!unwritable) {
      this.timer = setInterval(() => this.sealIfOld(seconds * 1000), Math.min(seconds * 1000, 1000));
      this.timer.unref();
    }
  }

  /** Opens (or creates) the log in `dir`; seals records a crash left unsealed. */
  static async open(opts: AuditLogOptions): Promise<AuditLog> {
    const key = typeof opts.signingKey === 'string' ? createPrivateKey(opts.signingKey) : opts.signingKey;
    if (key.type !== 'private' || key.asymmetricKeyType !== 'ed25519') throw new AuditWriteError(`the audit signing key ${opts.keyId} is not an Ed25519 private key`);
    let store: Store;
    let unwritable: AuditReadOnlyError | null = null;
    let unlock = () => {};
    let deadWriter: number | null = null;
    try {
      mkdirSync(opts.dir, { recursive: true });
      ({ release: unlock, deadWriter } = lockWriter(opts.dir));
      store = openStore(opts.dir, { durability: opts.durability, mapSizeBytes: Math.min(opts.mapSizeBytes ?? DEFAULT_MAP_SIZE, 2 ** 30), pageSizeBytes: opts.pageSizeBytes ?? newStorePageSize(opts.mapSizeBytes ?? DEFAULT_MAP_SIZE) });
    } catch (err) {
      unlock();
      if (err instanceof AuditWriteError) throw err;
      if (!isPermissionError(err)) throw new AuditWriteError(`cannot open the audit log at ${opts.dir}: ${(err as Error).message}`, { cause: err });
      // Readable but not writable: open for reading, so the gateway can start and refuse requests with a clear reason.
      unwritable = new AuditReadOnlyError(`the audit log at ${opts.dir} cannot be written (${(err as Error).message}); no record can be made durable`, { cause: err });
      try {
        store = openStore(opts.dir, { readOnly: true });
      } catch (readErr) {
        throw new AuditReadOnlyError(`the audit log at ${opts.dir} can be neither written nor read: ${(readErr as Error).message}`, { cause: readErr });
      }
    }
    const stored = store.meta.get('log_id');
    const storedOrigin = store.meta.get('origin');
    const refuse = async (why: string): Promise<never> => {
      await store.env.close();
      unlock();
      throw new AuditWriteError(`the audit log at ${opts.dir} ${why}`);
    };
    if (stored !== undefined && opts.logId !== undefined && stored !== opts.logId) await refuse(`has log id ${stored}, not ${opts.logId}`);
    if (storedOrigin !== undefined && opts.origin !== undefined && storedOrigin !== opts.origin) await refuse(`has origin ${storedOrigin}, not ${opts.origin}`);
    if (opts.origin !== undefined && !validName(opts.origin)) await refuse(`cannot take the origin "${opts.origin}": it must be non-empty, without spaces or '+'`);
    const broken = lastStoredCheckpoint(store);
    if (broken && typeof broken.checkpoint === 'string') await refuse(`holds a checkpoint for segment ${broken.key} that cannot be read: ${broken.checkpoint}`);
    let mismatch = opts.publishedFile && !unwritable ? storeMismatch(store, opts.dir, opts.publishedFile) : null;
    const askOrigin = storedOrigin ?? opts.origin ?? (stored === undefined ? undefined : `regate.audit/${stored}`);
    if (mismatch === null && opts.witnessed && !unwritable && askOrigin !== undefined) {
      let witnessed: WitnessedCheckpoint[];
      try {
        witnessed = await opts.witnessed(askOrigin);
      } catch (err) {
        await store.env.close();
        unlock();
        throw err;
      }
      for (const w of witnessed) {
        mismatch = checkpointMismatch(store, opts.dir, w.note, { who: `witness ${w.witness} cosigned`, where: w.url, lagging: true });
        if (mismatch !== null) break;
      }
    }
    if (mismatch !== null && opts.override === undefined) {
      await store.env.close();
      unlock();
      throw new AuditStoreMismatchError(`${mismatch}. The gateway will not sign on top of it; restore the store, or start with --accept-audit-store REASON to go on (the reason is recorded)`);
    }
    const logId = stored ?? opts.logId ?? randomUUID();
    const origin = storedOrigin ?? opts.origin ?? `regate.audit/${logId}`;
    const log = new AuditLog(store, { ...opts, signingKey: key }, { logId, origin }, unwritable, unlock);
    if (!unwritable && (stored === undefined || storedOrigin === undefined)) {
      await log.write(Promise.all([store.meta.put('log_id', logId), store.meta.put('origin', origin)]), 'the log id');
    }
    if (mismatch !== null) await log.append({ type: 'gateway.override', version: VERSION, reason: `${opts.override}: ${mismatch}` });
    if (!unwritable && broken && typeof broken.checkpoint !== 'string') {
      const last = broken.checkpoint;
      const signedByMe = last.v === 2 ? hasSignature(last, last.origin, key) === true : last.kid === opts.keyId;
      if (!signedByMe) {
        const previous = (opts.previousKeys ?? []).find((k) => (last.v === 2 ? hasSignature(last, last.origin, k.key) === true : last.kid === k.kid));
        await log.append({ type: 'key.rotated', kid: opts.keyId, previous_kid: previous?.kid ?? (last.v === 1 ? last.kid : null) });
      }
    }
    if (!unwritable && (deadWriter !== null || log.segment.count > 0)) {
      // An unclean stop: say so in the log, then seal what the dead writer left open.
      const open = log.segment.count;
      const who = deadWriter ? `process ${deadWriter}` : 'the previous writer';
      await log.append({
        type: 'gateway.recovered', version: VERSION,
        reason: `${who} stopped without closing the audit log${open > 0 ? `; records ${log.segment.first}..${log.segment.first + open - 1} were not sealed and are sealed now` : ''}`,
      });
      await log.cut(false);
    }
    return log;
  }

  /** Appends one event; resolves with its record number once it is durable. */
  append(event: AuditEvent): Promise<{ seq: number }> {
    let json: string;
    try {
      json = eventJson(event, this.scrub);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.appendCanonical(event.type, json);
  }

  /**
   * Appends an event already in canonical JSON with its strings scrubbed, as `append` would have
   * written it: a `--workers` worker encodes its own records, so the primary, which every record
   * passes through, only numbers, chains and stores them.
   */
  appendCanonical(type: AuditEvent['type'], eventJson: string): Promise<{ seq: number }> {
    const refused = this.closed ? new AuditClosedError(`the audit log at ${this.dir} is closed`) : (this.unwritable ?? this.failure);
    if (refused) return Promise.reject(refused);
    let encoded: { bytes: Buffer; leaf: Buffer };
    try {
      encoded = encodeRecord(this.nextSeq, this.prevHash, new Date(), eventJson);
    } catch (err) {
      return Promise.reject(err);
    }
    const { bytes, leaf } = encoded;
    if (this.usedBytes + (this.bytesSinceMeasure + bytes.length + RECORD_OVERHEAD) > this.capBytes && this.measure() + bytes.length + RECORD_OVERHEAD > this.capBytes) {
      this.full = new AuditLogFullError(`the audit log at ${this.dir} is full: ${this.usedBytes} of ${this.capBytes + this.sealReserve} bytes (mapSizeBytes) used; record ${this.nextSeq} was not written`);
      return Promise.reject(this.full);
    }
    this.full = null;
    const seq = this.nextSeq++;
    this.prevHash = leaf.toString('hex');
    if (this.segment.count === 0) {
      this.segment.openedAt = Date.now();
      this.segment.onlySealEvents = true;
    }
    if (type !== 'segment.sealed') this.segment.onlySealEvents = false;
    this.segment.count++;
    this.segment.appended?.add(bytes, leaf);
    this.frontier.push(leaf);
    this.bytesSinceMeasure += bytes.length + RECORD_OVERHEAD;
    // MDB_APPEND: record numbers only grow, so each goes at the end of the last leaf page, which
    // LMDB then fills before starting the next (an ordinary put splits a full page in two and
    // leaves both half empty); a number not past the last is refused, never written over one.
    // (lmdb-js's put takes the options object as putSync does; its typings name only a version.)
    const written = this.write(this.store.records.put(seq, bytes, { append: true } as never), `record ${seq}`);
    this.lastWrite = written.catch(() => undefined);
    if (this.segment.count >= this.segmentRecords) this.cut(true).catch(() => undefined);
    return written.then(() => ({ seq }));
  }

  /**
   * From the next segment on, each `Sealed` carries its records' bytes and leaf hashes (the
   * archiver's copy of a segment then costs no read of the store and no hashing), copied as they
   * are appended into the segment's body (segment-body.ts).
   */
  keepSealedRecords(): void {
    this.keepRecords = true;
    if (this.segment.count === 0) this.segment.appended ??= new SegmentBody(undefined, undefined, this.spares);
  }

  /** Seals the open segment now; null when it holds no records. */
  seal(): Promise<Sealed | null> {
    return this.cut(false);
  }

  /** Calls `fn` with every checkpoint once it is durable (the witness client submits them). */
  onSeal(fn: (s: Sealed) => void): void {
    this.sealListeners.push(fn);
  }

  /**
   * Runs `fn` on close after the last seal and before the store closes (the witness client waits
   * there, briefly, to have the last checkpoint cosigned while it can still read its proof).
   */
  beforeClose(fn: () => Promise<void>): void {
    this.closeHooks.push(fn);
  }

  /** The store, for reading (proofs the witness client sends); the writer alone writes to it. */
  get reader(): Store {
    return this.store;
  }

  /**
   * Adds witnesses' cosignature lines to segment `segment`'s stored checkpoint (lines already there
   * are not added twice). The lines are not checked here: a reader checks them against the keys it trusts.
   */
  async addCosignatures(segment: number, lines: readonly string[]): Promise<void> {
    const done = this.sealQueue.then(async () => {
      const note = this.store.checkpoints.get(segment);
      if (note === undefined) throw new AuditWriteError(`segment ${segment} of the audit log at ${this.dir} has no checkpoint to cosign`);
      const have = new Set(note.split('\n'));
      const added = lines.map((l) => l.replace(/\n$/, '')).filter((l) => !have.has(l));
      if (added.length > 0) await this.write(this.store.checkpoints.put(segment, note + added.map((l) => l + '\n').join('')), `the cosignatures of segment ${segment}`);
    });
    this.sealQueue = done.catch(() => undefined);
    return done;
  }

  /** Why appends are refused now (the log is full, unwritable or failed), or null while they are taken. */
  refusing(): string | null {
    return (this.unwritable ?? this.failure ?? this.full)?.message ?? null;
  }

  /** How full the store is: the bytes its data occupies and the most it may (mapSizeBytes); refreshed by this call. */
  fill(): { usedBytes: number; capBytes: number } {
    return { usedBytes: this.measure(), capBytes: this.capBytes + this.sealReserve };
  }

  /**
   * Removes sealed segments' records from the live store once the archive holds them (the archiver
   * calls it after reading them back): records `first..size-1` of segments up to `segment`, and the
   * checkpoints and frontiers before `segment`'s, which stays as the base the live log starts from.
   * Never the newest sealed segment: the next record chains to its last one.
   */
  async prune(segment: number, first: number, size: number): Promise<void> {
    const done = this.sealQueue.then(async () => {
      const last = lastStoredCheckpoint(this.store);
      if (last === null || last.key <= segment) throw new AuditWriteError(`segment ${segment} of the audit log at ${this.dir} is the newest sealed one (or not sealed): it is not pruned`);
      const s = this.store;
      const records = [...s.records.getKeys({ start: first, end: size })];
      const checkpoints = [...s.checkpoints.getKeys({ end: segment })];
      const frontiers = [...s.frontiers.getKeys({ end: segment })];
      try {
        // Not through write(): a failed prune leaves records that are archived anyway, and must not stop appends.
        await s.env.transaction(() => {
          for (const key of records) void s.records.remove(key);
          for (const key of checkpoints) void s.checkpoints.remove(key);
          for (const key of frontiers) void s.frontiers.remove(key);
          void s.meta.put('pruned_through', String(segment));
        });
      } catch (err) {
        throw new AuditWriteError(`could not prune segment ${segment} from the audit log at ${this.dir}: ${(err as Error).message}`, { cause: err });
      }
    });
    this.sealQueue = done.catch(() => undefined);
    return done;
  }

  /** Seals the open segment, waits for every write, and closes the store. Appends after this reject. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      clearInterval(this.timer);
      // Seals under way announce themselves in the segment that closing seals last.
      await this.sealQueue;
      this.closed = true;
      try {
        if (!this.unwritable && !this.failure) await this.cut(false);
        await Promise.allSettled(this.closeHooks.map((fn) => fn()));
      } finally {
        await this.sealQueue;
        await this.store.env.close();
        this.unlock();
      }
    })();
    return this.closing;
  }

  private sealIfOld(ageMs: number): void {
    const s = this.segment;
    if (s.count > 0 && !s.onlySealEvents && Date.now() - s.openedAt >= ageMs && !this.failure) this.cut(true).catch(() => undefined);
  }

  /**
   * Closes the open segment in memory at once (so later appends start the next one), then, in
   * order behind earlier seals, waits for its records to be durable and writes its checkpoint.
   */
  private cut(announce: boolean): Promise<Sealed | null> {
    const s = this.segment;
    if (s.count === 0) return this.sealQueue.then(() => null);
    const size = s.first + s.count;
    this.segment = { number: s.number + 1, first: size, count: 0, openedAt: Date.now(), onlySealEvents: false, appended: this.keepRecords ? new SegmentBody(s.appended?.size, s.count, this.spares) : null };
    // The tree as of this cut: later appends go on growing the live frontier.
    const frontier = this.frontier.clone();
    const root = frontier.root()!;
    const recordsWritten = this.lastWrite;
    const sealed = this.sealQueue.then(async () => {
      await recordsWritten;
      if (this.failure) throw this.failure;
      const note = signNoteCheckpoint(this.origin, size, root, this.key);
      await this.write(Promise.all([this.store.frontiers.put(s.number, frontier.encode()), this.store.checkpoints.put(s.number, note)]), `the checkpoint of segment ${s.number}`);
      const done: Sealed = { segment: s.number, first: s.first, size, note, appended: s.appended?.done() ?? null };
      if (this.publishedFile) publish(this.publishedFile, note);
      if (announce) this.append({ type: 'segment.sealed', segment: s.number, first: s.first, last: size - 1, root: root.toString('hex') }).catch(() => undefined);
      for (const fn of this.sealListeners) {
        try {
          fn(done);
        } catch {
          // a listener's failure is its own (the witness client reports its own); the seal stands
        }
      }
      return done;
    });
    this.sealQueue = sealed.catch(() => undefined);
    return sealed;
  }

  /** Awaits a put (and the flush, when the durability mode asks); a failure stops all later appends. */
  private async write(put: Promise<unknown>, what: string): Promise<void> {
    try {
      await put;
      if (this.store.awaitFlush) await this.store.env.flushed;
    } catch (err) {
      const message = `could not write ${what} to the audit log at ${this.dir}: ${(err as Error).message}`;
      const failure = /MAP_FULL|ENOSPC/.test(String((err as Error).message))
        ? new AuditLogFullError(message, { cause: err })
        : isPermissionError(err)
          ? new AuditReadOnlyError(message, { cause: err })
          : new AuditWriteError(message, { cause: err });
      // Later records would chain to one that is not there: refuse them until the log is reopened.
      this.failure ??= failure;
      throw failure;
    }
  }

  /** Refreshes the bytes the store occupies; returns it. */
  private measure(): number {
    this.usedBytes = storeBytes(this.store);
    this.bytesSinceMeasure = 0;
    return this.usedBytes;
  }
}

/**
 * Why the store does not extend the checkpoint published in `file`, or null when it does (or none
 * was published yet). Checks what can be checked without reading the whole log: the store holds a
 * checkpoint of the published size with the same root, and its last checkpoint's stored compact
 * range folds to its root.
 */
function storeMismatch(store: Store, dir: string, file: string): string | null {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    return `the published checkpoint ${file} cannot be read: ${(err as Error).message}`;
  }
  return checkpointMismatch(store, dir, text, { who: 'this gateway published', where: file });
}

/**
 * Why the store does not extend the checkpoint `text` that `from.who` (at `from.where`), or null
 * when it does: the store holds a checkpoint of its size with the same root, and its last
 * checkpoint's stored compact range folds to its root.
 */
function checkpointMismatch(store: Store, dir: string, text: string, from: { who: string; where: string; lagging?: boolean }): string | null {
  const published = parseNoteCheckpoint(text);
  if (typeof published === 'string') return `the checkpoint ${from.who} (${from.where}) is not a checkpoint: ${published}`;
  let end = 0;
  let first: number | null = null;
  for (const s of storedCheckpoints(store)) {
    // A witness may lag behind pruning: a checkpoint older than the first one kept is checked by
    // `audit verify --archive`, not here.
    if (first === null && typeof s.checkpoint !== 'string') {
      first = checkpointEnd(s.checkpoint);
      if (from.lagging && published.size < first) return null;
    }
    if (typeof s.checkpoint === 'string') return `the audit log at ${dir} holds an unreadable checkpoint for segment ${s.key}: ${s.checkpoint}`;
    end = checkpointEnd(s.checkpoint);
    if (s.checkpoint.v === 2 && s.checkpoint.size === published.size) {
      if (!s.checkpoint.root.equals(published.root) || s.checkpoint.origin !== published.origin) {
        return `the audit log at ${dir} was rewritten: its checkpoint of tree size ${published.size} (segment ${s.key}) differs from the one ${from.who} (${from.where})`;
      }
      const last = lastStoredCheckpoint(store)!;
      const frontier = store.frontiers.getBinary(last.key);
      if (frontier && typeof last.checkpoint !== 'string' && last.checkpoint.v === 2 && !Frontier.decode(last.checkpoint.size, frontier).root()!.equals(last.checkpoint.root)) {
        return `the audit log at ${dir} was changed: the compact range kept with segment ${last.key} no longer folds to its checkpoint's root`;
      }
      return null;
    }
  }
  return end < published.size
    ? `the audit log at ${dir} ends at tree size ${end}, but ${from.who} a checkpoint of tree size ${published.size} (${from.where}): the store was rolled back or truncated`
    : `the audit log at ${dir} has no checkpoint of tree size ${published.size}, the one ${from.who} (${from.where}): the store was rewritten`;
}

/** Replaces `file` with the checkpoint, atomically (written beside it, then renamed). */
function publish(file: string, note: string): void {
  try {
    writeFileSync(`${file}.tmp`, note);
    renameSync(`${file}.tmp`, file);
  } catch {
    // The store holds the checkpoint; a stale published copy only makes the next start check weaker.
  }
}

function isPermissionError(err: unknown): boolean {
  const e = err as NodeJS.ErrnoException;
  return ['EACCES', 'EPERM', 'EROFS'].includes(e?.code ?? '') || /permission denied|read-only file system/i.test(String(e?.message));
}
