/**
 * The open segment's records as the archive will store them, built while they are appended: each
 * record's canonical bytes and a newline in one growing buffer, and the leaf hashes in another
 * (docs/audit-format.md §10). A just-sealed segment then reaches the archive with no read of the
 * store, no hashing and no joining; and holding it until then costs two buffers, not an object
 * per record for the garbage collector to carry into its old generation.
 */
import type { AppendedRecords } from './archive.js';

const LEAF = 32;

export class SegmentBody {
  private body: Buffer;
  private leaves: Buffer;
  private bytes = 0;
  /** Where each record ends in `body` (its newline follows). */
  private readonly ends: number[] = [];

  /** `expectBytes`, `expectRecords`: the last segment's size, so the body seldom grows (a quarter more is allowed for). */
  constructor(expectBytes = 1 << 20, expectRecords = 1024) {
    this.body = Buffer.allocUnsafeSlow(Math.max(expectBytes + (expectBytes >> 2), 1024));
    this.leaves = Buffer.allocUnsafeSlow(Math.max(expectRecords + (expectRecords >> 2), 32) * LEAF);
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

  /** The records and leaves, as views into the two buffers (made now, once: the archive wants them so). */
  done(): AppendedRecords {
    const records: Buffer[] = new Array(this.ends.length);
    const leaves: Buffer[] = new Array(this.ends.length);
    let start = 0;
    for (let i = 0; i < this.ends.length; i++) {
      records[i] = this.body.subarray(start, this.ends[i]);
      leaves[i] = this.leaves.subarray(i * LEAF, (i + 1) * LEAF);
      start = this.ends[i]! + 1;
    }
    return { records, leaves };
  }
}

function grown(buf: Buffer, used: number, need: number): Buffer {
  const bigger = Buffer.allocUnsafeSlow(Math.max(buf.length * 2, need));
  buf.copy(bigger, 0, 0, used);
  return bigger;
}
