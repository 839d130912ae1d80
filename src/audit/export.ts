/**
 * Export: sealed segments as files an auditor verifies with no LMDB (docs/audit-format.md §4).
 * Only whole segments leave, because a checkpoint vouches for a whole segment.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { segmentFileName } from './sources.js';
import { storedCheckpoints, type Store } from './store.js';
import { AuditReadError } from './errors.js';

export interface ExportResult {
  segments: number[];
  /** The first record exported (records run on consecutively from it). */
  firstRecord: number;
  records: number;
  files: string[];
}

/** Writes every sealed segment overlapping records `from..to` into `out`. */
export function exportSegments(store: Store, out: string, range: { from?: number; to?: number } = {}): ExportResult {
  const from = range.from ?? 0;
  const to = range.to ?? Infinity;
  mkdirSync(out, { recursive: true });
  const result: ExportResult = { segments: [], firstRecord: 0, records: 0, files: [] };
  for (const { key, jws, checkpoint } of storedCheckpoints(store)) {
    if (checkpoint === null) throw new AuditReadError(`the checkpoint stored under key ${key} in ${store.dir} is not a checkpoint`);
    const p = checkpoint.payload;
    if (p.last < from || p.first > to) continue;
    const lines: Buffer[] = [];
    for (const { value } of store.records.getRange({ start: p.first, end: p.last + 1 })) lines.push(value, Buffer.from('\n'));
    const jsonl = join(out, segmentFileName(p.segment, 'jsonl'));
    const cp = join(out, segmentFileName(p.segment, 'checkpoint.json'));
    writeFileSync(jsonl, Buffer.concat(lines));
    writeFileSync(cp, JSON.stringify({ jws, payload: p }) + '\n');
    if (result.segments.length === 0) result.firstRecord = p.first;
    result.segments.push(p.segment);
    result.records += lines.length / 2;
    result.files.push(jsonl, cp);
  }
  return result;
}
