/**
 * The verifier's fast reading of a stored record: one pass over its bytes that checks they are
 * canonical JSON (docs/audit-format.md §1) and the envelope well formed, and picks out only the
 * fields verify needs (seq, prev, event.type and the few event fields it pairs or follows), without
 * building the record's objects. JSON.parse plus re-serialising to compare cost verify ~13 µs a
 * decision record; this costs ~1.5 µs. It never decides alone that a record is bad: anything it
 * does not accept (or does not handle: `\u` escapes, keys with escapes or non-ASCII) goes to
 * parseRecord, which gives the reason or the record, so both ways accept exactly the same bytes.
 */
import { isUtf8 } from 'node:buffer';
import { FORMAT_VERSION, parseRecord } from './record.js';

/** What verify reads from a record. */
export interface Envelope {
  seq: number;
  /** The record's `prev`, 64 lower-case hex characters; null when it is the expected hash given (not copied out). */
  prev: string | null;
  type: string;
  /** `event.request_id` when it is a string. */
  requestId: string | undefined;
  /** `event.previous_kid` when it is a string (key.rotated). */
  previousKid: string | undefined;
  /** `event.last_segment` when it is a number (segment.expired). */
  lastSegment: number | undefined;
}

const Q = 0x22; // "
const BS = 0x5c; // \
const COMMA = 0x2c;
const COLON = 0x3a;
const OPEN = 0x7b; // {
const CLOSE = 0x7d; // }
const LBRACKET = 0x5b;
const RBRACKET = 0x5d;
const MINUS = 0x2d;
const ZERO = 0x30;
const NINE = 0x39;

/** Thrown inside the scan when the fast path cannot decide; caught at the top. */
const SLOW = Symbol('slow');

/** Which envelope or event field a key names (0: none of interest). */
const enum Field { None, Event, Prev, Seq, V, Type, RequestId, PreviousKid, LastSegment }

const FIELDS: Array<[number, Field, Uint8Array]> = [
  [0, Field.Event, Buffer.from('event')],
  [0, Field.Prev, Buffer.from('prev')],
  [0, Field.Seq, Buffer.from('seq')],
  [0, Field.V, Buffer.from('v')],
  [1, Field.Type, Buffer.from('type')],
  [1, Field.RequestId, Buffer.from('request_id')],
  [1, Field.PreviousKid, Buffer.from('previous_kid')],
  [1, Field.LastSegment, Buffer.from('last_segment')],
];

class Scan {
  b: Buffer = Buffer.alloc(0);
  i = 0;
  nonAscii = false;
  /** Value spans [start, end) of the fields found, by Field. */
  readonly at = new Int32Array(18);
  /** Whether the event object (depth 1 under `event`) is being read. */
  private inEvent = false;

  /** One scanner serves every record (verify reads a million of them): reset, not reallocated. */
  reset(b: Buffer): void {
    this.b = b;
    this.i = 0;
    this.nonAscii = false;
    this.inEvent = false;
    this.at.fill(-1);
  }

  value(depth: number, field: Field): void {
    const c = this.b[this.i];
    const start = this.i;
    if (c === OPEN) this.object(depth, field);
    else if (c === LBRACKET) this.array(depth);
    else if (c === Q) this.string();
    else if (c === MINUS || (c !== undefined && c >= ZERO && c <= NINE)) this.number();
    else if (c === 0x74) this.literal('true');
    else if (c === 0x66) this.literal('false');
    else if (c === 0x6e) this.literal('null');
    else throw SLOW;
    if (field !== Field.None) {
      this.at[field * 2] = start;
      this.at[field * 2 + 1] = this.i;
    }
  }

  private object(depth: number, field: Field): void {
    const b = this.b;
    const wasEvent = this.inEvent;
    this.inEvent = depth === 1 && field === Field.Event;
    this.i++;
    if (b[this.i] === CLOSE) {
      this.i++;
      this.inEvent = wasEvent;
      return;
    }
    let prevStart = -1;
    let prevEnd = -1;
    for (;;) {
      if (b[this.i] !== Q) throw SLOW;
      const start = this.i + 1;
      this.string();
      const end = this.i - 1;
      // Keys in UTF-16 order: for ASCII keys without escapes that is byte order (anything else takes the slow path).
      if (prevStart >= 0 && !this.ascendingAsciiKeys(prevStart, prevEnd, start, end)) throw SLOW;
      prevStart = start;
      prevEnd = end;
      if (b[this.i] !== COLON) throw SLOW;
      this.i++;
      this.value(depth + 1, depth === 0 || this.inEvent ? fieldOf(depth === 0 ? 0 : 1, b, start, end) : Field.None);
      const c = b[this.i];
      if (c === COMMA) {
        this.i++;
        continue;
      }
      if (c !== CLOSE) throw SLOW;
      this.i++;
      this.inEvent = wasEvent;
      return;
    }
  }

