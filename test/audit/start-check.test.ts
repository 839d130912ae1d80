/**
 * The writer checks its own store at open against the checkpoint it last published outside it: a
 * rolled-back, truncated or rewritten store is refused with a precise error, or opened with an
 * explicit override that the log itself records (gateway.override); the gateway refuses to start
 * on it the same way. (An unclean stop recorded as gateway.recovered: test/audit/crash.test.ts.)
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cpSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { AuditLog, AuditStoreMismatchError, openStore, parseRecord } from '../../src/audit/index.js';
import { fixture, rewriteHistory, sampleEvent, type Fixture } from './helpers.js';
import { startRig } from '../gateway/harness.js';

let f: Fixture;
let published: string;
const open = (override?: string) => AuditLog.open({ dir: f.dir, signingKey: f.key.privateKey, keyId: f.key.keyId, segmentRecords: 10, publishedFile: published, ...(override ? { override } : {}) });

async function events(dir: string): Promise<Array<{ type: string; reason?: string }>> {
  const store = openStore(dir, { readOnly: true });
  try {
    return [...store.records.getRange()].map(({ value }) => (parseRecord(value) as { event: { type: string; reason?: string } }).event);
  } finally {
    await store.env.close();
  }
}

test.before(async () => {
  f = await fixture();
  published = join(f.state, 'audit.published');
  const log = await open();
  for (let i = 0; i < 10; i++) await log.append(sampleEvent(i));
  await log.close();
  cpSync(f.dir, join(f.state, 'snapshot'), { recursive: true });
  const more = await open();
  for (let i = 10; i < 25; i++) await more.append(sampleEvent(i));
  await more.close();
});
test.after(() => f.cleanup());

test('the untouched store opens', async () => {
  await (await open()).close();
});

test('a rolled-back store is refused with a precise error, and opens with a recorded override', async () => {
  const good = join(f.state, 'good');
  cpSync(f.dir, good, { recursive: true });
  cpSync(published, `${published}.good`);
  try {
    rmSync(f.dir, { recursive: true });
    cpSync(join(f.state, 'snapshot'), f.dir, { recursive: true });
    const err = await open().catch((e: unknown) => e);
    assert.instance(err, AuditStoreMismatchError);
    assert.match((err as Error).message, new RegExp(`the audit log at ${f.dir} ends at tree size \\d+, but this gateway published a checkpoint of tree size \\d+`));
    assert.match((err as Error).message, 'the store was rolled back or truncated');
    const log = await open('restored from the 09:00 backup, ticket OPS-7');
    await log.close();
    const override = (await events(f.dir)).find((e) => e.type === 'gateway.override');
    assert.match(override?.reason ?? '', /^restored from the 09:00 backup, ticket OPS-7: the audit log at .* ends at tree size \d+/);
  } finally {
    rmSync(f.dir, { recursive: true, force: true });
    cpSync(good, f.dir, { recursive: true });
    cpSync(`${published}.good`, published);
  }
});

test('a store rewritten with the real key is refused', async () => {
  const good = join(f.state, 'good2');
  cpSync(f.dir, good, { recursive: true });
  try {
    const s = openStore(f.dir);
    await rewriteHistory(s, f.key.privateKey, 3, (r) => (r.event.status = 500));
    await s.env.close();
    const err = await open().catch((e: unknown) => e);
    assert.instance(err, AuditStoreMismatchError);
    assert.match((err as Error).message, /was rewritten: its checkpoint of tree size \d+ \(segment \d+\) differs from the one this gateway published/);
  } finally {
    rmSync(f.dir, { recursive: true, force: true });
    cpSync(good, f.dir, { recursive: true });
  }
});

test('the gateway refuses to start on a rolled-back store', async () => {
  const rig = await startRig({ keepState: true });
  const stateDir = rig.stateDir;
  await rig.stop();
  const snapshot = join(stateDir, 'audit-snapshot');
  cpSync(join(stateDir, 'audit'), snapshot, { recursive: true });
  try {
    const again = await startRig({ stateDir, keepState: true });
    // Another run seals more, then the store is put back as it was.
    await again.stop();
    rmSync(join(stateDir, 'audit'), { recursive: true });
    cpSync(snapshot, join(stateDir, 'audit'), { recursive: true });
    const err = await startRig({ stateDir, keepState: true }).catch((e: unknown) => e);
    assert.instance(err, AuditStoreMismatchError);
    assert.match((err as Error).message, 'the store was rolled back or truncated');
  } finally {
    rmSync(stateDir, { recursive: true, force: true });
  }
});

test.run();
