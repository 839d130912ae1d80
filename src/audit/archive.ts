/**
 * Where sealed segments go to stay for a year (docs/audit-format.md §10): one interface, so the
 * folder backend (archive-folder.ts) and the cluster's PostgreSQL store are each one file. A backend
 * stores what it is given and hands it back byte for byte; the archiver (archiver.ts) decides what to
 * store, checks what it reads back, and prunes the live store only then.
 */

/** One sealed segment as archived: enough to verify it on its own, from the checkpoint before it. */
export interface ArchivedSegment {
  segment: number;
  /** The segment's first record number; its records are `first..size-1`. */
  first: number;
  /** The tree size of its checkpoint (the whole log up to and including this segment). */
  size: number;
  /** Its checkpoint as stored in the live log: the signed note, with any witnesses' cosignatures. */
  checkpoint: string;
  /**
   * The checkpoint before it and the tree's compact range at that size (what a reader starting at
   * this segment, after older ones expired, checks it from); null for segment 0.
   */
  base: { checkpoint: string; frontier: Buffer[] } | null;
  /** The records' canonical bytes, in order. */
  records: readonly Buffer[];
  /**
   * The records' leaf hashes, index for index, when the writer computed them from these very bytes
   * as it appended them (a segment archived as it is sealed, never read back from storage): a
   * backend that checks the records against the checkpoint folds these instead of hashing again.
   * Absent for anything read from storage, which is always hashed.
   */
  leaves?: readonly Buffer[];
  /** When it was sealed: its last record's `ts` (what `audit.retain_archive` counts from). */
  sealedAt: string;
}

/** Records as a writer appended them: their canonical bytes and, index for index, the leaf hash of each. */
export interface AppendedRecords {
  records: readonly Buffer[];
  leaves: readonly Buffer[];
  /**
   * Gives the buffers under `records` and `leaves` back to the writer for a later segment. Only
   * for the one consumer that holds them (the archiver), once no view of them is left anywhere:
   * after that the bytes change under any view still held.
   */
  release?: () => void;
}

/** What listing an archive tells about a segment without reading its records. */
export interface ArchiveEntry {
  segment: number;
  sealedAt: string;
  /** Bytes the backend spends on it (compressed). */
  bytes: number;
}

export interface AuditArchive {
  /** Where it is, for messages and logs (a folder path, a database table). */
  readonly where: string;
  /**
   * Stores a segment durably and atomically (a reader sees all of it or none); storing the same
   * segment again replaces it (the archiver does so to add cosignatures that came later).
   */
  put(segment: ArchivedSegment): Promise<void>;
  /**
   * True when the backend keeps no reference to a segment's records or leaves once `put` has
   * resolved (it copied them to a socket or a file): the archiver then gives a just-sealed
   * segment's buffers back to the writer (AppendedRecords.release). Unset: it may keep them.
   */
  readonly releasesRecords?: boolean;
  /** The segment as stored, or null when the archive does not hold it. */
  get(segment: number): Promise<ArchivedSegment | null>;
  /** The archived segments from `from` on, in segment order, read a few at a time (memory stays flat over a year). */
  list(from?: number): AsyncIterable<ArchiveEntry>;
  /** Deletes a segment (retention); deleting one the archive does not hold is not an error. */
  delete(segment: number): Promise<void>;
  close(): Promise<void>;
}

/**
 * The records' bytes, each followed by a newline, in one buffer after `head`: the body both backends
 * store (canonical JSON holds no raw newline), made with one allocation and no list of pieces.
 */
export function joinRecords(records: readonly Uint8Array[], head: Uint8Array = EMPTY): Buffer {
  // Records that already lie one after another with a newline after each (a segment the writer
  // built as it appended, segment-body.ts) are that body: handed back as it is, not copied.
  if (head.length === 0) {
    const laid = laidOut(records);
    if (laid) return laid;
  }
  let size = head.length;
  for (const r of records) size += r.length + 1;
  const body = Buffer.allocUnsafe(size);
  body.set(head, 0);
  let at = head.length;
  for (const r of records) {
    body.set(r, at);
    at += r.length;
    body[at++] = 0x0a;
  }
  return body;
}

const EMPTY = new Uint8Array(0);

/** The span `records` fill when each starts right after the previous one's newline in one buffer; else null. */
function laidOut(records: readonly Uint8Array[]): Buffer | null {
  const first = records[0];
  if (!first) return null;
  const all = new Uint8Array(first.buffer);
  let next = first.byteOffset;
  for (const r of records) {
    if (r.buffer !== first.buffer || r.byteOffset !== next) return null;
    next += r.length;
    if (next >= all.length || all[next] !== 0x0a) return null;
    next++;
  }
  return Buffer.from(first.buffer, first.byteOffset, next - first.byteOffset);
}
