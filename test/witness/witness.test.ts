/**
 * The witness as operators run it (`regate witness serve`, its own process, key and store) against
 * real logs: it cosigns only checkpoints that extend what it cosigned, proven by a consistency
 * proof; the gateway's submitter learns its size, retries with backoff and stores cosignatures;
 * `verify --witness-key` then requires them. A rewrite with the real key, a fork shown to two
 * witnesses, and a rollback are each caught, the witness keeping an alarm record of what it refused.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { AuditLog, checkpointEnd, lastStoredCheckpoint, openStore, readTrustedKeys, storeInput, verifyLog, verifierKey, parseVerifierKey, type Witness, type VerifyResult } from '../../src/audit/index.js';
import { WitnessSubmitter, witnessMetrics } from '../../src/witness/index.js';
import { cliPath, runCli } from '../helpers/cli.js';
import { fixture, openLog, rewriteHistory, sampleEvent, type Fixture } from '../audit/helpers.js';

interface Running {
  url: string;
  vkey: string;
  dir: string;
  child: ChildProcess;
}

const started: ChildProcess[] = [];
let scratch: string;
let f: Fixture;
let logVkey: string;

/** Starts `regate witness serve` for the fixture's log and waits for its ready line. */
function startWitness(name: string, dir = join(scratch, name.replace(/\W/g, '-')), listen = '127.0.0.1:0'): Promise<Running> {
  const child = spawn(process.execPath, [cliPath, 'witness', 'serve', '--dir', dir, '--name', name, '--listen', listen, '--log', logVkey], { stdio: ['ignore', 'pipe', 'pipe'] });
  started.push(child);
  return new Promise((resolve, reject) => {
    let err = '';
    child.stderr!.setEncoding('utf8').on('data', (d: string) => {
      err += d;
      const m = /regate witness ready (\S+) \(verifier key (\S+)\)/.exec(err);
      if (m) resolve({ url: m[1]!, vkey: m[2]!, dir, child });
    });
    child.once('exit', (code) => reject(new Error(`witness exited ${code}: ${err}`)));
  });
}

/** Still running: a child killed by a signal keeps `exitCode` null, so both are asked. */
const running = (c: ChildProcess) => c.exitCode === null && c.signalCode === null;

async function stop(w: Running): Promise<void> {
  if (!running(w.child)) return;
  const exited = new Promise((r) => w.child.once('exit', r));
  w.child.kill('SIGTERM');
  await exited;
}

const witnessOf = (w: Running): Witness => {
  const p = parseVerifierKey(w.vkey);
  if (typeof p === 'string') throw new Error(p);
  return { name: p.name, key: p.key };
};

async function verifyDir(dir: string, witnesses: Witness[], quorum?: number): Promise<VerifyResult> {
  const store = openStore(dir, { readOnly: true });
  try {
    return await verifyLog(storeInput(store).input, { keys: await readTrustedKeys([f.pub]), fromGenesis: true, witnesses, ...(quorum ? { quorum } : {}) });
  } finally {
    await store.env.close();
  }
}

/** Appends `n` events (from `from`) with segments of 10 to the log in `dir`, witnessed by `targets`, and closes it. */
async function appendWitnessed(dir: string, targets: Running[], from: number, n: number, quorum = targets.length): Promise<WitnessSubmitter> {
  const log = await AuditLog.open({ dir, signingKey: f.key.privateKey, keyId: f.key.keyId, segmentRecords: 10 });
  const submitter = new WitnessSubmitter(log, targets.map((t) => ({ url: t.url, public_key: t.vkey })), { quorum, retryBaseMs: 50, closeWaitMs: 10_000 });
  for (let i = from; i < from + n; i++) await log.append(sampleEvent(i));
  // Closing seals the rest and waits for the witnesses to cosign that last checkpoint.
  await log.close();
  assert.is(submitter.lag().lag_records, 0, JSON.stringify(submitter.lag()));
  return submitter;
}

test.before(async () => {
  scratch = mkdtempSync(join(tmpdir(), 'regate-witness-'));
  f = await fixture();
  // The log exists (and has its origin) before the witnesses are told its key.
  const log = await openLog(f);
  logVkey = verifierKey(log.origin, f.key.privateKey);
  await log.close();
});
test.after(async () => {
  for (const c of started) if (running(c)) c.kill('SIGKILL');
  f.cleanup();
  rmSync(scratch, { recursive: true, force: true });
});

let w1: Running;
let w2: Running;

