/**
 * The cluster store as an audit archive (docs/cluster.md, docs/audit-format.md §10): the
 * `AuditArchive` backend the archiver (src/audit/archiver.ts) drives in cluster mode, as it drives
 * the folder archive on a single node. One instance serves one node's log (its origin); every
 * node's log lands in the same tables, which makes them the prompt central copy PCI DSS 10.3.3 asks
 * for.
 *
 * It is also a **witness**: in the transaction that stores a segment, under a lock on its log, it
 * checks that
 *   - the checkpoint is signed by a key it holds for that log (the first checkpoint a log ever
 *     brings registers its key; a new key is taken only when the segment carries the log's
 *     `key.rotated` record naming it and a key already held), and
 *   - the segment's records, hashed onto the compact range it starts from, give the checkpoint's
 *     root, and that range is the tree of the last checkpoint held (same size, same root): the new
 *     checkpoint is a consistent extension of the old one without a separate proof;
 * and refuses anything else (a rewritten, rolled-back or forked log) with `CheckpointRefused`
 * naming both tree sizes. Storing a checkpoint already held again (cosignatures added) is allowed.
 * Deleting a segment (retention) keeps its checkpoint: the witness's memory does not expire.
 */
import { createPublicKey, type KeyObject } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type pg from 'pg';
import { Frontier, hasSignature, joinRecords, leafHash, parseNoteCheckpoint, parseRecord, segmentFileName, type ArchivedSegment, type ArchiveEntry, type AuditArchive, type NoteCheckpoint, type TrustedKey } from '../audit/index.js';
import { copyRow, Int } from './copy-row.js';
import { ArchiveGap, CheckpointRefused, ClusterUnavailable } from './errors.js';
import { inTransaction } from './transaction.js';
import { RegateError } from '../util/index.js';

export interface ArchivedLog {
  origin: string;
  node: string;
  tree_size: number;
  segments: number;
}

export interface PostgresArchiveOptions {
  /** The log this instance archives (the node's `AuditLog.origin`). */
  origin: string;
  /** The node publishing it (stored with each row, shown by `cluster status`). */
  node: string;
  /** The node's signing key and the rotated-out keys it still trusts (public halves). */
  keys: readonly TrustedKey[];
  /** Where the store is, for messages (no password). */
  target: string;
}

/** Segments listed per query: a year of archive is read a page at a time. */
const PAGE = 200;

interface SegmentRow {
  segment: number;
  body: Buffer;
  checkpoint: string;
  tree_size: string;
  first_seq: string | null;
  base_checkpoint: string | null;
  base_frontier: Buffer | null;
  sealed_at: string | null;
  received_at_ms: string;
}

export class PostgresArchive implements AuditArchive {
  readonly where: string;
  /** `put` copies the body to the socket and keeps nothing (copy-row.ts). */
  readonly releasesRecords = true;

  constructor(private readonly pool: pg.Pool, private readonly opts: PostgresArchiveOptions) {
    this.where = `postgres ${opts.target} (log ${opts.origin})`;
  }

