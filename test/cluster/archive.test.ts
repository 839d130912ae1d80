/**
 * The audit archive as a witness, against a real PostgreSQL and real audit logs: a node's sealed
 * segments and checkpoints are published in order (also those sealed while PostgreSQL was down,
 * once it is back), and a log that rewrites history under the same origin is refused: the archive
 * accepts a checkpoint only as a consistent extension of the last one it holds.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { AuditLog, checkpointEnd, fileInput, lastStoredCheckpoint, loadOrCreateAuditKey, readTrustedKeys, statePublicKeyFiles, verifyLog } from '../../src/audit/index.js';
import { archivedLogs, AuditPublisher, ClusterStore, lastArchived, migrate, openPool, writeArchivedExport, type ClusterPostgresOptions } from '../../src/cluster-store/index.js';
import { startMigratedPostgres, type TestPostgres } from '../helpers/postgres.js';

let server: TestPostgres;
let opts: ClusterPostgresOptions;
const dir = mkdtempSync(join(tmpdir(), 'regate-archive-'));

test.before(async () => {
  ({ server, opts } = await startMigratedPostgres());
});
test.after(async () => {
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function openLog(name: string, origin: string): Promise<AuditLog> {
  const state = join(dir, name);
  const key = await loadOrCreateAuditKey(state);
  return AuditLog.open({ dir: join(state, 'audit'), signingKey: key.privateKey, keyId: key.keyId, origin, segmentRecords: 3 });
}

/** The tree size of the log's newest checkpoint (sealing adds its own segment.sealed records). */
function sealedSize(log: AuditLog): number {
  const last = lastStoredCheckpoint(log.reader);
  if (!last || typeof last.checkpoint === 'string') throw new Error('no checkpoint');
  return checkpointEnd(last.checkpoint);
}

function* storedKeys(log: AuditLog): Generator<number> {
  for (const { key } of log.reader.checkpoints.getRange({})) yield key;
}

async function append(log: AuditLog, n: number, tag: string): Promise<void> {
  for (let i = 0; i < n; i++) await log.append({ type: 'gateway.start', version: `${tag}-${i}`, reason: null });
}

test('sealed segments reach the archive in order, also those sealed while PostgreSQL was down; the archive verifies', async () => {
  const store = await ClusterStore.open(opts, 'a');
  const log = await openLog('a', 'regate.test/a');
  const warnings: string[] = [];
  const publisher = new AuditPublisher(store, log, { retryMs: 3_600_000, onWarning: (m) => warnings.push(m) });
  try {
    await append(log, 6, 'a');
    await publisher.sync();
    const before = sealedSize(log);
    assert.is((await lastArchived(store.pool, 'regate.test/a'))?.size, before);
    await server.halt();
    await append(log, 6, 'b');
    await publisher.sync();
    assert.ok(publisher.backlog > 0 || warnings.some((w) => /queued/.test(w)), 'publication queued while the store is down');
    assert.match(warnings.join('\n'), /audit publication is queued/);
    await server.start();
    await publisher.sync();
    assert.is(publisher.backlog, 0);
    assert.ok(sealedSize(log) > before);
    assert.is((await lastArchived(store.pool, 'regate.test/a'))?.size, sealedSize(log));
    const out = join(dir, 'a-export');
    const segments = await writeArchivedExport(store.pool, 'regate.test/a', out);
    assert.equal(segments, [...storedKeys(log)]);
    const keys = await readTrustedKeys(statePublicKeyFiles(join(dir, 'a')));
    const verified = await verifyLog(fileInput([out]).input, { keys, fromGenesis: true });
    assert.ok(verified.ok, verified.ok ? '' : verified.fault.message);
  } finally {
    await log.close();
    await publisher.close();
    await store.close();
  }
});

test('a log that rewrote its history under the same origin is refused, and publication stops with a warning', async () => {
  const store = await ClusterStore.open(opts, 'b');
  const honest = await openLog('b1', 'regate.test/b');
  const first = new AuditPublisher(store, honest, { retryMs: 3_600_000 });
  await append(honest, 6, 'honest');
  await first.sync();
  await honest.close();
  await first.close();
  // Closing seals the last segment, which the publisher sends before the log closes.
  const held = (await lastArchived(store.pool, 'regate.test/b'))!.size;
  // Same origin, other records: its checkpoint of size 9 does not extend the archived size 6.
  const forged = await openLog('b2', 'regate.test/b');
  const warnings: string[] = [];
  const second = new AuditPublisher(store, forged, { retryMs: 3_600_000, onWarning: (m) => warnings.push(m) });
  try {
    await append(forged, 12, 'forged');
    await second.sync();
    assert.ok(sealedSize(forged) > held);
    assert.match(warnings.join('\n'), new RegExp(`refused this log's checkpoint, publication stopped: .*not consistent with the archived size ${held}`), warnings.join('\n'));
    assert.is((await lastArchived(store.pool, 'regate.test/b'))?.size, held);
    const logs = await archivedLogs(store.pool);
    assert.is(logs.find((l) => l.origin === 'regate.test/b')?.tree_size, held);
  } finally {
    await forged.close();
    await second.close();
    await store.close();
  }
});

test.run();
