/**
 * The tamper battery: each kind of tampering, done to the LMDB store (checked through the API) and
 * to exported files (checked through the real CLI), is caught with a message naming the first
 * record or segment at fault. Log: 25 events in segments of 10, plus the two segment.sealed records
 * the count-triggered seals add: 0..9, 10..19 and 20..26 (sealed on close); checkpoints of tree
 * sizes 10, 20, 27. The witness's part (a rewrite and a fork caught by cosignatures) is in
 * test/witness; a rolled-back store at gateway start in test/audit/start-check.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { generateKeyPairSync } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { canonicalJson } from '../../src/audit/canonical.js';
import { parseNoteCheckpoint, signNoteCheckpoint } from '../../src/audit/checkpoint.js';
import { exportSegments, openStore, readTrustedKeys, storeInput, verifyLog, type Store, type VerifyResult } from '../../src/audit/index.js';
import { runCli } from '../helpers/cli.js';
import { fixture, rewriteHistory, writeLog, type Fixture } from './helpers.js';

let f: Fixture;
let scratch: string;
const other = generateKeyPairSync('ed25519');

test.before(async () => {
  f = await fixture();
  await writeLog(f, 25, 10);
  scratch = mkdtempSync(join(tmpdir(), 'regate-tamper-'));
});
test.after(() => {
  f.cleanup();
  rmSync(scratch, { recursive: true, force: true });
});

let n = 0;
/** A copy of the pristine log, tampered with by `edit`, then verified. */
async function tamperStore(edit: (s: Store) => Promise<unknown>, ...checkpoints: string[]): Promise<VerifyResult> {
  const dir = join(scratch, `store-${n++}`);
  cpSync(f.dir, dir, { recursive: true });
  const writable = openStore(dir);
  await edit(writable);
  await writable.env.close();
  const store = openStore(dir, { readOnly: true });
  try {
    return await verifyLog(storeInput(store).input, { keys: await readTrustedKeys([f.pub]), fromGenesis: true, checkpoints });
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

/** The same tree head signed by a key that is not the log's. */
function resigned(note: string): string {
  const cp = parseNoteCheckpoint(note);
  if (typeof cp === 'string') throw new Error(cp);
  return signNoteCheckpoint(cp.origin, cp.size, cp.root, other.privateKey);
}

/** The stored checkpoint (signed note) of a segment of the pristine log. */
async function pristineCheckpoint(segment: number): Promise<string> {
  const store = openStore(f.dir, { readOnly: true });
  try {
    return store.checkpoints.get(segment)!;
  } finally {
    await store.env.close();
  }
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
  assert.is(fault(r), "segment 0 (records 0..9) was changed: the log's Merkle root at tree size 10 does not match its signed checkpoint");
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

const dropSegment = (first: number, last: number, segment: number) => async (s: Store) => {
  await s.checkpoints.remove(segment);
  await s.frontiers.remove(segment);
  for (let i = first; i <= last; i++) await s.records.remove(i);
};

test('store: a missing first, middle or last segment', async () => {
  assert.is(fault(await tamperStore(dropSegment(0, 9, 0))), 'segment 0 is missing: segment 1 follows the start of the log');
  assert.is(fault(await tamperStore(dropSegment(10, 19, 1))), 'segment 1 is missing: segment 2 follows segment 0');
  // The last segment: only outside memory of it (a kept checkpoint, the gateway's published one) tells.
  const last = await pristineCheckpoint(2);
  assert.ok((await tamperStore(dropSegment(20, 26, 2))).ok);
  assert.is(fault(await tamperStore(dropSegment(20, 26, 2), last)), 'the log is truncated: your checkpoint covers records 0..26 (tree size 27), but the log\'s sealed segments end at segment 1 (record 19)');
});

test('store: a checkpoint signed by another key', async () => {
  const r = await tamperStore(async (s) => void (await s.checkpoints.put(1, resigned(s.checkpoints.get(1)!))));
  assert.ok(!r.ok && r.fault.kind === 'untrusted-key');
  assert.match(fault(r), /^segment 1: the checkpoint \(checkpoint key 1\) is rejected: it is signed by key id [0-9a-f]{8}, which is not a trusted key/);
});

test('store: a truncated tail inside a segment, given a kept checkpoint', async () => {
  const last = await pristineCheckpoint(2);
  const r = await tamperStore(async (s) => {
    for (let i = 24; i < 27; i++) await s.records.remove(i);
  }, last);
  assert.is(fault(r), 'record 24 was deleted: segment 2 ends at record 23, but its checkpoint covers records up to 26');
});

test('store: a consistent rewrite with the real key passes alone, and any kept checkpoint covering it, earlier ones too, catches it', async () => {
  const [cp0, cp1, cp2] = [await pristineCheckpoint(0), await pristineCheckpoint(1), await pristineCheckpoint(2)];
  const rewrite5 = (s: Store) => rewriteHistory(s, f.key.privateKey, 5, (r) => (r.event.status = 403));
  // The key holder's rewrite is internally consistent: signatures, chain and roots all check out.
  assert.ok((await tamperStore(rewrite5)).ok);
  for (const kept of [cp0, cp1, cp2]) {
    const r = await tamperStore(rewrite5, kept);
    assert.is(r.ok ? '' : r.fault.kind, 'rewritten');
  }
  assert.is(fault(await tamperStore(rewrite5, cp0)), 'the log was rewritten: records 0..9 (up to segment 0) no longer hash to the root of your checkpoint of tree size 10; the change is at or before record 9');
  // An earlier checkpoint that still matches bounds where the rewrite began.
  const rewrite15 = (s: Store) => rewriteHistory(s, f.key.privateKey, 15, (r) => (r.event.subject = 'mallory'));
  assert.is(fault(await tamperStore(rewrite15, cp0, cp2)), 'the log was rewritten: records 0..26 (up to segment 2) no longer hash to the root of your checkpoint of tree size 27; the change is at or before record 26 and after record 9, where your checkpoint of tree size 10 still matches');
});

// ---- exported files, through the CLI ----

let exported: string;
test.before(async () => {
  exported = join(scratch, 'export');
  const store = openStore(f.dir, { readOnly: true });
  await exportSegments(store, exported, await readTrustedKeys([f.pub]));
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
  const doc = JSON.parse(r.stdout) as { ok: boolean; code: string; message: string; exit_code: number; fault: { kind: string } };
  const { ok, code, message, exit_code } = doc;
  assert.equal({ ok, code, message, exit_code }, { ok: false, code: 'ERR_VERIFICATION_FAILED', message: 'audit log is NOT intact: record 5 was deleted: record 6 (segment-000000.jsonl line 6) follows record 4', exit_code: 1 });
  assert.is(doc.fault.kind, 'deleted');
});

const drop = (n: number) => (d: string) => ['jsonl', 'checkpoint.json'].forEach((k) => unlinkSync(join(d, `segment-00000${n}.${k}`)));
const NOT_INTACT = 'regate: audit log is NOT intact: ';

test('files: a missing first, middle or last segment, named by the export manifest', async () => {
  assert.is(await tamperFiles(drop(0)), NOT_INTACT + 'segment 0 is missing: segment 1 follows the start of the log');
  assert.is(await tamperFiles(drop(1)), NOT_INTACT + 'segment 1 is missing: segment 2 follows segment 0');
  assert.is(await tamperFiles(drop(2)), NOT_INTACT + 'segment 2 is missing: export.json names segments 0..2, but the files end at segment 1');
  // With the manifest gone too, the first segments' absence still shows: nothing anchors segment 1.
  const noManifest = await tamperFiles((d) => {
    drop(0)(d);
    unlinkSync(join(d, 'export.json'));
  });
  assert.is(noManifest, NOT_INTACT + 'the log starts at segment 1, without the base checkpoint and compact range a partial export carries (export.json): segments before it are missing');
});

test('files: a checkpoint by another key, a truncated tail given a kept checkpoint', async () => {
  const foreign = await tamperFiles(async (d) => {
    const file = join(d, 'segment-000001.checkpoint.json');
    writeFileSync(file, JSON.stringify({ note: resigned(JSON.parse(readFileSync(file, 'utf8')).note) }));
  });
  assert.match(foreign, /segment-000001\.checkpoint\.json\) is rejected: it is signed by key id [0-9a-f]{8}, which is not a trusted key/);
  const last = join(scratch, 'last.checkpoint.json');
  cpSync(join(exported, 'segment-000002.checkpoint.json'), last);
  const truncated = await tamperFiles((d) => {
    drop(2)(d);
    unlinkSync(join(d, 'export.json'));
  }, ['--checkpoint', last]);
  assert.is(truncated, NOT_INTACT + "the log is truncated: your checkpoint covers records 0..26 (tree size 27), but the log's sealed segments end at segment 1 (record 19)");
});

test('files: a partial export verifies from its base; dropping its first segment, or starting after a kept checkpoint, is caught', async () => {
  const part = join(scratch, 'partial');
  const store = openStore(f.dir, { readOnly: true });
  await exportSegments(store, part, await readTrustedKeys([f.pub]), { from: 12 });
  await store.env.close();
  const ok = await runCli(['audit', 'verify', part, '--key', f.pub]);
  assert.is(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, 'intact. 17 records in segments 1..2');
  const cut = join(scratch, 'partial-cut');
  cpSync(part, cut, { recursive: true });
  drop(1)(cut);
  const r = await runCli(['audit', 'verify', cut, '--key', f.pub]);
  assert.is(r.stderr.trim(), NOT_INTACT + 'segment 1 is missing: segment 2 follows segment 0');
  const kept = join(scratch, 'kept0.checkpoint.json');
  writeFileSync(kept, JSON.stringify({ note: await pristineCheckpoint(0) }));
  const after = await runCli(['audit', 'verify', part, '--key', f.pub, '--checkpoint', kept]);
  assert.is(after.code, 0, after.stderr);
  const late = join(scratch, 'partial-late');
  const s2 = openStore(f.dir, { readOnly: true });
  await exportSegments(s2, late, await readTrustedKeys([f.pub]), { from: 20 });
  await s2.env.close();
  const gap = await runCli(['audit', 'verify', late, '--key', f.pub, '--checkpoint', kept]);
  assert.is(gap.stderr.trim(), NOT_INTACT + 'the export starts at record 20 (segment 2), after your checkpoint of tree size 10: records 9..19 cannot be checked against it (the first segments are missing)');
  const from = await runCli(['audit', 'verify', late, '--key', f.pub, '--from', '12']);
  assert.is(from.stderr.trim(), NOT_INTACT + 'the export starts at record 20 (segment 2), but record 12 was asked for: the segments holding records 12..19 are missing');
});

test('files: a consistent rewrite with the real key is caught by a kept earlier checkpoint', async () => {
  const dir = join(scratch, 'rewritten-store');
  cpSync(f.dir, dir, { recursive: true });
  const s = openStore(dir);
  await rewriteHistory(s, f.key.privateKey, 3, (r) => (r.event.status = 500));
  await s.env.close();
  const out = join(scratch, 'rewritten-export');
  const ro = openStore(dir, { readOnly: true });
  await exportSegments(ro, out, await readTrustedKeys([f.pub]));
  await ro.env.close();
  const kept = join(scratch, 'kept-for-rewrite.checkpoint.json');
  writeFileSync(kept, JSON.stringify({ note: await pristineCheckpoint(0) }));
  assert.is((await runCli(['audit', 'verify', out, '--key', f.pub])).code, 0);
  const r = await runCli(['audit', 'verify', out, '--key', f.pub, '--checkpoint', kept]);
  assert.is(r.stderr.trim(), NOT_INTACT + 'the log was rewritten: records 0..9 (up to segment 0) no longer hash to the root of your checkpoint of tree size 10; the change is at or before record 9');
});

test('export refuses a tampered store instead of writing an export that fails later', async () => {
  const dir = join(scratch, 'tampered-for-export');
  cpSync(f.dir, dir, { recursive: true });
  const s = openStore(dir);
  await s.records.put(5, rewrite(s.records.get(5)!, (x) => (x.event.status = 403)));
  await s.env.close();
  const out = join(scratch, 'refused-export');
  const r = await runCli(['audit', 'export', '--dir', dir, '--key', f.pub, '--out', out]);
  assert.is(r.code, 2, r.stderr);
  assert.match(r.stderr, 'does not verify, so it was removed: record 5 was changed: its hash no longer matches the prev hash in record 6 (segment-000000.jsonl line 7)');
  assert.equal(readdirSync(out), []);
});

test.run();