  async put(s: ArchivedSegment): Promise<void> {
    const cp = this.checked(s);
    const body = joinRecords(s.records);
    await this.transaction(`archive segment ${s.segment}`, async (client) => {
      // One writer per log at a time: the checks and the insert see the same last checkpoint.
      await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [cp.origin]);
      await this.checkSigner(client, cp, s);
      await this.checkExtends(client, cp, s);
      const now = Date.now();
      await client.query(
        `INSERT INTO regate_audit_checkpoints (origin, tree_size, root_hash, checkpoint, node, received_at_ms) VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (origin, tree_size) DO UPDATE SET checkpoint = EXCLUDED.checkpoint`,
        [cp.origin, cp.size, cp.root.toString('hex'), s.checkpoint, this.opts.node, now]);
      // Stored again (cosignatures came later): the row is replaced, in this transaction.
      await client.query('DELETE FROM regate_audit_segments WHERE origin = $1 AND segment = $2', [cp.origin, s.segment]);
      // COPY, not INSERT: the body goes from the log's buffer to the socket uncopied (copy-row.ts).
      await copyRow(client, 'regate_audit_segments', {
        origin: cp.origin, segment: Int.int4(s.segment), body, node: this.opts.node, received_at_ms: Int.int8(now), tree_size: Int.int8(cp.size),
        first_seq: Int.int8(s.first), base_checkpoint: s.base?.checkpoint ?? null, base_frontier: s.base ? Buffer.concat(s.base.frontier) : null, sealed_at: s.sealedAt,
      });
    });
  }

  async get(segment: number): Promise<ArchivedSegment | null> {
    const r = await this.query<SegmentRow>(`read archived segment ${segment}`,
      `SELECT s.segment, s.body, c.checkpoint, s.tree_size, s.first_seq, s.base_checkpoint, s.base_frontier, s.sealed_at, s.received_at_ms
       FROM regate_audit_segments s JOIN regate_audit_checkpoints c ON c.origin = s.origin AND c.tree_size = s.tree_size
       WHERE s.origin = $1 AND s.segment = $2`, [this.opts.origin, segment]);
    const row = r.rows[0];
    if (!row) return null;
    const records = splitRecords(row.body);
    const size = Number(row.tree_size);
    const { first, base } = row.first_seq === null ? await this.legacyBase(size) : {
      first: Number(row.first_seq),
      base: row.base_checkpoint === null ? null : { checkpoint: row.base_checkpoint, frontier: Frontier.decode(Number(row.first_seq), row.base_frontier ?? Buffer.alloc(0)).nodes },
    };
    return { segment, first, size, checkpoint: row.checkpoint, base, records, sealedAt: row.sealed_at ?? new Date(Number(row.received_at_ms)).toISOString() };
  }

  async *list(from = 0): AsyncIterable<ArchiveEntry> {
    for (let next = from; ;) {
      const r = await this.query<{ segment: number; sealed_at: string | null; received_at_ms: string; bytes: number }>('list the audit archive',
        `SELECT segment, sealed_at, received_at_ms, octet_length(body) AS bytes FROM regate_audit_segments
         WHERE origin = $1 AND segment >= $2 ORDER BY segment LIMIT ${PAGE}`, [this.opts.origin, next]);
      for (const row of r.rows) yield { segment: row.segment, sealedAt: row.sealed_at ?? new Date(Number(row.received_at_ms)).toISOString(), bytes: row.bytes };
      if (r.rows.length < PAGE) return;
      next = r.rows[r.rows.length - 1]!.segment + 1;
    }
  }

  async delete(segment: number): Promise<void> {
    await this.query(`delete archived segment ${segment}`, 'DELETE FROM regate_audit_segments WHERE origin = $1 AND segment = $2', [this.opts.origin, segment]);
  }

  async close(): Promise<void> {
    // The pool belongs to the cluster store, which closes it.
  }

  /** The segment's checkpoint, after the checks that need no database: its log, its range, its root. */
  private checked(s: ArchivedSegment): NoteCheckpoint {
    const refuse = (why: string): never => {
      throw new CheckpointRefused(`node ${this.opts.node}: segment ${s.segment} of ${this.opts.origin} refused: ${why}`);
    };
    const cp = parseNoteCheckpoint(s.checkpoint);
    if (typeof cp === 'string') return refuse(`its checkpoint ${cp}`);
    if (cp.origin !== this.opts.origin) refuse(`its checkpoint is of log ${cp.origin}`);
    if (cp.size !== s.size || s.first + s.records.length !== s.size) refuse(`it holds records ${s.first}..${s.first + s.records.length - 1} but its checkpoint's tree size is ${cp.size}`);
    const base = s.base === null ? null : parseNoteCheckpoint(s.base.checkpoint);
    if (typeof base === 'string') return refuse(`its base checkpoint ${base}`);
    if (base === null ? s.first !== 0 : base.size !== s.first || base.origin !== cp.origin) refuse(`it starts at record ${s.first} but its base checkpoint is ${base === null ? 'missing' : `of size ${base.size}`}`);
    let frontier: Frontier;
    try {
      frontier = new Frontier(s.first, s.base?.frontier ?? []);
    } catch (err) {
      return refuse(`its base range: ${(err as Error).message}`);
    }
    if (base !== null && !frontier.root()!.equals(base.root)) refuse(`its base range does not hash to its base checkpoint's root (tree size ${base.size})`);
    // Leaves the writer hashed from these bytes as it appended them are not hashed again.
    const leaves = s.leaves?.length === s.records.length ? s.leaves : null;
    for (let i = 0; i < s.records.length; i++) frontier.push(leaves ? leaves[i]! : leafHash(s.records[i]!));
    if (!frontier.root()?.equals(cp.root)) refuse(`its records do not hash to its checkpoint's root (tree size ${cp.size})`);
    return cp;
  }

  /** The checkpoint is signed by a key the archive holds for its log, or by a new key the log vouches for. */
  private async checkSigner(client: pg.PoolClient, cp: NoteCheckpoint, s: ArchivedSegment): Promise<void> {
    const held = (await client.query<{ kid: string; public_key: string }>('SELECT kid, public_key FROM regate_audit_keys WHERE origin = $1', [cp.origin])).rows;
    if (held.some((k) => hasSignature(cp, cp.origin, createPublicKey(k.public_key)) === true)) return;
    const signer = this.opts.keys.find((k) => hasSignature(cp, cp.origin, k.key) === true);
    const heldIds = held.map((k) => k.kid);
    const refuse = (why: string): never => {
      throw new CheckpointRefused(`node ${this.opts.node}: the checkpoint of tree size ${cp.size} of ${cp.origin} ${why}`);
    };
    if (!signer) refuse(`is signed by no key the archive holds for this log (${heldIds.join(', ') || 'none yet'}) nor by this node's key`);
    let vouchedBy: string | null = null;
    if (held.length > 0) {
      vouchedBy = rotationFrom(s.records, signer!.kid, heldIds);
      if (vouchedBy === null) refuse(`is signed by key ${signer!.kid}, which the archive does not hold for this log (it holds ${heldIds.join(', ')}); a new key is taken only from a segment whose key.rotated record names it and a key the archive holds`);
    }
    await client.query(
      'INSERT INTO regate_audit_keys (origin, kid, public_key, node, vouched_by, added_at_ms) VALUES ($1, $2, $3, $4, $5, $6)',
      [cp.origin, signer!.kid, publicPem(signer!.key), this.opts.node, vouchedBy, Date.now()]);
  }

  /** The segment extends the last checkpoint held for its log, or repeats one held. */
  private async checkExtends(client: pg.PoolClient, cp: NoteCheckpoint, s: ArchivedSegment): Promise<void> {
    const last = (await client.query<{ tree_size: string; checkpoint: string }>(
      'SELECT tree_size, checkpoint FROM regate_audit_checkpoints WHERE origin = $1 ORDER BY tree_size DESC LIMIT 1', [cp.origin])).rows[0];
    if (!last) return;
    const heldSize = Number(last.tree_size);
    const refuse = (why: string): never => {
      throw new CheckpointRefused(`node ${this.opts.node}: tree size ${cp.size} of ${cp.origin} (segment ${s.segment}) ${why}; the archive holds this log at tree size ${heldSize}`);
    };
    if (cp.size <= heldSize) {
      // Stored again (the archiver adds cosignatures that came later): only the same tree head.
      const same = (await client.query<{ checkpoint: string }>('SELECT checkpoint FROM regate_audit_checkpoints WHERE origin = $1 AND tree_size = $2', [cp.origin, cp.size])).rows[0];
      if (!same) refuse('is not a checkpoint the archive holds: a rolled-back log');
      if (textOf(same!.checkpoint) !== cp.text) refuse(`has another root than the checkpoint archived at that size: a forked log`);
      return;
    }
    const base = s.base === null ? null : (parseNoteCheckpoint(s.base.checkpoint) as NoteCheckpoint);
    const baseSize = base?.size ?? 0;
    if (baseSize > heldSize) throw new ArchiveGap(`node ${this.opts.node}: segment ${s.segment} of ${cp.origin} starts at tree size ${baseSize}, but the archive holds this log only up to tree size ${heldSize}: archive the segments between first`);
    if (baseSize < heldSize) refuse(`starts from tree size ${baseSize}, below what the archive holds: the log does not extend its archived history (a fork)`);
    if (base!.text !== textOf(last.checkpoint)) refuse(`starts from a tree of size ${heldSize} whose root differs from the archived checkpoint's: a forked log`);
  }

  /** Where a segment archived before migration 4 starts: the checkpoint before it, and the range rebuilt from the segments before it. */
  private async legacyBase(size: number): Promise<{ first: number; base: ArchivedSegment['base'] }> {
    const prev = (await this.query<{ tree_size: string; checkpoint: string }>('read the audit archive',
      'SELECT tree_size, checkpoint FROM regate_audit_checkpoints WHERE origin = $1 AND tree_size < $2 ORDER BY tree_size DESC LIMIT 1', [this.opts.origin, size])).rows[0];
    if (!prev) return { first: 0, base: null };
    const first = Number(prev.tree_size);
    const frontier = new Frontier();
    for (let next = 0; frontier.size < first;) {
      const r = await this.query<{ segment: number; body: Buffer }>('read the audit archive',
        `SELECT segment, body FROM regate_audit_segments WHERE origin = $1 AND segment >= $2 AND tree_size <= $3 ORDER BY segment LIMIT 20`, [this.opts.origin, next, first]);
      if (r.rows.length === 0) break;
      for (const row of r.rows) for (const rec of splitRecords(row.body)) frontier.push(leafHash(rec));
      next = r.rows[r.rows.length - 1]!.segment + 1;
    }
    if (frontier.size !== first) throw new ClusterUnavailable(`the audit archive of ${this.opts.origin} lacks segments before tree size ${first} (a segment archived before schema 4 needs them to rebuild its base)`);
    return { first, base: { checkpoint: prev.checkpoint, frontier: frontier.nodes } };
  }

  private async query<R extends pg.QueryResultRow>(what: string, sql: string, params: unknown[]): Promise<pg.QueryResult<R>> {
    try {
      return await this.pool.query<R>(sql, params);
    } catch (err) {
      throw new ClusterUnavailable(`cannot ${what} in ${this.where}: ${(err as Error).message}`, { cause: err });
    }
  }

  private transaction(what: string, fn: (client: pg.PoolClient) => Promise<void>): Promise<void> {
    return inTransaction(this.pool, 'BEGIN', fn, (err) =>
      err instanceof RegateError ? err : new ClusterUnavailable(`cannot ${what} in ${this.where}: ${(err as Error).message}`, { cause: err }));
  }
}

