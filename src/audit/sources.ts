/**
 * Presents a log to the verifier segment by segment, from either place it lives: the LMDB store
 * (records taken in key order, as many as each checkpoint claims) or export files (one JSONL file and
 * one checkpoint file per segment, plus `export.json` naming what a partial export starts from,
 * docs/audit-format.md §5). Segments are read one at a time, so memory stays flat.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { checkpointFileText } from './checkpoint.js';
import { AuditReadError } from './errors.js';
import type { AuditArchive } from './archive.js';
import { Frontier } from './merkle.js';
import { checkpointEnd, prunedThrough, storedCheckpoints, type Store } from './store.js';
import type { Entry, LogInput, LogItem, StartInput } from './verify.js';

/** `segment-NNNNNN.<kind>`: at least six digits, more past 999,999 (readers sort by number, not name). */
export const segmentFileName = (n: number, kind: 'jsonl' | 'checkpoint.json'): string => `segment-${String(n).padStart(6, '0')}.${kind}`;
const SEGMENT_FILE = /^segment-(\d+)\.(jsonl|checkpoint\.json)$/;
export const MANIFEST_FILE = 'export.json';

/** What `export.json` holds (docs/audit-format.md §5). */
export interface ExportManifest {
  v: 2;
  origin: string;
  first_segment: number;
  last_segment: number;
  first_record: number;
  last_record: number;
  /** The checkpoint before the first segment and the tree's compact range there (hex); null from segment 0. */
  base: { segment: number; checkpoint: string; frontier: string[] } | null;
}

/** Up to `limit` records with keys after `after`, in key order. */
export function recordsAfter(store: Store, after: number, limit = Infinity): Entry[] {
  const out: Entry[] = [];
  if (limit <= 0) return out;
  for (const { key, value } of store.records.getRange({ start: after, limit: limit === Infinity ? undefined : limit + 1 })) {
    if (key <= after) continue;
    if (out.length >= limit) break;
    out.push({ bytes: value, where: `key ${key}`, key });
  }
  return out;
}

/**
 * Up to `limit` records with keys after `after`, streamed from an LMDB cursor as they are iterated
 * (each iteration reads afresh); `onKey` hears each key read, so the caller knows where it stopped.
 * Each entry's bytes are a view valid until the next entry is read (Store.recordViews).
 */
export function streamRecordsAfter(store: Store, after: number, limit: number, onKey: (key: number) => void): Iterable<Entry> {
  return {
    *[Symbol.iterator]() {
      if (limit <= 0) return;
      let n = 0;
      for (const { key, value } of store.recordViews.getRange({ start: after + 1, limit: limit === Infinity ? undefined : limit })) {
        if (key <= after) continue;
        onKey(key);
        yield { bytes: value, where: `key ${key}`, key };
        if (++n >= limit) return;
      }
    },
  };
}

/**
 * The live store's segments, each streamed from the store as the verifier walks it (memory holds
 * one record at a time, however large the segment). Once pruned (src/audit/archiver.ts), it starts
 * after its base: the last pruned segment's checkpoint and frontier, kept for this, from which its
 * first segment is checked.
 */
export function storeInput(store: Store): { input: Iterable<LogItem>; total: number } {
  const total = (store.records.getStats() as { entryCount: number }).entryCount;
  const pruned = prunedThrough(store);
  function* input(): Generator<LogItem> {
    let after = -1;
    let end = 0;
    // The verifier walks a segment's records before it asks for the next item: `last` is then where it stopped.
    let last = -1;
    const seen = (key: number) => (last = key);
    for (const { key, text, checkpoint } of storedCheckpoints(store)) {
      const next = typeof checkpoint === 'string' ? end : checkpointEnd(checkpoint);
      if (key <= pruned) {
        if (key === pruned) {
          const kept = store.frontiers.getBinary(key);
          yield { kind: 'start', start: { firstSegment: key + 1, where: `the live store's base (segment ${key}, pruned)`, base: { segment: key, checkpoint: { text, where: `checkpoint key ${key}` }, frontier: kept ? Frontier.decode(next, kept).nodes : [] } } };
          after = next - 1;
          end = next;
        }
        continue;
      }
      last = after;
      const entries = streamRecordsAfter(store, after, next - end, seen);
      end = next;
      yield { kind: 'segment', segment: { label: `segment ${key}`, number: key, checkpoint: { text, where: `checkpoint key ${key}` }, entries } };
      after = last;
    }
    yield { kind: 'unsealed', entries: streamRecordsAfter(store, after, Infinity, seen) };
  }
  return { input: input(), total };
}

