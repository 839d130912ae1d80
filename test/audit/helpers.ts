/** Shared fixtures for the audit tests: a temp state dir with a real key and a real LMDB log. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KeyObject } from 'node:crypto';
import { Archiver, AuditLog, FolderArchive, Frontier, LogReader, loadOrCreateAuditKey, prunedThrough, storedCheckpoints, type AuditArchive, type AuditEvent, type LogSegment, type AuditLogOptions, type Store } from '../../src/audit/index.js';
import { canonicalJson } from '../../src/audit/canonical.js';
import { signNoteCheckpoint } from '../../src/audit/checkpoint.js';
import { leafHash } from '../../src/audit/merkle.js';
import { GENESIS_PREV } from '../../src/audit/record.js';

export interface Fixture {
  state: string;
  dir: string;
  pub: string;
  key: Awaited<ReturnType<typeof loadOrCreateAuditKey>>;
  cleanup: () => void;
}

export async function fixture(): Promise<Fixture> {
  const state = mkdtempSync(join(tmpdir(), 'regate-audit-'));
  const key = await loadOrCreateAuditKey(state);
  return { state, dir: join(state, 'audit'), pub: join(state, 'audit.pub.pem'), key, cleanup: () => rmSync(state, { recursive: true, force: true }) };
}

export function openLog(f: Fixture, opts: Partial<AuditLogOptions> = {}): Promise<AuditLog> {
  return AuditLog.open({ dir: f.dir, signingKey: f.key.privateKey, keyId: f.key.keyId, ...opts });
}

/** Record i of a test log: decisions and outcomes of request r<n> alternate. */
export function sampleEvent(i: number): AuditEvent {
  const request_id = `r${Math.floor(i / 2)}`;
  return i % 2 === 0
    ? { type: 'request.decision', request_id, subject: 'alice', groups: ['fraud-analysts'], client: '127.0.0.1', route: 'fraud-model', upstream: 'http://127.0.0.1:9/', method: 'POST', path: '/v1/score', decision: { effect: 'allow', reason: 'fraud analysts may score', policy_revision: 'rev-1' }, approval: null, request_body: null }
    : { type: 'request.outcome', request_id, status: 200, bytes_in: 10, bytes_out: 20, duration_ms: 3, masked: { pan: 1 }, response_body: null, error: null };
}

/** Writes `n` sample records into a fresh log with segments of `segmentRecords`, and closes it. */
export async function writeLog(f: Fixture, n: number, segmentRecords: number): Promise<void> {
  const log = await openLog(f, { segmentRecords });
  await Promise.all(Array.from({ length: n }, (_, i) => log.append(sampleEvent(i))));
  await log.close();
}

/**
 * What a holder of the signing key can do to a closed log: change record `seq`, re-chain every later
 * record, and re-sign every checkpoint from there on with the real key (a "consistent rewrite").
 * The result verifies on its own; only outside memory (a kept checkpoint, a witness) catches it.
 */
export async function rewriteHistory(store: Store, key: KeyObject, seq: number, change: (r: Record<string, any>) => void): Promise<void> {
  const records = [...store.records.getRange()].map(({ value }) => Buffer.from(value));
  const ends = new Map<number, { segment: number; origin: string }>();
  for (const s of storedCheckpoints(store)) {
    if (typeof s.checkpoint !== 'string' && s.checkpoint.v === 2) ends.set(s.checkpoint.size, { segment: s.key, origin: s.checkpoint.origin });
  }
  const frontier = new Frontier();
  let prev = GENESIS_PREV;
  for (let i = 0; i < records.length; i++) {
    if (i >= seq) {
      const r = JSON.parse(records[i]!.toString('utf8'));
      if (i === seq) change(r);
      r.prev = prev;
      records[i] = Buffer.from(canonicalJson(r));
      await store.records.put(i, records[i]!);
    }
    const leaf = leafHash(records[i]!);
    frontier.push(leaf);
    prev = leaf.toString('hex');
    const end = ends.get(i + 1);
    if (end && i >= seq) {
      await store.checkpoints.put(end.segment, signNoteCheckpoint(end.origin, i + 1, frontier.root()!, key));
      await store.frontiers.put(end.segment, frontier.encode());
    }
  }
}

/**
 * Writes `segments` sealed segments of 10 records (`event(i)`, default sample records) to `log` through an archiver to `archive`
 * that prunes at once (retain_live 0), then closes the log. Returns how far the live store was
 * pruned and the archiver's last error.
 */
export async function writeArchived(log: AuditLog, archive: AuditArchive, segments: number, event: (i: number) => AuditEvent = sampleEvent): Promise<{ pruned: number; error: string | null }> {
  const archiver = await Archiver.start(log, archive, { retainLive: { seconds: 0 }, intervalMs: 3_600_000 });
  try {
    for (let s = 0; s < segments; s++) {
      for (let i = s * 10; i < s * 10 + 10; i++) await log.append(event(i));
      await log.seal();
    }
    await archiver.kick();
    return { pruned: prunedThrough(log.reader), error: archiver.stats().last_error };
  } finally {
    await log.close();
  }
}

/** The reader before the archive index: every walk starts at the archive's first segment (the baseline of the index's test and bench). */
export class LinearReader extends LogReader {
  override segments(): AsyncGenerator<LogSegment> {
    return super.segments(0);
  }
}

/** A folder archive that counts its segment reads. */
export class CountingArchive extends FolderArchive {
  gets = 0;
  override get(segment: number) {
    this.gets++;
    return super.get(segment);
  }
}
