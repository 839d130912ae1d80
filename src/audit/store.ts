/**
 * The LMDB layout of a log directory: `records` (key: record number, value: the canonical bytes),
 * `checkpoints` (key: segment number, value: the checkpoint as text: a signed note, cosignatures
 * included, or a format 1 JWS), `frontiers` (key: segment number, value: the compact range of the
 * tree at that checkpoint, 32-byte hashes concatenated: what proofs and partial exports start from)
 * and `meta` (`log_id`, `origin`). The writer and the readers (verify, export, prove, replay, tail)
 * share it through this module only.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Database, RootDatabase } from 'lmdb';
import { openEnvironment } from '../util/index.js';
import { decodeAnyCheckpoint, type AnyCheckpoint } from './checkpoint.js';
import { AuditReadError } from './errors.js';

/**
 * How an append is made durable before it is acknowledged (see docs/audit-format.md and the README):
 * - `fsync` (default): committed, then fsync'd (lmdb overlappingSync, awaiting `flushed`); survives
 *   SIGKILL and power loss.
 * - `fsync-in-commit`: fsync inside the commit (overlappingSync off); same guarantee, writer lock held longer.
 * - `nometasync`: data pages fsync'd, meta page not; after power loss the last commit may roll back.
 * - `commit`: acknowledged when committed (in the OS page cache); survives SIGKILL, not power loss.
 * - `nosync`: never fsync'd; survives SIGKILL, not power loss, and a crash of the OS may corrupt it.
 */
export type Durability = 'fsync' | 'fsync-in-commit' | 'nometasync' | 'commit' | 'nosync';

const DURABILITY: Record<Durability, { lmdb: Record<string, boolean>; awaitFlush: boolean }> = {
  fsync: { lmdb: { overlappingSync: true }, awaitFlush: true },
  'fsync-in-commit': { lmdb: { overlappingSync: false }, awaitFlush: false },
  nometasync: { lmdb: { overlappingSync: false, noMetaSync: true }, awaitFlush: false },
  commit: { lmdb: { overlappingSync: true }, awaitFlush: false },
  nosync: { lmdb: { noSync: true }, awaitFlush: false },
};

export interface Store {
  dir: string;
  env: RootDatabase;
  records: Database<Buffer, number>;
  /**
   * The same records read as views into LMDB's read buffer instead of copies: each is valid only
   * until the next read. verify's stream hashes and checks a record before it reads the next, and
   * saves a copy (an allocation) per record.
   */
  recordViews: Database<Buffer, number>;
  checkpoints: Database<string, number>;
  frontiers: Database<Buffer, number>;
  meta: Database<string, string>;
  /** Whether an append must also wait for `env.flushed`. */
  awaitFlush: boolean;
}

/**
 * The page size of a store the writer creates (an existing store keeps the one it was made with).
 * LMDB keeps a value in a leaf page, packed with others, only when it fits in about half a page;
 * a larger one gets overflow pages of its own, rounded up to whole pages. With 4 KiB pages (LMDB's
 * default on Linux, and what stores made before had) most decision and outcome records (1.5 to 4 KB
 * with 8 KiB body captures) were just over that, so LMDB's pages came to 43 % of the store; with
 * 32 KiB pages the store is a third smaller and appends are not slower (bench/README.md "Audit
 * bytes per request").
 */
export const STORE_PAGE_SIZE = 32768;
/** A store capped below this (tests, tiny deployments) gets 4 KiB pages: at 32 KiB it would hold too few pages to fill finely. */
const SMALL_STORE_BYTES = 256 * 2 ** 20;

/** The page size for a new store capped at `mapSizeBytes`. */
export function newStorePageSize(mapSizeBytes: number): number {
  return mapSizeBytes < SMALL_STORE_BYTES ? 4096 : STORE_PAGE_SIZE;
}

/** The page size a store was made with. */
export function storePageSize(store: Store): number {
  return (store.env.getStats() as { pageSize: number }).pageSize;
}