test('two witnesses cosign every checkpoint; verify --witness-key requires their cosignatures', async () => {
  [w1, w2] = await Promise.all([startWitness('witness.test/w1'), startWitness('witness.test/w2')]);
  const sub = await appendWitnessed(f.dir, [w1, w2], 0, 25);
  assert.equal(sub.lag().lag_records, 0);
  const r = await verifyDir(f.dir, [witnessOf(w1), witnessOf(w2)]);
  assert.ok(r.ok, r.ok ? '' : r.fault.message);
  assert.equal(r.summary.witnessed, { segment: 2, size: 27 });
  const cli = await runCli(['audit', 'verify', '--dir', f.dir, '--key', f.pub, '--witness-key', w1.vkey, '--witness-key', w2.vkey]);
  assert.is(cli.code, 0, cli.stderr);
  assert.match(cli.stdout, "Witnessed: the checkpoint of segment 2 (tree size 27) carries the witnesses' cosignatures.");
  // The witness's latest checkpoint for the log is what an auditor keeps: the log must stay consistent with it.
  const origin = (parseVerifierKey(logVkey) as { name: string }).name;
  const res = await request(`${w1.url}/checkpoint?origin=${encodeURIComponent(origin)}`);
  assert.is(res.statusCode, 200);
  const keptFile = join(scratch, 'from-witness.checkpoint');
  writeFileSync(keptFile, await res.body.text());
  const withKept = await runCli(['audit', 'verify', '--dir', f.dir, '--key', f.pub, '--checkpoint', keptFile]);
  assert.is(withKept.code, 0, withKept.stderr);
  assert.match(withKept.stdout, 'Every checkpoint you kept is consistent with this log');
});

test('a consistent rewrite with the real key is caught by the witnesses, cosignatures kept or stripped, and the witness refuses it', async () => {
  const dir = join(scratch, 'rewritten');
  cpSync(f.dir, dir, { recursive: true });
  const store = openStore(dir);
  const before = store.checkpoints.get(0)!;
  await rewriteHistory(store, f.key.privateKey, 5, (r) => (r.event.status = 403));
  // Stripped: the rewritten checkpoints carry no cosignature.
  await store.env.close();
  const stripped = await verifyDir(dir, [witnessOf(w1), witnessOf(w2)]);
  assert.is(stripped.ok ? '' : stripped.fault.message, 'no checkpoint of this log is cosigned by 2 of the witnesses (witness.test/w1, witness.test/w2): nothing here is witnessed, from segment 0 on');
  // Kept: the old cosignatures no longer match the rewritten tree heads.
  const kept = openStore(dir);
  const cosigs = before.split('\n').filter((l) => l.startsWith('\u2014 witness.test/'));
  await kept.checkpoints.put(0, kept.checkpoints.get(0)! + cosigs.map((l) => l + '\n').join(''));
  await kept.env.close();
  const r = await verifyDir(dir, [witnessOf(w1), witnessOf(w2)]);
  assert.is(r.ok ? '' : r.fault.message, "segment 0's checkpoint (tree size 10) is not the one witness witness.test/w1 cosigned: the log was rewritten at or before record 9");
  // Shown to the witness, the rewrite is refused and an alarm recorded.
  const log = await AuditLog.open({ dir, signingKey: f.key.privateKey, keyId: f.key.keyId, segmentRecords: 10 });
  const told: [string, number, string | null][] = [];
  const submitter = new WitnessSubmitter(log, [{ url: w1.url, public_key: w1.vkey }], { quorum: 1, retryBaseMs: 50, onRefused: (w, size) => told.push([w.name, size, w.last_error]) });
  await log.append(sampleEvent(27));
  await log.seal();
  assert.not.ok(await submitter.settled(1500));
  assert.match(submitter.lag().witnesses[0]!.last_error ?? '', 'the witness answered 422: the consistency proof does not verify');
  // The refusal is told as it happens (the gateway logs it at error level) and counted for /metrics.
  assert.is(told.length, 1);
  assert.equal(told[0]!.slice(0, 2), ['witness.test/w1', 28]);
  assert.match(told[0]![2] ?? '', 'the consistency proof does not verify');
  assert.is(submitter.lag().witnesses[0]!.refusals, 1);
  assert.match(witnessMetrics(submitter.lag()), 'regate_audit_witness_refusals_total{witness="witness.test/w1"} 1');
  await submitter.close();
  await log.close();
  const alarms = (await (await request(`${w1.url}/alarms`)).body.text()).trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(alarms.map((a) => [a.kind, a.cosigned_size, a.size]), [['inconsistent', 27, 28]]);
});