  private array(depth: number): void {
    const b = this.b;
    const wasEvent = this.inEvent;
    this.inEvent = false;
    this.i++;
    if (b[this.i] === RBRACKET) {
      this.i++;
      this.inEvent = wasEvent;
      return;
    }
    for (;;) {
      this.value(depth + 1, Field.None);
      const c = b[this.i];
      if (c === COMMA) {
        this.i++;
        continue;
      }
      if (c !== RBRACKET) throw SLOW;
      this.i++;
      this.inEvent = wasEvent;
      return;
    }
  }

  /** A string as JSON.stringify writes it; `\u` escapes (rare: control characters, lone surrogates) take the slow path. */
  private string(): void {
    const b = this.b;
    let i = this.i + 1;
    for (;;) {
      const c = b[i]!;
      // Most bytes are letters, above the backslash: one comparison.
      if (c > BS) {
        if (c >= 0x80) this.nonAscii = true;
        i++;
        continue;
      }
      if (c === Q) break;
      if (c === BS) {
        const e = b[i + 1];
        // \" \\ \b \f \n \r \t; `\/` is not canonical, `\u` is checked slowly.
        if (e !== Q && e !== BS && e !== 0x62 && e !== 0x66 && e !== 0x6e && e !== 0x72 && e !== 0x74) throw SLOW;
        i += 2;
        continue;
      }
      // A control character, or the end of the bytes (undefined compares false).
      if (!(c >= 0x20)) throw SLOW;
      i++;
    }
    this.i = i + 1;
  }

  /** An integer in plain decimal: no leading zero, no `-0`, within ±2^53−1. */
  private number(): void {
    const b = this.b;
    let i = this.i;
    if (b[i] === MINUS) i++;
    const first = i;
    while (i < b.length && b[i]! >= ZERO && b[i]! <= NINE) i++;
    const digits = i - first;
    if (digits === 0 || (b[first] === ZERO && (digits > 1 || b[this.i] === MINUS))) throw SLOW;
    const c = b[i];
    if (c === 0x2e || c === 0x65 || c === 0x45) throw SLOW; // a fraction or an exponent
    if (digits > 15 && !Number.isSafeInteger(Number(Buffer.from(b.buffer, b.byteOffset + this.i, i - this.i).toString('latin1')))) throw SLOW;
    this.i = i;
  }

  private literal(word: string): void {
    for (let k = 0; k < word.length; k++) if (this.b[this.i + k] !== word.charCodeAt(k)) throw SLOW;
    this.i += word.length;
  }

  /** Whether key [s2, e2) sorts strictly after [s1, e1); keys with escapes or non-ASCII bytes are left to the slow path. */
  private ascendingAsciiKeys(s1: number, e1: number, s2: number, e2: number): boolean {
    const b = this.b;
    const n = Math.min(e1 - s1, e2 - s2);
    for (let k = 0; k < n; k++) {
      const x = b[s1 + k]!;
      const y = b[s2 + k]!;
      if (x >= 0x80 || y >= 0x80 || x === BS || y === BS) throw SLOW;
      if (x !== y) return x < y;
    }
    for (let k = n; k < e2 - s2; k++) if (b[s2 + k]! >= 0x80 || b[s2 + k] === BS) throw SLOW;
    return e2 - s2 > e1 - s1;
  }
}

/** Which field a key names: most keys are told apart by their length and first byte alone. */
function fieldOf(level: 0 | 1, b: Uint8Array, start: number, end: number): Field {
  const len = end - start;
  const c = b[start];
  let f = Field.None;
  if (level === 0) {
    if (len === 5 && c === 0x65) f = Field.Event;
    else if (len === 4 && c === 0x70) f = Field.Prev;
    else if (len === 3 && c === 0x73) f = Field.Seq;
    else if (len === 1 && c === 0x76) f = Field.V;
  } else if (len === 4 && c === 0x74) f = Field.Type;
  else if (len === 10 && c === 0x72) f = Field.RequestId;
  else if (len === 12 && c === 0x70) f = Field.PreviousKid;
  else if (len === 12 && c === 0x6c) f = Field.LastSegment;
  if (f === Field.None) return f;
  const name = NAMES[f]!;
  for (let k = 1; k < len; k++) if (b[start + k] !== name[k]) return Field.None;
  return f;
}

