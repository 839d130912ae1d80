/**
 * The cluster store as an audit archive, against a real PostgreSQL and real audit logs: the
 * archive conformance tests every backend passes (test/audit/archive-conformance.ts, the same body
 * the folder archive runs), then its witness role: a log rewritten with the real key (a fork) is
 * refused when its next segment arrives, a checkpoint of the same log signed by another key is
 * refused, a key the log itself vouches for (key.rotated) is taken; and the archive alone rebuilds
 * an export that verifies.
 */
import { createPublicKey, hash } from 'node:crypto';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { Archiver, AuditLog, fileInput, joinRecords, leafHash, loadOrCreateAuditKey, openStore, readTrustedKeys, verifyLog, type TrustedKey } from '../../src/audit/index.js';
import { CheckpointRefused, lastArchived, openPool, PostgresArchive, writeArchivedExport } from '../../src/cluster-store/index.js';
import { archiveConformance } from '../audit/archive-conformance.js';
import { fixture, openLog, rewriteHistory, sampleEvent, type Fixture } from '../audit/helpers.js';
import { startMigratedPostgres, type TestPostgres } from '../helpers/postgres.js';

let server: TestPostgres;
let pool: ReturnType<typeof openPool>;

test.before(async () => {
  const started = await startMigratedPostgres();
  server = started.server;
  pool = openPool(started.opts);
});
test.after(async () => {
  await pool.end();
  await server.stop();
});

const keyOf = (f: Fixture): TrustedKey => ({ kid: f.key.keyId, key: createPublicKey(f.key.privateKey) });
const archiveFor = (log: AuditLog, keys: TrustedKey[], node = 'n1') => new PostgresArchive(pool, { origin: log.origin, node, keys, target: 'test' });

async function appendSealed(log: AuditLog, from: number, n: number): Promise<void> {
  for (let i = from; i < from + n; i++) await log.append(sampleEvent(i));
  await log.seal();
}

archiveConformance(test, 'postgres', {
  open: async (f, log) => archiveFor(log, [keyOf(f)]),
  outage: async () => {
    await server.halt();
    return () => server.start();
  },
});

test('postgres: a log rewritten with the real key is refused as a fork when its next segment arrives; the archive keeps what it held', async () => {
  const f = await fixture();
  try {
    let log = await openLog(f, { segmentRecords: 1000 });
    const origin = log.origin;
    let archiver = await Archiver.start(log, archiveFor(log, [keyOf(f)]), { intervalMs: 10_000 });
    for (let s = 0; s < 3; s++) await appendSealed(log, s * 10, 10);
    await archiver.kick();
    await log.close();
    const held = (await lastArchived(pool, origin))!;
    // Whoever holds the key rewrites record 12 and re-signs every checkpoint after it.
    const store = openStore(f.dir);
    await rewriteHistory(store, f.key.privateKey, 12, (r) => (r.event.status = 500));
    await store.env.close();
    log = await openLog(f, { segmentRecords: 1000 });
    const warnings: string[] = [];
    archiver = await Archiver.start(log, archiveFor(log, [keyOf(f)]), { intervalMs: 10_000, retryBaseMs: 3_600_000, log: (level, message, fields) => warnings.push(`${level} ${message} ${String(fields.error)}`) });
    await appendSealed(log, 100, 10);
    await archiver.kick();
    const stats = archiver.stats();
    assert.ok(stats.pending >= 1, `the fork's segment is not archived (pending ${stats.pending})`);
    assert.match(String(stats.last_error), new RegExp(`tree size \\d+ of ${origin.replace(/[/.]/g, '\\$&')} \\(segment \\d+\\) starts from a tree of size ${held.size} whose root differs from the archived checkpoint's: a forked log; the archive holds this log at tree size ${held.size}`));
    assert.match(warnings.join('\n'), /audit archive write failed/);
    assert.is((await lastArchived(pool, origin))!.note, held.note);
    await log.close();
  } finally {
    f.cleanup();
  }
});