/**
 * The archive's segments through segment `through`, in order, one read at a time. When its oldest
 * segments expired (`audit.retain_archive`), it starts from the first one left, flagged so the
 * verifier asks for the `segment.expired` records that explain the gap. Returns the number after
 * the last segment yielded (null: none).
 */
async function* archivedItems(archive: AuditArchive, through: number): AsyncGenerator<LogItem, number | null> {
  let next: number | null = null;
  for await (const e of archive.list()) {
    if (e.segment > through) break;
    const seg = await archive.get(e.segment);
    if (seg === null) continue;
    const where = `${archive.where}, segment ${seg.segment}`;
    if (next === null && seg.segment > 0) {
      const base = seg.base && { segment: seg.segment - 1, checkpoint: { text: seg.base.checkpoint, where: `${where} (its base)` }, frontier: seg.base.frontier };
      yield { kind: 'start', start: { firstSegment: seg.segment, where, base, expired: true } };
    }
    next = seg.segment + 1;
    const entries = seg.records.map((bytes, i) => ({ bytes, where: `${where} line ${i + 2}` }));
    yield { kind: 'segment', segment: { label: `segment ${seg.segment} (archived)`, number: seg.segment, checkpoint: { text: seg.checkpoint, where }, entries } };
  }
  return next;
}

/**
 * A log as the archive alone holds it (the cluster store's copy of a node's log, read when the node
 * is elsewhere or gone): every archived segment in order, streamed one at a time, so a year of
 * archive verifies in flat memory and nothing is written to disk.
 */
export function archiveOnlyInput(archive: AuditArchive): LogInput {
  return (async function* () {
    yield* archivedItems(archive, Infinity);
  })();
}

/**
 * The whole log: the archive's segments up to where the live store was pruned, then the live
 * store's (with the expiry flag of archivedItems when the archive starts late).
 */
export function archiveInput(store: Store, archive: AuditArchive): { input: LogInput; total: number } {
  const live = storeInput(store);
  const pruned = prunedThrough(store);
  async function* input(): AsyncGenerator<LogItem> {
    let next: number | null = null;
    if (pruned >= 0) {
      next = yield* archivedItems(archive, pruned);
      if (next !== null && next <= pruned) {
        const which = next === pruned ? `segment ${next} is` : `segments ${next}..${pruned} are`;
        yield { kind: 'segment', segment: { label: `segment ${next}`, number: next, checkpoint: null, entries: [], missing: `${which} in neither the archive (${archive.where}) nor the live store, which was pruned through segment ${pruned}` } };
        return;
      }
    }
    for (const item of live.input) {
      if (item.kind === 'start') {
        // No archived segment before the live base: they all expired, or were deleted.
        if (next === null) yield { kind: 'start', start: { ...item.start, expired: true } };
        continue;
      }
      yield item;
    }
  }
  return { input: input(), total: live.total };
}

function read(file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new AuditReadError(`cannot read ${file}: ${(err as Error).message}`, { cause: err });
  }
}

