/**
 * The open segment's records as the archive will store them, built while they are appended: each
 * record's canonical bytes and a newline in one growing buffer, and the leaf hashes in another
 * (docs/audit-format.md §10). A just-sealed segment then reaches the archive with no read of the
 * store, no hashing and no joining; and holding it until then costs two buffers, not an object
 * per record for the garbage collector to carry into its old generation. Once an archive that
 * keeps no view of them has stored a segment, its buffers are given back (`release`) for a later
 * segment's body: a fresh 20 MB buffer a segment cost its page faults and the collector's work.
 */
import type { AppendedRecords } from './archive.js';

const LEAF = 32;

/** Buffers of stored segments, given back for a later segment (one of each: segments are stored one at a time). */
export class SpareBuffers {
  private body: Buffer | null = null;
  private leaves: Buffer | null = null;

  /** A spare buffer of at least `want` bytes (a body may grow past it later), or a new one of `size`. */
  take(kind: 'body' | 'leaves', want: number, size: number): Buffer {
    const spare = this[kind];
    this[kind] = null;
    return spare !== null && spare.length >= want ? spare : Buffer.allocUnsafeSlow(size);
  }

  give(body: Buffer, leaves: Buffer): void {
    this.body = body;
    this.leaves = leaves;
  }
}

export class SegmentBody {
  private body: Buffer;
  private leaves: Buffer;
  private bytes = 0;
  /** Where each record ends in `body` (its newline follows). */
  private readonly ends: number[] = [];

  /**
   * `expectBytes`, `expectRecords`: the last segment's size, so the body seldom grows (a quarter
   * more is allowed for). `spares`: where stored segments' buffers come back to, taken from first.
   */
  constructor(expectBytes = 1 << 20, expectRecords = 1024, private readonly spares?: SpareBuffers) {
    const bytes = Math.max(expectBytes, 1024);
    const leaves = Math.max(expectRecords, 32) * LEAF;
    this.body = spares ? spares.take('body', bytes, bytes + (bytes >> 2)) : Buffer.allocUnsafeSlow(bytes + (bytes >> 2));
    this.leaves = spares ? spares.take('leaves', leaves, leaves + (leaves >> 2)) : Buffer.allocUnsafeSlow(leaves + (leaves >> 2));
  }

  get size(): number {
    return this.bytes;
  }

  /** Adds a record and its leaf hash (none for records read from storage, which are hashed when checked). */
  add(record: Uint8Array, leaf?: Uint8Array): void {
    const n = this.ends.length;
    if (this.bytes + record.length + 1 > this.body.length) this.body = grown(this.body, this.bytes, this.bytes + record.length + 1);
    if (leaf && (n + 1) * LEAF > this.leaves.length) this.leaves = grown(this.leaves, n * LEAF, (n + 1) * LEAF);
    this.body.set(record, this.bytes);
    this.bytes += record.length;
    this.ends.push(this.bytes);
    this.body[this.bytes++] = 0x0a;
    if (leaf) this.leaves.set(leaf, n * LEAF);
  }

  /**
   * The records and leaves, as views into the two buffers (made now, once: the archive wants them
   * so), and, when there is somewhere to give them back to, `release`.
   */
  done(): AppendedRecords {
    const records: Buffer[] = new Array(this.ends.length);
    const leaves: Buffer[] = new Array(this.ends.length);
    let start = 0;
    for (let i = 0; i < this.ends.length; i++) {
      records[i] = this.body.subarray(start, this.ends[i]);
      leaves[i] = this.leaves.subarray(i * LEAF, (i + 1) * LEAF);
      start = this.ends[i]! + 1;
    }
    const spares = this.spares;
    if (!spares) return { records, leaves };
    const body = this.body;
    const leafBuffer = this.leaves;
    return { records, leaves, release: () => spares.give(body, leafBuffer) };
  }
}

function grown(buf: Buffer, used: number, need: number): Buffer {
  const bigger = Buffer.allocUnsafeSlow(Math.max(buf.length * 2, need));
  buf.copy(bigger, 0, 0, used);
  return bigger;
}