/** The stored body: each record's canonical bytes and a newline (canonical JSON holds no raw newline). */
function splitRecords(body: Buffer): Buffer[] {
  const records: Buffer[] = [];
  for (let start = 0; start < body.length;) {
    const end = body.indexOf(0x0a, start);
    records.push(body.subarray(start, end < 0 ? body.length : end));
    start = end < 0 ? body.length : end + 1;
  }
  return records;
}

/** A checkpoint note's signed text (origin, size, root), without its signature lines. */
function textOf(note: string): string {
  const cp = parseNoteCheckpoint(note);
  return typeof cp === 'string' ? note : cp.text;
}

function publicPem(key: KeyObject): string {
  return (key.type === 'private' ? createPublicKey(key) : key).export({ type: 'spki', format: 'pem' }).toString();
}

/** The held key a `key.rotated` record in these records names as `kid`'s predecessor, or null. */
function rotationFrom(records: readonly Buffer[], kid: string, held: readonly string[]): string | null {
  for (const bytes of records) {
    // Only the records that could be one are parsed.
    if (!bytes.includes('"key.rotated"')) continue;
    const r = parseRecord(bytes);
    if (typeof r === 'string') continue;
    const e = r.event as { type?: string; kid?: string; previous_kid?: string | null };
    if (e.type === 'key.rotated' && e.kid === kid && typeof e.previous_kid === 'string' && held.includes(e.previous_kid)) return e.previous_kid;
  }
  return null;
}