/** Reads export files (or directories of them, with their export.json); segments in number order, one at a time. */
export function fileInput(paths: readonly string[]): { input: Iterable<LogItem>; total: number; manifest: ExportManifest | null } {
  const segments = new Map<number, { jsonl?: string; checkpoint?: string }>();
  let manifest: ExportManifest | null = null;
  const files = paths.flatMap((p) => {
    try {
      if (!statSync(p).isDirectory()) return [p];
      const m = join(p, MANIFEST_FILE);
      if (existsSync(m)) manifest = readManifest(m);
      return readdirSync(p).filter((f) => SEGMENT_FILE.test(f)).map((f) => join(p, f));
    } catch (err) {
      if (err instanceof AuditReadError) throw err;
      throw new AuditReadError(`cannot read ${p}: ${(err as Error).message}`, { cause: err });
    }
  });
  for (const file of files) {
    if (basename(file) === MANIFEST_FILE) {
      manifest = readManifest(file);
      continue;
    }
    const m = SEGMENT_FILE.exec(basename(file));
    if (!m) throw new AuditReadError(`${file} is not an audit export file (segment-NNNNNN.jsonl, segment-NNNNNN.checkpoint.json or export.json)`);
    const slot = segments.get(Number(m[1])) ?? {};
    if (m[2] === 'jsonl') slot.jsonl = file;
    else slot.checkpoint = file;
    segments.set(Number(m[1]), slot);
  }
  if (segments.size === 0) throw new AuditReadError(`no audit export files in ${paths.join(', ')}`);
  const ordered = [...segments.entries()].sort(([a], [b]) => a - b);
  const total = ordered.reduce((n, [, slot]) => n + (slot.jsonl ? statSync(slot.jsonl).size : 0), 0);
  const m = manifest as ExportManifest | null;
  function* input(): Generator<LogItem> {
    if (m) yield { kind: 'start', start: startOf(m) };
    for (const [n, slot] of ordered) {
      const entries = slot.jsonl ? jsonlEntries(read(slot.jsonl), basename(slot.jsonl)) : [];
      const checkpoint = slot.checkpoint ? { text: checkpointFile(read(slot.checkpoint).toString('utf8'), slot.checkpoint), where: slot.checkpoint } : null;
      yield { kind: 'segment', segment: { label: `segment ${n} (${slot.checkpoint ?? slot.jsonl})`, number: n, checkpoint, entries } };
    }
    const lastFile = ordered[ordered.length - 1]![0];
    if (m && lastFile < m.last_segment) {
      const which = lastFile + 1 === m.last_segment ? `segment ${m.last_segment} is missing` : `segments ${lastFile + 1}..${m.last_segment} are missing`;
      yield { kind: 'segment', segment: { label: `segment ${lastFile + 1}`, number: lastFile + 1, checkpoint: null, entries: [], missing: `${which}: ${MANIFEST_FILE} names segments ${m.first_segment}..${m.last_segment}, but the files end at segment ${lastFile}` } };
    }
  }
  // `total` is in bytes here: the progress bar only needs a proportion.
  return { input: input(), total, manifest: m };
}

function startOf(m: ExportManifest): StartInput {
  const base = m.base && { segment: m.base.segment, checkpoint: { text: m.base.checkpoint, where: `${MANIFEST_FILE} base` }, frontier: m.base.frontier.map((h) => Buffer.from(h, 'hex')) };
  return { firstSegment: m.first_segment, where: MANIFEST_FILE, base };
}

function readManifest(file: string): ExportManifest {
  let m: ExportManifest;
  try {
    m = JSON.parse(read(file).toString('utf8')) as ExportManifest;
  } catch (err) {
    throw new AuditReadError(`${file} is not JSON: ${(err as Error).message}`, { cause: err });
  }
  const ints = [m?.first_segment, m?.last_segment, m?.first_record, m?.last_record].every((n) => Number.isSafeInteger(n) && (n as number) >= 0);
  const base = m?.base === null || (typeof m?.base === 'object' && Number.isSafeInteger(m.base.segment) && typeof m.base.checkpoint === 'string' && Array.isArray(m.base.frontier) && m.base.frontier.every((h) => typeof h === 'string' && /^[0-9a-f]{64}$/.test(h)));
  if (m?.v !== 2 || typeof m.origin !== 'string' || !ints || !base) throw new AuditReadError(`${file} is not an export manifest (docs/audit-format.md §5)`);
  return m;
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

/** The checkpoint in a checkpoint file: `{"note": …}` or `{"jws": …}`, or the bare note or JWS. */
export function checkpointFile(text: string, file: string): string {
  const found = checkpointFileText(text);
  if (found === null) throw new AuditReadError(`${file} is not a checkpoint file: expected {"note": "<signed note>"}, {"jws": "<compact JWS>"} or the bare checkpoint`);
  return found;
}
