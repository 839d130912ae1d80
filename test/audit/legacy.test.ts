/**
 * Logs written before format 2 stay verifiable: a format 1 log (test/audit/fixtures/v1, written by
 * the previous version: JWS checkpoints per segment) verifies as store and as export, is continued
 * by this version with format 2 checkpoints over the whole log, and its JWS encodings are strict.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AuditLog, loadOrCreateAuditKey, openStore, readTrustedKeys, storeInput, verifyLog } from '../../src/audit/index.js';
import { runCli } from '../helpers/cli.js';
import { sampleEvent } from './helpers.js';

const fixtures = fileURLToPath(new URL('../../../test/audit/fixtures/v1', import.meta.url));
const pub = join(fixtures, 'audit.pub.pem');
let scratch: string;
test.before(() => {
  scratch = mkdtempSync(join(tmpdir(), 'regate-legacy-'));
});
test.after(() => rmSync(scratch, { recursive: true, force: true }));

test('a format 1 export verifies, and a changed record in it is still caught', async () => {
  const ok = await runCli(['audit', 'verify', join(fixtures, 'export'), '--key', pub]);
  assert.is(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, 'audit log v1-fixture-log: intact. 27 records in segments 0..2');
  const copy = join(scratch, 'export');
  cpSync(join(fixtures, 'export'), copy, { recursive: true });
  const file = join(copy, 'segment-000000.jsonl');
  writeFileSync(file, readFileSync(file, 'utf8').replace('"status":200', '"status":201'));
  const bad = await runCli(['audit', 'verify', copy, '--key', pub]);
  assert.is(bad.code, 1);
  assert.match(bad.stderr, 'record 1 was changed: its hash no longer matches the prev hash in record 2');
});

test('a format 1 store is continued with format 2 checkpoints over the whole log, and verifies', async () => {
  const state = join(scratch, 'state');
  cpSync(fixtures, state, { recursive: true });
  const key = await loadOrCreateAuditKey(state);
  const log = await AuditLog.open({ dir: join(state, 'audit'), signingKey: key.privateKey, keyId: key.keyId, segmentRecords: 10 });
  for (let i = 0; i < 4; i++) await log.append(sampleEvent(i));
  await log.close();
  const store = openStore(join(state, 'audit'), { readOnly: true });
  try {
    assert.ok(store.checkpoints.get(2)!.startsWith('eyJ'), 'the old checkpoints are left as they were');
    assert.match(store.checkpoints.get(3)!, /^regate\.audit\/v1-fixture-log\n31\n/);
    const r = await verifyLog(storeInput(store).input, { keys: await readTrustedKeys([pub]), fromGenesis: true });
    assert.ok(r.ok, r.ok ? '' : r.fault.message);
    assert.equal(r.summary.segments, { first: 0, last: 3 });
    assert.is(r.summary.treeHead?.size, 31);
  } finally {
    await store.env.close();
  }
});

test('a format 1 checkpoint with a non-canonical base64url encoding of its signature is rejected', async () => {
  const copy = join(scratch, 'lax');
  cpSync(join(fixtures, 'export'), copy, { recursive: true });
  const file = join(copy, 'segment-000001.checkpoint.json');
  const cp = JSON.parse(readFileSync(file, 'utf8'));
  const [h, p, s] = cp.jws.split('.');
  // The last base64url character of a 64-byte signature carries 4 unused bits: set one. The bytes decode alike.
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  const lax = s.slice(0, -1) + alphabet[alphabet.indexOf(s.at(-1)) + 1];
  assert.equal(Buffer.from(lax, 'base64url'), Buffer.from(s, 'base64url'));
  writeFileSync(file, JSON.stringify({ ...cp, jws: `${h}.${p}.${lax}` }));
  const r = await runCli(['audit', 'verify', copy, '--key', pub]);
  assert.is(r.code, 1);
  assert.match(r.stderr, 'each part in canonical base64url');
});

test.run();