/** Every log the archive holds, with the node that published it. */
export async function archivedLogs(pool: pg.Pool): Promise<ArchivedLog[]> {
  const r = await pool.query<{ origin: string; node: string; tree_size: string; segments: string }>(
    `SELECT c.origin, max(c.node) AS node, max(c.tree_size) AS tree_size,
            (SELECT count(*) FROM regate_audit_segments s WHERE s.origin = c.origin) AS segments
     FROM regate_audit_checkpoints c GROUP BY c.origin ORDER BY max(c.node), c.origin`);
  return r.rows.map((x) => ({ origin: x.origin, node: x.node, tree_size: Number(x.tree_size), segments: Number(x.segments) }));
}

/** The archive's last checkpoint for `origin`: its tree size and note (null: none yet). */
export async function lastArchived(pool: pg.Pool, origin: string): Promise<{ size: number; note: string } | null> {
  try {
    const r = await pool.query<{ tree_size: string; checkpoint: string }>(
      'SELECT tree_size, checkpoint FROM regate_audit_checkpoints WHERE origin = $1 ORDER BY tree_size DESC LIMIT 1', [origin]);
    const row = r.rows[0];
    return row ? { size: Number(row.tree_size), note: row.checkpoint } : null;
  } catch (err) {
    throw new ClusterUnavailable(`cannot read the audit archive: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * Writes the archived segments of `origin` as an export folder (segment files and their
 * checkpoints, docs/audit-format.md §5), to be verified like any export. Returns the segment numbers.
 */
export async function writeArchivedExport(pool: pg.Pool, origin: string, out: string): Promise<number[]> {
  mkdirSync(out, { recursive: true });
  const written: number[] = [];
  // A few segments a query: a year of archive is written without holding it in memory.
  for (let next = 0; ;) {
    const r = await pool.query<{ segment: number; body: Buffer; checkpoint: string }>(
      `SELECT s.segment, s.body, c.checkpoint FROM regate_audit_segments s
       JOIN regate_audit_checkpoints c ON c.origin = s.origin AND c.tree_size = s.tree_size
       WHERE s.origin = $1 AND s.segment >= $2 ORDER BY s.segment LIMIT ${EXPORT_PAGE}`, [origin, next]);
    for (const row of r.rows) {
      writeFileSync(join(out, segmentFileName(row.segment, 'jsonl')), row.body);
      writeFileSync(join(out, segmentFileName(row.segment, 'checkpoint.json')), JSON.stringify({ note: row.checkpoint }) + '\n');
      written.push(row.segment);
    }
    if (r.rows.length < EXPORT_PAGE) return written;
    next = r.rows[r.rows.length - 1]!.segment + 1;
  }
}

/** Segments read per query by an export: each up to ~20 MB. */
const EXPORT_PAGE = 8;
