/**
 * Export: sealed segments as files an auditor verifies with no LMDB (docs/audit-format.md §5).
 * Only whole segments leave, because a checkpoint vouches for a whole tree size. A partial export
 * (not from segment 0) carries in export.json the checkpoint before it and the tree's compact range
 * there, so its first segment is checked against a signed root. What is written is verified with the
 * trusted keys before the export counts: a tampered store yields an error, not an export.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AuditReadError } from './errors.js';
import type { TrustedKey } from './keys.js';
import { Frontier, leafHash } from './merkle.js';
import { fileInput, MANIFEST_FILE, segmentFileName, type ExportManifest } from './sources.js';
import { checkpointEnd, storedCheckpoints, type Store, type StoredCheckpoint } from './store.js';
import { verifyLog } from './verify.js';

export interface ExportResult {
  segments: number[];
  /** The first record exported (records run on consecutively from it). */
  firstRecord: number;
  records: number;
  files: string[];
}

/** Writes every sealed segment overlapping records `from..to` into `out`, then verifies the files with `keys`. */
export async function exportSegments(store: Store, out: string, keys: readonly TrustedKey[], range: { from?: number; to?: number } = {}): Promise<ExportResult> {
  const from = range.from ?? 0;
  const to = range.to ?? Infinity;
  mkdirSync(out, { recursive: true });
  const result: ExportResult = { segments: [], firstRecord: 0, records: 0, files: [] };
  let previous: StoredCheckpoint | null = null;
  let start = 0;
  let manifest: ExportManifest | null = null;
  let origin = '';
  for (const stored of storedCheckpoints(store)) {
    const { key, text, checkpoint } = stored;
    if (typeof checkpoint === 'string') throw new AuditReadError(`the checkpoint stored for segment ${key} in ${store.dir} is not a checkpoint: ${checkpoint}`);
    const end = checkpointEnd(checkpoint);
    if (checkpoint.v === 2) origin = checkpoint.origin;
    if (end - 1 < from || start > to) {
      previous = stored;
      start = end;
      continue;
    }
    if (result.segments.length === 0) {
      result.firstRecord = start;
      manifest = { v: 2, origin, first_segment: key, last_segment: key, first_record: start, last_record: end - 1, base: baseOf(store, previous, start) };
    }
    const lines: Buffer[] = [];
    for (const { value } of store.records.getRange({ start, end })) lines.push(value, Buffer.from('\n'));
    const jsonl = join(out, segmentFileName(key, 'jsonl'));
    const cp = join(out, segmentFileName(key, 'checkpoint.json'));
    writeFileSync(jsonl, Buffer.concat(lines));
    writeFileSync(cp, JSON.stringify(checkpoint.v === 2 ? { note: text } : { jws: text, payload: checkpoint.payload }) + '\n');
    result.segments.push(key);
    result.records += lines.length / 2;
    result.files.push(jsonl, cp);
    manifest!.last_segment = key;
    manifest!.last_record = end - 1;
    previous = stored;
    start = end;
  }
  if (manifest === null) return result;
  manifest.origin = origin;
  const manifestFile = join(out, MANIFEST_FILE);
  writeFileSync(manifestFile, JSON.stringify(manifest, null, 2) + '\n');
  result.files.push(manifestFile);
  const checked = await verifyLog(fileInput([out]).input, { keys, fromGenesis: false, fromRecord: manifest.first_record });
  if (!checked.ok) {
    for (const f of result.files) rmSync(f, { force: true });
    throw new AuditReadError(`the export of ${store.dir} does not verify, so it was removed: ${checked.fault.message}`);
  }
  return result;
}

/**
 * The base of a partial export: the previous format 2 checkpoint and the compact range at its size
 * (stored at seal; rebuilt from the records when missing). Null from segment 0 and after a format 1
 * checkpoint (format 1 segments carry their own roots).
 */
function baseOf(store: Store, previous: StoredCheckpoint | null, size: number): ExportManifest['base'] {
  if (previous === null || typeof previous.checkpoint === 'string' || previous.checkpoint.v !== 2) return null;
  const kept = store.frontiers.getBinary(previous.key);
  let frontier: Frontier;
  if (kept) frontier = Frontier.decode(size, kept);
  else {
    frontier = new Frontier();
    for (const { value } of store.records.getRange({ start: 0, end: size })) frontier.push(leafHash(value));
  }
  return { segment: previous.key, checkpoint: previous.text, frontier: frontier.nodes.map((h) => h.toString('hex')) };
}
