/**
 * The audit log's lifecycle on real LMDB and a real archive folder: sealed segments are archived in
 * order, retried while the archive cannot be written (appends go on), pruned from the live store only
 * after read-back; `verify` over archive + live is green, and red once an archived segment that did
 * not expire is deleted; the folder's own format (gzip'd header and records, atomic files, folders of
 * a thousand). What every backend promises runs from archive-conformance.ts, here on the folder.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { readFileSync } from 'node:fs';
import { Archiver, archiveInput, FolderArchive, joinRecords, leafHash, parseNoteCheckpoint, readTrustedKeys, verifyLog, type AppendedRecords, type ArchivedSegment, type AuditArchive, type AuditLog, type NoteCheckpoint } from '../../src/audit/index.js';
import { prunedThrough } from '../../src/audit/store.js';
import { archiveConformance } from './archive-conformance.js';
import { fixture, openLog, sampleEvent, type Fixture } from './helpers.js';

async function verifyAll(f: Fixture, log: AuditLog, archive: FolderArchive) {
  return verifyLog(archiveInput(log.reader, archive).input, { keys: await readTrustedKeys([f.pub]), fromGenesis: true });
}

async function appendSealed(log: AuditLog, from: number, n: number): Promise<void> {
  for (let i = from; i < from + n; i++) await log.append(sampleEvent(i));
  await log.seal();
}

function archivedFiles(dir: string): string[] {
  return readdirSync(dir).filter((d) => /^\d+$/.test(d)).flatMap((d) => readdirSync(join(dir, d)).map((n) => join(dir, d, n)));
}

test('segments are archived in order, pruned after read-back; verify over both is green, red without an unexpired segment', async () => {
  const f = await fixture();
  const archiveDir = join(f.state, 'archive');
  const archive = new FolderArchive(archiveDir);
  const log = await openLog(f, { segmentRecords: 1000 });
  const warnings: string[] = [];
  const archiver = await Archiver.start(log, archive, { retainLive: { seconds: 0 }, retryBaseMs: 20, retryMaxMs: 50, intervalMs: 20, log: (level, message) => warnings.push(`${level} ${message}`) });
  try {
    for (let s = 0; s < 4; s++) await appendSealed(log, s * 10, 10);
    await archiver.kick();
    // The archive folder's volume goes away: appends and seals go on, archiving waits.
    renameSync(archiveDir, archiveDir + '.away');
    writeFileSync(archiveDir, 'not a folder');
    for (let s = 4; s < 8; s++) await appendSealed(log, s * 10, 10);
    await archiver.kick();
    const stuck = archiver.stats();
    assert.ok(stuck.failures >= 1, 'a failed archive write is counted');
    assert.ok(stuck.pending >= 4, `segments wait for the archive (pending ${stuck.pending})`);
    assert.ok(stuck.last_error?.includes('cannot archive segment'), String(stuck.last_error));
    assert.ok(warnings.some((w) => w.startsWith('warn audit archive write failed')));
    // Nothing that is not archived leaves the live store.
    assert.ok(prunedThrough(log.reader) <= stuck.archived_through);
    rmSync(archiveDir);
    renameSync(archiveDir + '.away', archiveDir);
    for (let i = 0; i < 200 && archiver.stats().pending > 1; i++) await new Promise((r) => setTimeout(r, 20));
    await archiver.kick();
    const caught = archiver.stats();
    assert.is(caught.failing, 0);
    assert.ok(caught.pruned_through >= 6, `pruned through ${caught.pruned_through}`);
    // The newest sealed segment stays live: the next record chains to it.
    assert.ok(log.reader.records.get(caught.pruned_through * 0) === undefined, 'record 0 left the live store');

    const ok = await verifyAll(f, log, archive);
    assert.ok(ok.ok, JSON.stringify(!ok.ok && ok.fault));
    assert.ok(ok.summary.records >= 80, `records ${ok.summary.records}`);

    // An archived file is gzip'd: a header line, then the records.
    const files = archivedFiles(archiveDir).sort();
    const lines = gunzipSync(readFileSync(files[1]!)).toString('utf8').trimEnd().split('\n');
    assert.is(JSON.parse(lines[0]!).segment, 1);
    assert.is(JSON.parse(lines[1]!).seq, 10);

    // Deleting an archived segment in the middle, or the first one, is a deletion, not an expiry.
    const middle = files[2]!;
    const saved = readFileSync(middle);
    rmSync(middle);
    const red = await verifyAll(f, log, archive);
    assert.ok(!red.ok && red.fault.kind === 'missing-segment' && red.fault.message.includes('segment 2 is missing'), JSON.stringify(!red.ok && red.fault));
    writeFileSync(middle, saved);
    rmSync(files[0]!);
    const red0 = await verifyAll(f, log, archive);
    assert.ok(!red0.ok && red0.fault.kind === 'missing-segment' && red0.fault.message.includes('no segment.expired record'), JSON.stringify(!red0.ok && red0.fault));
  } finally {
    await log.close();
    f.cleanup();
  }
});

test('a just-sealed segment is archived from the records the log handed over, a backlog from one read of the store; both byte for byte the store', async () => {
  const f = await fixture();
  const puts: ArchivedSegment[] = [];
  class Capturing extends FolderArchive {
    override async put(s: ArchivedSegment): Promise<void> {
      puts.push(s);
      await super.put(s);
    }
  }
  const archive = new Capturing(join(f.state, 'archive'));
  const log = await openLog(f, { segmentRecords: 25 });
  const handed = new Map<number, AppendedRecords | null | undefined>();
  log.onSeal((s) => handed.set(s.segment, s.appended));
  try {
    // Sealed before anyone asked for records: a backlog the archiver reads from the store.
    for (let s = 0; s < 2; s++) await appendSealed(log, s * 10, 10);
    assert.is(handed.get(0), null, 'the log hands over no records unless asked');
    const archiver = await Archiver.start(log, archive, { intervalMs: 20 });
    await archiver.kick();
    // Sealed on size (25 records, its own segment.sealed records among them) after the archiver asked.
    for (let i = 100; i < 160; i++) await log.append(sampleEvent(i));
    await log.seal();
    await archiver.kick();
    assert.ok(puts.length >= 4, `segments archived: ${puts.map((p) => p.segment)}`);
    for (const p of puts) {
      const stored = [...log.reader.records.getRange({ start: p.first, end: p.size })].map((e) => e.value);
      assert.is(p.records.length, stored.length, `segment ${p.segment} record count`);
      p.records.forEach((r, i) => assert.ok(r.equals(stored[i]!), `segment ${p.segment} record ${p.first + i} differs from the store`));
      const kept = handed.get(p.segment);
      if (p.segment < 2) {
        // One buffer for the whole segment, not one per record.
        assert.ok(p.records.every((r) => r.buffer === p.records[0]!.buffer), `segment ${p.segment} is read into one buffer`);
        assert.is(p.leaves, undefined, 'records read from storage carry no leaves: they are hashed');
      } else {
        assert.ok(kept && kept.records.length === p.records.length && p.records.every((r, i) => r === kept.records[i]), `segment ${p.segment} is archived from the records the log handed over`);
        assert.ok(p.leaves?.every((l, i) => l.equals(leafHash(p.records[i]!))), `segment ${p.segment}'s leaves are its records' leaf hashes`);
      }
    }
    const ok = await verifyAll(f, log, archive);
    assert.ok(ok.ok, JSON.stringify(!ok.ok && ok.fault));
  } finally {
    await log.close();
    f.cleanup();
  }
});

test('an archive that keeps no view of what it stored gets those buffers back into later segments; every stored copy stays byte for byte the store', async () => {
  const f = await fixture();
  const copies = new Map<number, Buffer>();
  const bodies: ArrayBufferLike[] = [];
  // Copies what it is given, as the cluster store's COPY does, and says so.
  const archive: AuditArchive = {
    where: 'memory (copies)',
    releasesRecords: true,
    async put(s) {
      copies.set(s.segment, Buffer.from(joinRecords(s.records)));
      bodies.push(s.records[0]!.buffer);
    },
    get: async () => null,
    async *list() {},
    delete: async () => undefined,
    close: async () => undefined,
  };
  const log = await openLog(f, { segmentRecords: 1000 });
  try {
    const archiver = await Archiver.start(log, archive, { intervalMs: 3_600_000 });
    for (let s = 0; s < 6; s++) {
      await appendSealed(log, s * 20, 20);
      await archiver.kick();
    }
    assert.is(copies.size, 6, `segments archived: ${[...copies.keys()]}`);
    assert.ok(bodies.some((b, i) => bodies.indexOf(b) < i), 'a later segment is built in a buffer an earlier one gave back');
    for (const [segment, copy] of copies) {
      const cp = parseNoteCheckpoint(log.reader.checkpoints.get(segment)!) as NoteCheckpoint;
      const first = segment === 0 ? 0 : (parseNoteCheckpoint(log.reader.checkpoints.get(segment - 1)!) as NoteCheckpoint).size;
      const stored = [...log.reader.records.getRange({ start: first, end: cp.size })].map((e) => e.value);
      assert.ok(copy.equals(joinRecords(stored)), `segment ${segment} as archived is the store's records`);
    }
  } finally {
    await log.close();
    f.cleanup();
  }
});

test('the folder archive stores atomically and lists in segment order across folders', async () => {
  const f = await fixture();
  try {
    const archive = new FolderArchive(join(f.state, 'a'));
    const seg = (n: number) => ({ segment: n, first: n, size: n + 1, checkpoint: `cp ${n}\n`, base: null, records: [Buffer.from(`{"n":${n}}`)], sealedAt: '2026-12-01T07:35:55.123Z' });
    for (const n of [1500, 2, 999, 1000]) await archive.put(seg(n));
    const listed: number[] = [];
    for await (const e of archive.list()) listed.push(e.segment);
    assert.equal(listed, [2, 999, 1000, 1500]);
    const listedFrom: number[] = [];
    for await (const e of archive.list(1000)) listedFrom.push(e.segment);
    assert.equal(listedFrom, [1000, 1500]);
    const back = await archive.get(999);
    assert.equal(back?.records.map(String), ['{"n":999}']);
    assert.is(back?.sealedAt, '2026-12-01T07:35:55.123Z');
    assert.is(await archive.get(3), null);
    mkdirSync(join(f.state, 'a', '000000'), { recursive: true });
    assert.equal(readdirSync(join(f.state, 'a', '000000')).filter((n) => n.endsWith('.tmp')), [], 'no temporary file is left');
    await archive.delete(999);
    assert.is(await archive.get(999), null);
  } finally {
    f.cleanup();
  }
});

archiveConformance(test, 'folder', {
  open: async (f) => new FolderArchive(join(f.state, 'archive')),
  outage: async (archive) => {
    // The archive folder's volume goes away.
    const dir = (archive as FolderArchive).dir;
    renameSync(dir, dir + '.away');
    writeFileSync(dir, 'not a folder');
    return async () => {
      rmSync(dir);
      renameSync(dir + '.away', dir);
    };
  },
});

test.run();
