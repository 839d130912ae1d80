/**
 * The record envelope (docs/audit-format.md §1): `{event, prev, seq, ts, v}` in canonical JSON.
 * Writing and parsing live together so the verifier checks exactly what the writer produces.
 */
import { hash } from 'node:crypto';
import { canonicalJson } from './canonical.js';
import { AuditFormatError } from './errors.js';
import type { AuditEvent } from './events.js';

export const FORMAT_VERSION = 1;
/** `prev` of record 0. */
export const GENESIS_PREV = '0'.repeat(64);

export interface AuditRecord {
  event: AuditEvent;
  prev: string;
  seq: number;
  ts: string;
  v: number;
}

/**
 * The record's canonical bytes and its leaf hash, hashed from one buffer `0x00 || record` (no copy).
 * The envelope's keys sort as `event, prev, seq, ts, v`, so it is written around the event's own
 * canonical JSON (see canonicalJson).
 */
export function encodeRecord(seq: number, prev: string, ts: Date, eventJson: string): { bytes: Buffer; leaf: Buffer } {
  if (!Number.isSafeInteger(seq)) throw new AuditFormatError(`a record number must be a safe integer, got ${seq}`);
  const record = `{"event":${eventJson},"prev":${JSON.stringify(prev)},"seq":${seq},"ts":"${ts.toISOString()}","v":${FORMAT_VERSION}}`;
  const prefixed = Buffer.from('\u0000' + record, 'utf8');
  return { bytes: prefixed.subarray(1), leaf: hash('sha256', prefixed, 'buffer') };
}

/** Parses stored bytes; returns why they are not a record (for the verifier's message) instead of throwing. */
export function parseRecord(bytes: Uint8Array): AuditRecord | string {
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return 'it is not JSON';
  }
  const r = value as Partial<AuditRecord> | null;
  if (r === null || typeof r !== 'object' || Array.isArray(r)) return 'it is not a JSON object';
  if (!Number.isSafeInteger(r.seq) || (r.seq as number) < 0) return 'it has no record number (seq)';
  if (typeof r.prev !== 'string' || !/^[0-9a-f]{64}$/.test(r.prev)) return 'its prev hash is malformed';
  if (r.v !== FORMAT_VERSION) return `its format version is ${String(r.v)}, not ${FORMAT_VERSION}`;
  if (typeof r.event !== 'object' || r.event === null || typeof (r.event as { type?: unknown }).type !== 'string') return 'it has no event type';
  // Bytes that are not valid UTF-8 decode to U+FFFD, which re-encodes to other bytes.
  if (Buffer.byteLength(text) !== bytes.byteLength) return 'it is not canonical JSON';
  // Fast path (verify streams every record through here): V8's own serialiser gives back the text
  // and every object's keys are sorted, so the text is canonical. Anything else (integer-like keys,
  // which V8 orders numerically; -0; a non-integer) takes the exact check.
  if (JSON.stringify(r) === text && sortedAndIntegral(r)) return r as AuditRecord;
  let canonical: string;
  try {
    canonical = canonicalJson(r);
  } catch {
    return 'it is not canonical JSON';
  }
  if (canonical !== text) return 'it is not canonical JSON';
  return r as AuditRecord;
}

/** Whether every object's keys are in UTF-16 order and every number is a safe integer. */
function sortedAndIntegral(value: unknown): boolean {
  if (typeof value === 'number') return Number.isSafeInteger(value);
  if (typeof value !== 'object' || value === null) return true;
  if (Array.isArray(value)) {
    for (const v of value) if (!sortedAndIntegral(v)) return false;
    return true;
  }
  let prev: string | undefined;
  for (const k in value) {
    if (prev !== undefined && !(prev < k)) return false;
    prev = k;
    if (!sortedAndIntegral((value as Record<string, unknown>)[k])) return false;
  }
  return true;
}
