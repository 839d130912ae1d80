/**
 * Export: sealed segments as files an auditor verifies with no LMDB (docs/audit-format.md §5).
 * Only whole segments leave, because a checkpoint vouches for a whole tree size. A partial export
 * (not from segment 0) carries in export.json the checkpoint before it and the tree's compact range
 * there, so its first segment is checked against a signed root. What is written is verified with the
 * trusted keys before the export counts: a tampered store yields an error, not an export.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeAnyCheckpoint } from './checkpoint.js';
import { AuditReadError } from './errors.js';
import type { TrustedKey } from './keys.js';
import { readerOf, type LogReader, type LogSegment } from './log-reader.js';
import { Frontier } from './merkle.js';
import { fileInput, MANIFEST_FILE, segmentFileName, type ExportManifest } from './sources.js';
import type { Store } from './store.js';
import { verifyLog } from './verify.js';

export interface ExportResult {
  segments: number[];
  /** The first record exported (records run on consecutively from it). */
  firstRecord: number;
  records: number;
  files: string[];
}

/**
 * Writes every sealed segment overlapping records `from..to` into `out`, then verifies the files with
 * `keys`. `source` is the live store, or a LogReader over the archive and the live store.
 */
export async function exportSegments(source: Store | LogReader, out: string, keys: readonly TrustedKey[], range: { from?: number; to?: number } = {}): Promise<ExportResult> {
  const reader = readerOf(source);
  const from = range.from ?? 0;
  const to = range.to ?? Infinity;
  mkdirSync(out, { recursive: true });
  const result: ExportResult = { segments: [], firstRecord: 0, records: 0, files: [] };
  let previous: LogSegment | null = null;
  let manifest: ExportManifest | null = null;
  let origin = '';
  for await (const seg of reader.segments()) {
    const { segment: key, text, checkpoint, first: start, end } = seg;
    if (typeof checkpoint === 'string') throw new AuditReadError(`the checkpoint of segment ${key} in ${reader.where} is not a checkpoint: ${checkpoint}`);
    if (checkpoint.v === 2) origin = checkpoint.origin;
    if (end - 1 < from || start > to) {
      previous = seg;
      continue;
    }
    if (result.segments.length === 0) {
      result.firstRecord = start;
      manifest = { v: 2, origin, first_segment: key, last_segment: key, first_record: start, last_record: end - 1, base: await baseOf(reader, previous, seg) };
    }
    const lines: Buffer[] = [];
    for await (const value of seg.records()) lines.push(value, Buffer.from('\n'));
    const jsonl = join(out, segmentFileName(key, 'jsonl'));
    const cp = join(out, segmentFileName(key, 'checkpoint.json'));
    writeFileSync(jsonl, Buffer.concat(lines));
    writeFileSync(cp, JSON.stringify(checkpoint.v === 2 ? { note: text } : { jws: text, payload: checkpoint.payload }) + '\n');
    result.segments.push(key);
    result.records += lines.length / 2;
    result.files.push(jsonl, cp);
    manifest!.last_segment = key;
    manifest!.last_record = end - 1;
    previous = seg;
  }
  if (manifest === null) return result;
  manifest.origin = origin;
  const manifestFile = join(out, MANIFEST_FILE);
  writeFileSync(manifestFile, JSON.stringify(manifest, null, 2) + '\n');
  result.files.push(manifestFile);
  const checked = await verifyLog(fileInput([out]).input, { keys, fromGenesis: false, fromRecord: manifest.first_record });
  if (!checked.ok) {
    for (const f of result.files) rmSync(f, { force: true });
    throw new AuditReadError(`the export of ${reader.where} does not verify, so it was removed: ${checked.fault.message}`);
  }
  return result;
}

/**
 * The base of a partial export: the previous format 2 checkpoint and the compact range at its size
 * (kept at seal or in the archive; rebuilt from the records when missing). Null from segment 0 and
 * after a format 1 checkpoint (format 1 segments carry their own roots).
 */
async function baseOf(reader: LogReader, previous: LogSegment | null, seg: LogSegment): Promise<ExportManifest['base']> {
  // The segment before it, read just now, or (the first one there is: pruned or expired before it) the base it keeps.
  const text = previous?.text ?? seg.baseCheckpoint;
  if (text === null || seg.segment === 0) return null;
  const cp = decodeAnyCheckpoint(text);
  if (typeof cp === 'string' || cp.v !== 2) return null;
  const frontier = seg.base !== null ? new Frontier(seg.first, seg.base) : await reader.frontierAt(seg.first);
  return { segment: seg.segment - 1, checkpoint: text, frontier: frontier.nodes.map((h) => h.toString('hex')) };
}