const NAMES: Uint8Array[] = [];
for (const [, f, name] of FIELDS) NAMES[f] = name;

const HEXVAL = new Int8Array(256).fill(-1);
for (let d = 0; d < 16; d++) HEXVAL['0123456789abcdef'.charCodeAt(d)] = d;

/** Whether the string at `start` (quotes included) is the lower-case hex of `hash`. */
function isHexOf(b: Uint8Array, start: number, end: number, hash: Uint8Array): boolean {
  if (end - start !== hash.length * 2 + 2) return false;
  for (let k = 0, at = start + 1; k < hash.length; k++, at += 2) if (HEXVAL[b[at]!]! * 16 + HEXVAL[b[at + 1]!]! !== hash[k] || HEXVAL[b[at]!]! < 0 || HEXVAL[b[at + 1]!]! < 0) return false;
  return true;
}

const HEX64 = /^[0-9a-f]{64}$/;

/** A string field's value (its span includes the quotes), or undefined when it is not a string. */
function text(s: Scan, f: Field): string | undefined {
  const start = s.at[f * 2]!;
  if (start < 0 || s.b[start] !== Q) return undefined;
  const end = s.at[f * 2 + 1]!;
  // Without escapes or non-ASCII bytes the characters are the bytes.
  let plain = !s.nonAscii;
  for (let k = start + 1; plain && k < end - 1; k++) if (s.b[k] === BS) plain = false;
  return plain ? s.b.toString('latin1', start + 1, end - 1) : (JSON.parse(s.b.toString('utf8', start, end)) as string);
}

function integer(s: Scan, f: Field): number | undefined {
  const start = s.at[f * 2]!;
  if (start < 0) return undefined;
  const end = s.at[f * 2 + 1]!;
  // Up to 15 digits add up exactly; anything else (a string, a literal, longer) is read as text.
  let n = 0;
  for (let k = start; k < end && end - start <= 15; k++) {
    const d = s.b[k]! - ZERO;
    if (d < 0 || d > 9) {
      n = -1;
      break;
    }
    n = n * 10 + d;
  }
  if (end - start <= 15 && n >= 0) return n;
  if (s.b[start] === Q) return undefined;
  const m = Number(s.b.toString('latin1', start, end));
  return Number.isSafeInteger(m) ? m : undefined;
}

const scanner = new Scan();

/**
 * The fields verify needs from stored bytes, or why they are not a record (parseRecord's reason).
 * Accepts exactly what parseRecord accepts. `expectedPrev` is the previous record's leaf hash, when
 * known: a `prev` equal to it is reported as null, compared in place rather than copied out.
 */
export function scanRecord(bytes: Uint8Array, expectedPrev?: Uint8Array | null): Envelope | string {
  const s = scanner;
  s.reset(Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  let fast = true;
  try {
    if (bytes[0] !== OPEN) throw SLOW;
    s.value(0, Field.None);
    if (s.i !== bytes.length) throw SLOW;
  } catch (err) {
    if (err !== SLOW) throw err;
    fast = false;
  }
  if (fast && s.nonAscii && !isUtf8(bytes)) fast = false;
  if (fast) {
    const seq = integer(s, Field.Seq);
    const p = s.at[Field.Prev * 2]!;
    const expected = expectedPrev && p >= 0 && isHexOf(s.b, p, s.at[Field.Prev * 2 + 1]!, expectedPrev);
    const prev = expected ? null : text(s, Field.Prev);
    const type = text(s, Field.Type);
    const v = integer(s, Field.V);
    if (seq !== undefined && seq >= 0 && (prev === null || (prev !== undefined && HEX64.test(prev))) && v === FORMAT_VERSION && type !== undefined && s.at[Field.Event * 2]! >= 0 && bytes[s.at[Field.Event * 2]!] === OPEN) {
      return { seq, prev, type, requestId: text(s, Field.RequestId), previousKid: text(s, Field.PreviousKid), lastSegment: integer(s, Field.LastSegment) };
    }
  }
  const r = parseRecord(bytes);
  if (typeof r === 'string') return r;
  const e = r.event as unknown as Record<string, unknown>;
  const str = (k: string) => (typeof e[k] === 'string' ? (e[k] as string) : undefined);
  const same = expectedPrev && r.prev === Buffer.from(expectedPrev.buffer, expectedPrev.byteOffset, expectedPrev.byteLength).toString('hex');
  return { seq: r.seq, prev: same ? null : r.prev, type: r.event.type, requestId: str('request_id'), previousKid: str('previous_kid'), lastSegment: typeof e.last_segment === 'number' ? e.last_segment : undefined };
}