test('postgres: a rewritten segment stored again, or a rolled-back one, is refused; the held checkpoint stays', async () => {
  const f = await fixture();
  try {
    const log = await openLog(f, { segmentRecords: 1000 });
    const archive = archiveFor(log, [keyOf(f)]);
    const archiver = await Archiver.start(log, archive, { intervalMs: 10_000 });
    for (let s = 0; s < 2; s++) await appendSealed(log, s * 10, 10);
    await archiver.kick();
    const one = (await archive.get(1))!;
    // Same range, other bytes: the records no longer hash to the signed root.
    const tampered = { ...one, records: one.records.map((r, i) => (i === 3 ? Buffer.from(r.toString('utf8').replace('"status":200', '"status":500')) : r)) };
    const err = await archive.put(tampered).catch((e: unknown) => e);
    assert.instance(err, CheckpointRefused);
    assert.match((err as Error).message, /segment 1 of .* refused: its records do not hash to its checkpoint's root/);
    // Leaf hashes handed along (a just-sealed segment's) are folded, not trusted: a leaf of other bytes is refused too.
    const wrongLeaves = { ...one, leaves: tampered.records.map((r) => leafHash(r)) };
    const errLeaves = await archive.put(wrongLeaves).catch((e: unknown) => e);
    assert.instance(errLeaves, CheckpointRefused);
    assert.match((errLeaves as Error).message, /segment 1 of .* refused: its records do not hash to its checkpoint's root/);
    await archive.put({ ...one, leaves: one.records.map((r) => leafHash(r)) });
    // Stored again: the one row is replaced (a delete, then COPY), byte for byte, with the database's digest of it.
    const rows = (await pool.query<{ body: Buffer; sha256: string }>('SELECT body, sha256 FROM regate_audit_segments WHERE origin = $1 AND segment = 1', [log.origin])).rows;
    assert.is(rows.length, 1);
    assert.ok(rows[0]!.body.equals(joinRecords(one.records)), 'the stored body is the records, each with its newline');
    assert.is(rows[0]!.sha256, hash('sha256', rows[0]!.body, 'hex'));
    // A checkpoint of a size the archive never held, below the one it holds: a rollback.
    const rolled = { ...one, size: one.size - 1, records: one.records.slice(0, -1), checkpoint: one.base!.checkpoint };
    const err2 = await archive.put(rolled).catch((e: unknown) => e);
    assert.instance(err2, CheckpointRefused);
    assert.is((err2 as CheckpointRefused).code, 'ERR_CLUSTER_CHECKPOINT_REFUSED');
    assert.is((await archive.get(1))!.checkpoint, one.checkpoint);
    await log.close();
  } finally {
    f.cleanup();
  }
});

test('postgres: a checkpoint of the same log signed by another key is refused, naming the keys; a key the log vouches for with key.rotated is taken', async () => {
  const f = await fixture();
  const other = await fixture();
  try {
    let log = await openLog(f, { segmentRecords: 1000 });
    const origin = log.origin;
    let archiver = await Archiver.start(log, archiveFor(log, [keyOf(f)]), { intervalMs: 10_000 });
    await appendSealed(log, 0, 10);
    await archiver.kick();
    await log.close();

    // Another machine claims the same origin with its own key.
    const impostor = await AuditLog.open({ dir: other.dir, signingKey: other.key.privateKey, keyId: other.key.keyId, origin, segmentRecords: 1000 });
    const theirs = await Archiver.start(impostor, archiveFor(impostor, [keyOf(other)], 'n2'), { intervalMs: 10_000, retryBaseMs: 3_600_000 });
    for (let s = 0; s < 3; s++) await appendSealed(impostor, s * 10, 10);
    await theirs.kick();
    assert.match(String(theirs.stats().last_error), `of ${origin} is signed by key ${other.key.keyId}, which the archive does not hold for this log (it holds ${f.key.keyId})`);
    assert.is(theirs.stats().archived_through, 0, 'nothing of the impostor is stored');
    await impostor.close();

    // The node's own key is rotated: the log records key.rotated (new kid, previous kid), which vouches for the new key.
    const rotated = await loadOrCreateAuditKey(join(f.state, 'rotated'));
    const newKey: TrustedKey = { kid: rotated.keyId, key: createPublicKey(rotated.privateKey) };
    log = await AuditLog.open({ dir: f.dir, signingKey: rotated.privateKey, keyId: rotated.keyId, previousKeys: [keyOf(f)], segmentRecords: 1000 });
    archiver = await Archiver.start(log, archiveFor(log, [newKey, keyOf(f)]), { intervalMs: 10_000, retryBaseMs: 3_600_000 });
    await appendSealed(log, 100, 10);
    await archiver.kick();
    assert.is(archiver.stats().last_error, null);
    assert.is(archiver.stats().pending, 0);
    const keys = await pool.query<{ kid: string; vouched_by: string | null }>('SELECT kid, vouched_by FROM regate_audit_keys WHERE origin = $1 ORDER BY added_at_ms, kid', [origin]);
    assert.equal(keys.rows.map((k) => [k.kid, k.vouched_by]), [[f.key.keyId, null], [rotated.keyId, f.key.keyId]]);
    await log.close();

    // The archive alone rebuilds an export that verifies with both keys.
    const out = join(f.state, 'export');
    await writeArchivedExport(pool, origin, out);
    const verified = await verifyLog(fileInput([out]).input, { keys: [...(await readTrustedKeys([f.pub])), newKey], fromGenesis: true });
    assert.ok(verified.ok, verified.ok ? '' : verified.fault.message);
  } finally {
    f.cleanup();
    other.cleanup();
  }
});

test('postgres: an export from the archive pages through every segment, more than one query holds, in order, and verifies', async () => {
  const f = await fixture();
  try {
    const log = await openLog(f, { segmentRecords: 1000 });
    const origin = log.origin;
    const archiver = await Archiver.start(log, archiveFor(log, [keyOf(f)], 'n-export'), { intervalMs: 10_000 });
    for (let s = 0; s < 19; s++) await appendSealed(log, s * 2, 2);
    await archiver.kick();
    assert.is(archiver.stats().pending, 0);
    await log.close();
    const out = join(f.state, 'export');
    const segments = await writeArchivedExport(pool, origin, out);
    assert.equal(segments, Array.from({ length: 19 }, (_, i) => i));
    const verified = await verifyLog(fileInput([out]).input, { keys: await readTrustedKeys([f.pub]), fromGenesis: true });
    assert.ok(verified.ok, verified.ok ? '' : verified.fault.message);
    assert.is(verified.ok && verified.summary.records, 38);
  } finally {
    f.cleanup();
  }
});

test.run();
