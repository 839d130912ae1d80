/**
 * Each kind of tampering, done to the LMDB store (checked through the API) and to exported files
 * (checked through the real CLI), is caught with its precise message. Log: 25 events in segments
 * of 10, plus the two segment.sealed records the count-triggered seals add: 0..9, 10..19 and
 * 20..26 (sealed on close).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cpSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { generateKeyPairSync } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { canonicalJson } from '../../src/audit/canonical.js';
import { signCheckpoint, decodeCheckpoint } from '../../src/audit/checkpoint.js';
import { exportSegments, keyIdOf, openStore, readTrustedKeys, storeInput, verifyLog, type Store, type VerifyResult } from '../../src/audit/index.js';
import { runCli } from '../helpers/cli.js';
import { fixture, writeLog, type Fixture } from './helpers.js';

let f: Fixture;
let scratch: string;
const other = generateKeyPairSync('ed25519');
let otherKid: string;

test.before(async () => {
  f = await fixture();
  await writeLog(f, 25, 10);
  scratch = mkdtempSync(join(tmpdir(), 'regate-tamper-'));
  otherKid = await keyIdOf(other.publicKey);
});
test.after(() => {
  f.cleanup();
  rmSync(scratch, { recursive: true, force: true });
});

let n = 0;
/** A copy of the pristine log, tampered with by `edit`, then verified. */
async function tamperStore(edit: (s: Store) => Promise<unknown>, lastCheckpoint?: string): Promise<VerifyResult> {
  const dir = join(scratch, `store-${n++}`);
  cpSync(f.dir, dir, { recursive: true });
  const writable = openStore(dir);
  await edit(writable);
  await writable.env.close();
  const store = openStore(dir, { readOnly: true });
  try {
    return await verifyLog(storeInput(store).input, { keys: await readTrustedKeys([f.pub]), fromGenesis: true, ...(lastCheckpoint ? { lastCheckpoint } : {}) });
  } finally {
    await store.env.close();
  }
}

function rewrite(bytes: Buffer, change: (r: Record<string, any>) => void): Buffer {
  const r = JSON.parse(bytes.toString('utf8'));
  change(r);
  return Buffer.from(canonicalJson(r));
}

function fault(r: VerifyResult): string {
  assert.not.ok(r.ok, 'verification should fail');
  return r.ok ? '' : r.fault.message;
}

async function resigned(jws: string): Promise<string> {
  return (await signCheckpoint(decodeCheckpoint(jws)!.payload, other.privateKey, otherKid)).jws;
}

test('the untouched store verifies', async () => {
  const r = await tamperStore(async () => undefined);
  assert.ok(r.ok);
  assert.equal(r.summary.segments, { first: 0, last: 2 });
  assert.is(r.summary.records, 27);
  assert.equal(r.summary.decisionsWithoutOutcome, [{ request_id: 'r12', seq: 24 }]);
});

test('store: a changed record is named by the next record\'s prev hash', async () => {
  const r = await tamperStore((s) => s.records.put(5, rewrite(s.records.get(5)!, (x) => (x.event.status = 403))));
  assert.is(fault(r), 'record 5 was changed: its hash no longer matches the prev hash in record 6 (key 6)');
});

test('store: a changed last record of a segment is caught by the signed root', async () => {
  const r = await tamperStore((s) => s.records.put(9, rewrite(s.records.get(9)!, (x) => (x.event.bytes_out = 1))));
  assert.is(fault(r), "record 9 was changed: segment 0's Merkle root over records 0..9 does not match its signed checkpoint");
});

test('store: a record whose number was rewritten is changed, named by its key', async () => {
  const r = await tamperStore((s) => s.records.put(5, rewrite(s.records.get(5)!, (x) => (x.seq = 7))));
  assert.is(fault(r), 'the record at key 5 was changed: it claims to be record 7');
});

test('store: a record rewritten in non-canonical form is changed', async () => {
  const r = await tamperStore((s) => s.records.put(5, Buffer.from(JSON.stringify(JSON.parse(s.records.get(5)!.toString()), null, 1))));
  assert.is(fault(r), 'the record at key 5 was changed: it is not canonical JSON');
});

test('store: a deleted record', async () => {
  const r = await tamperStore(async (s) => void (await s.records.remove(5)));
  assert.is(fault(r), 'record 5 was deleted: record 6 (key 6) follows record 4');
});

test('store: an inserted record', async () => {
  const r = await tamperStore(async (s) => void (await s.records.put(5.5, rewrite(s.records.get(5)!, (x) => (x.event.subject = 'mallory')))));
  assert.is(fault(r), 'a record was inserted at key 5.5: it claims to be record 5, which key 5 already is');
});

test('store: reordered records', async () => {
  const r = await tamperStore(async (s) => {
    const [a, b] = [s.records.get(5)!, s.records.get(6)!];
    await s.records.put(5, b);
    await s.records.put(6, a);
  });
  assert.is(fault(r), 'records were reordered: record 6 (key 5) comes before record 5 (key 6)');
});

test('store: a missing segment', async () => {
  const r = await tamperStore(async (s) => {
    await s.checkpoints.remove(1);
    for (let i = 10; i < 20; i++) await s.records.remove(i);
  });
  assert.is(fault(r), 'segment 1 is missing: the checkpoint of segment 2 follows segment 0');
});

test('store: a checkpoint signed by another key', async () => {
  const r = await tamperStore(async (s) => void (await s.checkpoints.put(1, await resigned(s.checkpoints.get(1)!))));
  assert.ok(!r.ok && r.fault.kind === 'untrusted-key');
  assert.match(fault(r), `segment 1: the checkpoint (checkpoint key 1) is rejected: it is signed by key ${otherKid}, which is not a trusted key (trusted: ${f.key.keyId})`);
});