test('a fork shown to two witnesses, one branch each: a quorum of both catches it, and each refuses the other branch', async () => {
  const [a, b] = await Promise.all([startWitness('witness.test/a'), startWitness('witness.test/b')]);
  const trunk = join(scratch, 'trunk');
  const g = await fixture();
  try {
    // Trunk: 10 records, cosigned by both.
    const log = await AuditLog.open({ dir: trunk, signingKey: f.key.privateKey, keyId: f.key.keyId, segmentRecords: 10, origin: (parseVerifierKey(logVkey) as { name: string }).name });
    await log.close();
    await appendWitnessed(trunk, [a, b], 0, 10);
    const [left, right] = [join(scratch, 'left'), join(scratch, 'right')];
    cpSync(trunk, left, { recursive: true });
    cpSync(trunk, right, { recursive: true });
    await appendWitnessed(left, [a], 100, 10);
    await appendWitnessed(right, [b], 200, 10);
    const both = [witnessOf(a), witnessOf(b)];
    for (const dir of [left, right]) {
      const r = await verifyDir(dir, both);
      assert.is(r.ok ? '' : r.fault.kind, 'unwitnessed');
      assert.match(r.ok ? '' : r.fault.message, /^segments 2\.\.\d+ \(from record 11\) are not cosigned by 2 of the witnesses \(witness\.test\/a, witness\.test\/b\); the last witnessed checkpoint is segment 1's \(tree size 11\)/);
    }
    // Each branch alone, with only its own witness, looks fine: that is what a quorum is for.
    assert.ok((await verifyDir(left, [witnessOf(a)])).ok);
    // Showing witness a the right branch: refused (same size, another root) and an alarm.
    const rightLog = await AuditLog.open({ dir: right, signingKey: f.key.privateKey, keyId: f.key.keyId });
    const sub = new WitnessSubmitter(rightLog, [{ url: a.url, public_key: a.vkey }], { quorum: 1, retryBaseMs: 50 });
    // The right branch's newest checkpoint: the same tree size as the left's, another root.
    const stored = openStore(right, { readOnly: true });
    const last = lastStoredCheckpoint(stored)!;
    await stored.env.close();
    const size = typeof last.checkpoint === 'string' ? 0 : checkpointEnd(last.checkpoint);
    sub.submit({ segment: last.key, first: 0, size, note: last.text });
    assert.not.ok(await sub.settled(1500));
    await sub.close();
    await rightLog.close();
    const alarms = (await (await request(`${a.url}/alarms`)).body.text()).trim().split('\n').map((l) => JSON.parse(l));
    assert.equal(alarms.map((x) => x.kind), ['fork']);
  } finally {
    g.cleanup();
    await Promise.all([stop(a), stop(b)]);
  }
});

test('the submitter retries with backoff until the witness is back, and a rolled-back log is refused with an alarm', async () => {
  const dir = join(scratch, 'retry');
  const wdir = join(scratch, 'retry-witness');
  const w = await startWitness('witness.test/r', wdir);
  const port = new URL(w.url).port;
  await stop(w);
  const log = await AuditLog.open({ dir, signingKey: f.key.privateKey, keyId: f.key.keyId, segmentRecords: 10, origin: (parseVerifierKey(logVkey) as { name: string }).name });
  const sub = new WitnessSubmitter(log, [{ url: w.url, public_key: w.vkey }], { quorum: 1, retryBaseMs: 50, retryMaxMs: 200 });
  for (let i = 0; i < 10; i++) await log.append(sampleEvent(i));
  await log.seal();
  assert.not.ok(await sub.settled(300));
  assert.ok(sub.lag().lag_records > 0);
  assert.match(sub.lag().witnesses[0]!.last_error ?? '', 'could not reach the witness');
  const back = await startWitness('witness.test/r', wdir, `127.0.0.1:${port}`);
  assert.ok(await sub.settled(10_000), JSON.stringify(sub.lag()));
  assert.is(sub.lag().lag_records, 0);
  for (let i = 10; i < 20; i++) await log.append(sampleEvent(i));
  await log.seal();
  assert.ok(await sub.settled(10_000));
  const cosigned = sub.lag().witnessed_size;
  await sub.close();
  await log.close();
  // Rolled back: the first checkpoint (tree size 10) again, from a gateway that does not know the witness's size.
  const store = openStore(dir, { readOnly: true });
  const older = store.checkpoints.get(0)!;
  await store.env.close();
  const body = `old 0\n\n${older}`;
  const res = await request(`${back.url}/add-checkpoint`, { method: 'POST', body });
  assert.is(res.statusCode, 409);
  assert.is(res.headers['content-type'], 'text/x.tlog.size');
  assert.is(await res.body.text(), `${cosigned}\n`);
  const alarms = (await (await request(`${back.url}/alarms`)).body.text()).trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(alarms.map((x) => [x.kind, x.cosigned_size, x.size]), [['rollback', cosigned, 10]]);
  await stop(back);
});

test('the witness answers malformed, unknown and unsigned submissions as the protocol says', async () => {
  const post = async (body: string) => {
    const r = await request(`${w1.url}/add-checkpoint`, { method: 'POST', body });
    return { status: r.statusCode, text: await r.body.text() };
  };
  assert.is((await post('nonsense')).status, 400);
  assert.is((await post('old 01\n\nx\n')).status, 400);
  const store = openStore(f.dir, { readOnly: true });
  const note = store.checkpoints.get(0)!;
  await store.env.close();
  const text = note.slice(0, note.indexOf('\n\n') + 1);
  assert.is((await post(`old 0\n\n${text}\n\u2014 other.origin/x AAA\n`)).status, 400);
  assert.is((await post(`old 0\n\nother.origin/x\n1\n${Buffer.alloc(32).toString('base64')}\n\n\u2014 other.origin/x ${Buffer.alloc(68).toString('base64')}\n`)).status, 404);
  const unsigned = `${text}\n\u2014 ${text.split('\n')[0]} ${Buffer.alloc(68).toString('base64')}\n`;
  assert.is((await post(`old 0\n\n${unsigned}`)).status, 403);
  assert.is((await post(`old 30\n\n${note}`)).status, 400);
  const stale = await post(`old 0\n\n${note}`);
  assert.equal([stale.status, stale.text], [409, '27\n']);
});

test.run();
