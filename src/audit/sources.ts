/**
 * Presents a log to the verifier segment by segment, from either place it lives: the LMDB store
 * (records taken in key order, as many as each checkpoint claims) or export files (one JSONL file and
 * one checkpoint file per segment, docs/audit-format.md §4).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { AuditReadError } from './errors.js';
import { storedCheckpoints, type Store } from './store.js';
import type { Entry, LogInput, LogItem } from './verify.js';

export const segmentFileName = (n: number, kind: 'jsonl' | 'checkpoint.json'): string => `segment-${String(n).padStart(6, '0')}.${kind}`;
const SEGMENT_FILE = /^segment-(\d+)\.(jsonl|checkpoint\.json)$/;

/** Up to `limit` records with keys after `after`, in key order. */
export function recordsAfter(store: Store, after: number, limit = Infinity): Entry[] {
  const out: Entry[] = [];
  for (const { key, value } of store.records.getRange({ start: after, limit: limit === Infinity ? undefined : limit + 1 })) {
    if (key <= after) continue;
    if (out.length >= limit) break;
    out.push({ bytes: value, where: `key ${key}`, key });
  }
  return out;
}

export function storeInput(store: Store): { input: LogInput; total: number } {
  const total = (store.records.getStats() as { entryCount: number }).entryCount;
  function* input(): Generator<LogItem> {
    let after = -Infinity;
    for (const { key, jws, checkpoint } of [...storedCheckpoints(store)]) {
      const entries = recordsAfter(store, after, checkpoint?.payload.tree_size ?? 0);
      if (entries.length > 0) after = entries[entries.length - 1]!.key!;
      yield { kind: 'segment', segment: { label: `segment ${key}`, checkpoint: { jws, where: `checkpoint key ${key}` }, entries } };
    }
    yield { kind: 'unsealed', entries: recordsAfter(store, after) };
  }
  return { input: input(), total };
}

/** Reads export files (or directories of them); segments in number order. */
export function fileInput(paths: readonly string[]): { input: LogInput; total: number } {
  const segments = new Map<number, { jsonl?: string; checkpoint?: string }>();
  const files = paths.flatMap((p) => {
    try {
      return statSync(p).isDirectory() ? readdirSync(p).filter((f) => SEGMENT_FILE.test(f)).map((f) => join(p, f)) : [p];
    } catch (err) {
      throw new AuditReadError(`cannot read ${p}: ${(err as Error).message}`, { cause: err });
    }
  });
  for (const file of files) {
    const m = SEGMENT_FILE.exec(basename(file));
    if (!m) throw new AuditReadError(`${file} is not an audit export file (segment-NNNNNN.jsonl or segment-NNNNNN.checkpoint.json)`);
    const slot = segments.get(Number(m[1])) ?? {};
    if (m[2] === 'jsonl') slot.jsonl = file;
    else slot.checkpoint = file;
    segments.set(Number(m[1]), slot);
  }
  if (segments.size === 0) throw new AuditReadError(`no audit export files in ${paths.join(', ')}`);
  const read = (file: string) => {
    try {
      return readFileSync(file);
    } catch (err) {
      throw new AuditReadError(`cannot read ${file}: ${(err as Error).message}`, { cause: err });
    }
  };
  let total = 0;
  const loaded = [...segments.entries()].sort(([a], [b]) => a - b).map(([n, slot]) => {
    const entries = slot.jsonl ? jsonlEntries(read(slot.jsonl), basename(slot.jsonl)) : [];
    total += entries.length;
    return { label: `segment ${n} (${slot.checkpoint ?? slot.jsonl})`, checkpoint: slot.checkpoint ? { jws: checkpointFileJws(read(slot.checkpoint).toString('utf8'), slot.checkpoint), where: slot.checkpoint } : null, entries };
  });
  function* input(): Generator<LogItem> {
    for (const segment of loaded) yield { kind: 'segment', segment };
  }
  return { input: input(), total };
}

function jsonlEntries(bytes: Buffer, name: string): Entry[] {
  const entries: Entry[] = [];
  let start = 0;
  for (let line = 1; start < bytes.length; line++) {
    let end = bytes.indexOf(0x0a, start);
    if (end < 0) end = bytes.length;
    entries.push({ bytes: bytes.subarray(start, end), where: `${name} line ${line}` });
    start = end + 1;
  }
  return entries;
}

/** The compact JWS in a checkpoint file (`{"jws": …}`), or the file's text when it is a bare JWS. */
export function checkpointFileJws(text: string, file: string): string {
  const trimmed = text.trim();
  if (!trimmed.startsWith('{')) return trimmed;
  try {
    const jws = (JSON.parse(trimmed) as { jws?: unknown }).jws;
    if (typeof jws === 'string') return jws;
  } catch {
    // reported below
  }
  throw new AuditReadError(`${file} is not a checkpoint file: expected {"jws": "<compact JWS>"}`);
}