test('store: a truncated tail, given the auditor\'s last checkpoint', async () => {
  const store = openStore(f.dir, { readOnly: true });
  const last = store.checkpoints.get(2)!;
  await store.env.close();
  const r = await tamperStore(async (s) => {
    await s.checkpoints.remove(2);
    for (let i = 20; i < 27; i++) await s.records.remove(i);
  }, last);
  assert.is(fault(r), 'the log is truncated: the given last checkpoint is for segment 2 (records 20..26), but the log ends at segment 1 (record 19)');
  // Without the auditor's checkpoint a clean cut at a segment boundary is indistinguishable from a shorter log.
  assert.ok((await tamperStore(async () => undefined, last)).ok);
});

// ---- exported files, through the CLI ----

let exported: string;
test.before(async () => {
  exported = join(scratch, 'export');
  const store = openStore(f.dir, { readOnly: true });
  exportSegments(store, exported);
  await store.env.close();
});

/** A copy of the export, tampered with, then `regate audit verify FILES`; returns stderr (must exit 1). */
async function tamperFiles(edit: (dir: string) => void | Promise<void>, extra: string[] = []): Promise<string> {
  const dir = join(scratch, `files-${n++}`);
  cpSync(exported, dir, { recursive: true });
  await edit(dir);
  const r = await runCli(['audit', 'verify', dir, '--key', f.pub, ...extra]);
  assert.is(r.code, 1, r.stdout + r.stderr);
  return r.stderr.trim();
}

const seg0 = (dir: string) => join(dir, 'segment-000000.jsonl');
function editLines(file: string, edit: (lines: string[]) => void): void {
  const lines = readFileSync(file, 'utf8').split('\n');
  lines.pop();
  edit(lines);
  writeFileSync(file, lines.map((l) => l + '\n').join(''));
}

test('files: the untouched export verifies through the CLI', async () => {
  const r = await runCli(['audit', 'verify', exported, '--key', f.pub]);
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stdout, /intact\. 27 records in segments 0\.\.2/);
  assert.match(r.stdout, /1 request decision\(s\) without an outcome .*request r12 \(record 24\)/);
});

test('files: changed, deleted, inserted and reordered records', async () => {
  const changed = await tamperFiles((d) => editLines(seg0(d), (l) => (l[5] = rewrite(Buffer.from(l[5]!), (x) => (x.event.status = 500)).toString())));
  assert.is(changed, 'regate: audit log is NOT intact: record 5 was changed: its hash no longer matches the prev hash in record 6 (segment-000000.jsonl line 7)');
  const deleted = await tamperFiles((d) => editLines(seg0(d), (l) => l.splice(5, 1)));
  assert.is(deleted, 'regate: audit log is NOT intact: record 5 was deleted: record 6 (segment-000000.jsonl line 6) follows record 4');
  const inserted = await tamperFiles((d) => editLines(seg0(d), (l) => l.splice(6, 0, l[5]!)));
  assert.is(inserted, 'regate: audit log is NOT intact: a record was inserted at segment-000000.jsonl line 7: it claims to be record 5, which segment-000000.jsonl line 6 already is');
  const reordered = await tamperFiles((d) => editLines(seg0(d), (l) => ([l[5], l[6]] = [l[6]!, l[5]!])));
  assert.is(reordered, 'regate: audit log is NOT intact: records were reordered: record 6 (segment-000000.jsonl line 6) comes before record 5 (segment-000000.jsonl line 7)');
});

test('verify --json on a tampered log prints the verdict as JSON (ok false, code, message), not nothing', async () => {
  const dir = join(scratch, `files-${n++}`);
  cpSync(exported, dir, { recursive: true });
  editLines(seg0(dir), (l) => l.splice(5, 1));
  const r = await runCli(['audit', 'verify', dir, '--key', f.pub, '--json']);
  assert.is(r.code, 1);
  const doc = JSON.parse(r.stdout) as { ok: boolean; code: string; message: string; exit_code: number };
  assert.equal(doc, { ok: false, code: 'ERR_VERIFICATION_FAILED', message: 'audit log is NOT intact: record 5 was deleted: record 6 (segment-000000.jsonl line 6) follows record 4', exit_code: 1 });
});

test('files: a missing segment, a checkpoint by another key, a truncated tail', async () => {
  const missing = await tamperFiles((d) => ['jsonl', 'checkpoint.json'].forEach((k) => unlinkSync(join(d, `segment-000001.${k}`))));
  assert.is(missing, 'regate: audit log is NOT intact: segment 1 is missing: the checkpoint of segment 2 follows segment 0');
  const foreign = await tamperFiles(async (d) => {
    const file = join(d, 'segment-000001.checkpoint.json');
    writeFileSync(file, JSON.stringify({ jws: await resigned(JSON.parse(readFileSync(file, 'utf8')).jws) }));
  });
  assert.match(foreign, `checkpoint.json) is rejected: it is signed by key ${otherKid}, which is not a trusted key`);
  const last = join(scratch, 'last.checkpoint.json');
  cpSync(join(exported, 'segment-000002.checkpoint.json'), last);
  const truncated = await tamperFiles((d) => ['jsonl', 'checkpoint.json'].forEach((k) => unlinkSync(join(d, `segment-000002.${k}`))), ['--checkpoint', last]);
  assert.is(truncated, 'regate: audit log is NOT intact: the log is truncated: the given last checkpoint is for segment 2 (records 20..26), but the log ends at segment 1 (record 19)');
});

test.run();
