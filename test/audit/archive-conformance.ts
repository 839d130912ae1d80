/**
 * What every `AuditArchive` backend promises (src/audit/archive.ts), as one test body run against
 * each backend: the folder (test/audit/archive.test.ts) and the cluster store's PostgreSQL
 * (test/cluster/archive.test.ts). Driven by the real archiver over a real log: segments stored in
 * order and read back byte for byte; listed in order, from a segment on; stored again with a
 * cosignature added; deleted; a write that fails while the backend is out of reach retried until
 * it is back, with nothing lost or reordered; pruning only after read-back; expiry; and
 * `verify` over archive + live green.
 */
import { generateKeyPairSync } from 'node:crypto';
import type { Test } from 'uvu';
import * as assert from 'uvu/assert';
import { Archiver, archiveInput, cosignatureLine, parseNoteCheckpoint, readTrustedKeys, verifyLog, type AuditArchive, type AuditLog } from '../../src/audit/index.js';
import { prunedThrough } from '../../src/audit/store.js';
import { fixture, openLog, sampleEvent, type Fixture } from './helpers.js';

export interface ArchiveBackend {
  /** An archive for `log` (a fresh one per test: the log's origin is new). */
  open(f: Fixture, log: AuditLog): Promise<AuditArchive>;
  /** Puts the backend out of reach; the returned function brings it back. */
  outage(archive: AuditArchive): Promise<() => Promise<void>>;
}

async function appendSealed(log: AuditLog, from: number, n: number): Promise<void> {
  for (let i = from; i < from + n; i++) await log.append(sampleEvent(i));
  await log.seal();
}

async function listed(archive: AuditArchive, from?: number): Promise<number[]> {
  const out: number[] = [];
  for await (const e of archive.list(from)) out.push(e.segment);
  return out;
}

const settle = async (archiver: Archiver, done: () => boolean): Promise<void> => {
  for (let i = 0; i < 300 && !done(); i++) {
    await archiver.kick();
    await new Promise((r) => setTimeout(r, 20));
  }
};

