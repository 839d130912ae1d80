/**
 * One row written with `COPY … FROM STDIN (FORMAT binary)` (PostgreSQL's binary copy format:
 * signature, one tuple of length-prefixed fields, trailer), for rows whose one large field is
 * megabytes: an audit segment. A parameter of an `INSERT` is copied by the driver into the Bind
 * message, a fresh buffer as large as the value (its pages faulted in, then left to the garbage
 * collector); the copy stream (pg-copy-streams) writes the caller's buffer to the socket as it is.
 * That was most of what archiving a segment cost a node (bench/cluster-archive.ts).
 *
 * Values: a string is text (UTF-8), a Uint8Array is bytea, an `Int` is int4 or int8, null is NULL.
 * COPY cannot resolve a conflict: the caller deletes the row it replaces, in the same transaction.
 */
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';

export class Int {
  private constructor(readonly bytes: Buffer) {}

  static int4(n: number): Int {
    const b = Buffer.allocUnsafe(4);
    b.writeInt32BE(n);
    return new Int(b);
  }

  static int8(n: number): Int {
    const b = Buffer.allocUnsafe(8);
    b.writeBigInt64BE(BigInt(n));
    return new Int(b);
  }
}

export type CopyValue = string | Uint8Array | Int | null;

const SIGNATURE = Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1');
const TRAILER = Buffer.from([0xff, 0xff]);
/** Fields at least this large go to the socket as they are; smaller ones are gathered into one chunk. */
const BIG = 64 * 1024;

/** Writes `row` (column → value, in the table's terms) into `table` on `client`; resolves when PostgreSQL has taken it. */
export async function copyRow(client: pg.PoolClient, table: string, row: Readonly<Record<string, CopyValue>>): Promise<void> {
  const columns = Object.keys(row);
  const chunks = encode(Object.values(row));
  const stream = client.query(copyFrom(`COPY ${quote(table)} (${columns.map(quote).join(', ')}) FROM STDIN (FORMAT binary)`));
  await new Promise<void>((resolve, reject) => {
    stream.on('error', reject);
    stream.on('finish', resolve);
    for (const c of chunks) stream.write(c);
    stream.end(TRAILER);
  });
}

/** The signature, header and tuple as chunks: small fields joined, each big one its own chunk. */
function encode(values: readonly CopyValue[]): Uint8Array[] {
  const chunks: Uint8Array[] = [];
  let small: Uint8Array[] = [SIGNATURE, Buffer.alloc(8), int16(values.length)];
  for (const v of values) {
    const bytes = v === null ? null : typeof v === 'string' ? Buffer.from(v, 'utf8') : v instanceof Int ? v.bytes : v;
    small.push(int32(bytes === null ? -1 : bytes.length));
    if (bytes === null) continue;
    if (bytes.length < BIG) {
      small.push(bytes);
      continue;
    }
    chunks.push(Buffer.concat(small), bytes);
    small = [];
  }
  if (small.length > 0) chunks.push(Buffer.concat(small));
  return chunks;
}

function int16(n: number): Buffer {
  const b = Buffer.allocUnsafe(2);
  b.writeInt16BE(n);
  return b;
}

function int32(n: number): Buffer {
  const b = Buffer.allocUnsafe(4);
  b.writeInt32BE(n);
  return b;
}

function quote(identifier: string): string {
  return `"${identifier.replaceAll('"', '""')}"`;
}