export function openStore(dir: string, opts: { readOnly?: boolean; durability?: Durability; mapSizeBytes?: number; pageSizeBytes?: number } = {}): Store {
  if (opts.readOnly && !existsSync(join(dir, 'data.mdb'))) throw new AuditReadError(`no audit log at ${dir} (no data.mdb there)`);
  const mode = DURABILITY[opts.durability ?? 'fsync'];
  const env = openEnvironment(dir, {
    readOnly: opts.readOnly ?? false,
    ...(opts.readOnly ? {} : mode.lmdb),
    ...(opts.mapSizeBytes ? { mapSize: opts.mapSizeBytes } : {}),
    ...(opts.pageSizeBytes && !opts.readOnly ? { pageSize: opts.pageSizeBytes } : {}),
  });
  return {
    dir,
    env,
    records: env.openDB<Buffer, number>({ name: 'records', encoding: 'binary' }),
    // lmdb-js hands a decoder its read buffer without copying it (its `encoder` option, not in the typings).
    recordViews: env.openDB<Buffer, number>({ name: 'records', encoder: { encode: (v: Buffer) => v, decode: (b: Uint8Array, size?: number) => Buffer.from(b.buffer, b.byteOffset, size ?? b.byteLength) } } as never),
    checkpoints: env.openDB<string, number>({ name: 'checkpoints', encoding: 'string' }),
    frontiers: env.openDB<Buffer, number>({ name: 'frontiers', encoding: 'binary' }),
    meta: env.openDB<string, string>({ name: 'meta', encoding: 'string' }),
    awaitFlush: !opts.readOnly && mode.awaitFlush,
  };
}

export interface StoredCheckpoint {
  /** The segment number (its key). */
  key: number;
  text: string;
  /** Decoded without verifying; the reason where it is not a checkpoint. */
  checkpoint: AnyCheckpoint | string;
}

/** Every stored checkpoint in key order (from segment `from` on). */
export function* storedCheckpoints(store: Store, from = 0): Generator<StoredCheckpoint> {
  for (const { key, value } of store.checkpoints.getRange({ start: from })) yield { key, text: value, checkpoint: decodeAnyCheckpoint(value) };
}

export function lastStoredCheckpoint(store: Store): StoredCheckpoint | null {
  for (const { key, value } of store.checkpoints.getRange({ reverse: true, limit: 1 })) return { key, text: value, checkpoint: decodeAnyCheckpoint(value) };
  return null;
}

/** The number of records a checkpoint covers from the start of the log (its `last + 1` in format 1). */
export function checkpointEnd(cp: AnyCheckpoint): number {
  return cp.v === 2 ? cp.size : cp.payload.last + 1;
}

/**
 * The bytes the store's data occupies: its pages in use (every database's branch, leaf and overflow
 * pages, the free list's own and the two meta pages). Pages freed by pruning are reused, so this,
 * not the file's size (which never shrinks), is how full the store is.
 */
export function storeBytes(store: Store): number {
  type Stats = { pageSize: number; treeBranchPageCount: number; treeLeafPageCount: number; overflowPages: number };
  const env = store.env.getStats() as Stats & { free?: Stats };
  const pages = (s: Stats | undefined): number => (s ? s.treeBranchPageCount + s.treeLeafPageCount + s.overflowPages : 0);
  const dbs = [store.records, store.checkpoints, store.frontiers, store.meta].reduce((n, db) => n + pages(db.getStats() as Stats), 0);
  return (2 + pages(env) + pages(env.free) + dbs) * env.pageSize;
}

/** The segment whose records were pruned last (its checkpoint and frontier stay as the live log's base), or -1. */
export function prunedThrough(store: Store): number {
  const v = store.meta.get('pruned_through');
  return v === undefined ? -1 : Number(v);
}

/** The highest record key, or -1 for an empty log. */
export function lastRecordKey(store: Store): number {
  for (const key of store.records.getKeys({ reverse: true, limit: 1 })) return key;
  return -1;
}