export function archiveConformance(suite: Test, name: string, backend: ArchiveBackend): void {
  suite(`${name}: the archiver stores sealed segments in order; each reads back byte for byte, lists in order and from a segment on`, async () => {
    const f = await fixture();
    const log = await openLog(f, { segmentRecords: 1000 });
    const archive = await backend.open(f, log);
    try {
      const archiver = await Archiver.start(log, archive, { intervalMs: 10_000 });
      for (let s = 0; s < 4; s++) await appendSealed(log, s * 10, 10);
      await archiver.kick();
      const sealed = [...log.reader.checkpoints.getKeys({})];
      assert.equal(await listed(archive), sealed);
      assert.equal(await listed(archive, 2), sealed.filter((k) => k >= 2));
      for (const k of sealed) {
        const got = (await archive.get(k))!;
        assert.is(got.segment, k);
        assert.is(got.checkpoint, log.reader.checkpoints.get(k));
        const cp = parseNoteCheckpoint(got.checkpoint);
        assert.ok(typeof cp !== 'string' && cp.size === got.size);
        assert.is(got.records.length, got.size - got.first);
        got.records.forEach((r, i) => assert.ok(r.equals(Buffer.from(log.reader.records.get(got.first + i)!)), `segment ${k} record ${got.first + i}`));
        assert.is(got.base === null, k === 0);
        if (got.base) assert.is(got.base.checkpoint, log.reader.checkpoints.get(k - 1));
      }
      assert.is(await archive.get(sealed.length + 5), null);
      assert.is(archiver.stats().archived_through, sealed[sealed.length - 1]);
      assert.is(archiver.stats().pending, 0);
    } finally {
      await log.close();
      await archive.close();
      f.cleanup();
    }
  });

  suite(`${name}: a segment stored again with a witness's cosignature added replaces it; deleting one removes it, deleting one not held is no error`, async () => {
    const f = await fixture();
    const log = await openLog(f, { segmentRecords: 1000 });
    const archive = await backend.open(f, log);
    try {
      const archiver = await Archiver.start(log, archive, { intervalMs: 10_000 });
      for (let s = 0; s < 3; s++) await appendSealed(log, s * 10, 10);
      await archiver.kick();
      const one = (await archive.get(1))!;
      const cp = parseNoteCheckpoint(one.checkpoint);
      if (typeof cp === 'string') throw new Error(cp);
      const witness = generateKeyPairSync('ed25519').privateKey;
      const cosigned = one.checkpoint + cosignatureLine(cp.text, 'witness.example', witness, 1_700_000_000);
      await archive.put({ ...one, checkpoint: cosigned });
      assert.is((await archive.get(1))!.checkpoint, cosigned);
      assert.equal((await archive.get(1))!.records.map(String), one.records.map(String));
      await archive.delete(0);
      await archive.delete(0);
      await archive.delete(99);
      assert.is(await archive.get(0), null);
      assert.equal(await listed(archive), [1, 2]);
    } finally {
      await log.close();
      await archive.close();
      f.cleanup();
    }
  });

  suite(`${name}: while the archive is out of reach writes are retried with backoff (appends go on); afterwards nothing is lost or reordered, pruning follows read-back, verify over both is green`, async () => {
    const f = await fixture();
    const log = await openLog(f, { segmentRecords: 1000 });
    const archive = await backend.open(f, log);
    const warnings: string[] = [];
    try {
      const archiver = await Archiver.start(log, archive, { retainLive: { seconds: 0 }, retryBaseMs: 20, retryMaxMs: 50, intervalMs: 20, log: (level, message) => warnings.push(`${level} ${message}`) });
      for (let s = 0; s < 3; s++) await appendSealed(log, s * 10, 10);
      await archiver.kick();
      const restore = await backend.outage(archive);
      try {
        for (let s = 3; s < 7; s++) await appendSealed(log, s * 10, 10);
        await archiver.kick();
        const stuck = archiver.stats();
        assert.ok(stuck.failures >= 1, 'a failed archive write is counted');
        assert.ok(stuck.pending >= 4, `segments wait for the archive (pending ${stuck.pending})`);
        assert.ok(stuck.last_error !== null, 'the last error is shown');
        assert.ok(warnings.some((w) => w.startsWith('warn audit archive write failed')), warnings.join('\n'));
        assert.ok(prunedThrough(log.reader) <= stuck.archived_through, 'nothing unarchived left the live store');
      } finally {
        await restore();
      }
      await settle(archiver, () => archiver.stats().pending === 0 && archiver.stats().pruned_through >= 5);
      const caught = archiver.stats();
      assert.is(caught.failing, 0);
      assert.is(caught.pending, 0);
      assert.ok(caught.pruned_through >= 5, `pruned through ${caught.pruned_through}`);
      assert.equal(await listed(archive), [...Array(caught.archived_through + 1).keys()]);
      const ok = await verifyLog(archiveInput(log.reader, archive).input, { keys: await readTrustedKeys([f.pub]), fromGenesis: true });
      assert.ok(ok.ok, JSON.stringify(!ok.ok && ok.fault));
      assert.ok(ok.summary.records >= 70, `records ${ok.summary.records}`);
      // A segment that was archived and pruned, then deleted from the archive without expiring, is missed.
      await archive.delete(2);
      const red = await verifyLog(archiveInput(log.reader, archive).input, { keys: await readTrustedKeys([f.pub]), fromGenesis: true });
      assert.ok(!red.ok && red.fault.kind === 'missing-segment', JSON.stringify(!red.ok && red.fault));
    } finally {
      await log.close();
      await archive.close();
      f.cleanup();
    }
  });

  suite(`${name}: archived segments past retention are deleted after a segment.expired record; the rest still verifies`, async () => {
    const f = await fixture();
    const log = await openLog(f, { segmentRecords: 1000 });
    const archive = await backend.open(f, log);
    try {
      const archiver = await Archiver.start(log, archive, { retainLive: { bytes: 0 }, retainArchiveDays: 0, intervalMs: 10_000 });
      for (let s = 0; s < 5; s++) await appendSealed(log, s * 10, 10);
      await archiver.kick();
      await archiver.kick();
      assert.ok(archiver.stats().segments_expired >= 3, `expired ${archiver.stats().segments_expired}`);
      const kept = await listed(archive);
      assert.ok(kept.length > 0 && kept[0]! >= 3, `kept ${kept.join(',')}`);
      const ok = await verifyLog(archiveInput(log.reader, archive).input, { keys: await readTrustedKeys([f.pub]), fromGenesis: true });
      assert.ok(ok.ok, JSON.stringify(!ok.ok && ok.fault));
      assert.ok((ok.summary.segments?.first ?? 0) > 0, 'the verified log starts after the expired segments');
    } finally {
      await log.close();
      await archive.close();
      f.cleanup();
    }
  });
}
