/** The auditor's commands, run as the real CLI: verify --state, export ranges, prove/verify-proof, replay, tail. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cliPath, runCli } from '../helpers/cli.js';
import { AuditLog, keyIdOf, loadOrCreateAuditKey, openStore, readTrustedKeys, type AuditEvent } from '../../src/audit/index.js';
import { fixture, openLog, rewriteHistory, sampleEvent, writeLog, type Fixture } from './helpers.js';

let f: Fixture;
test.before(async () => {
  f = await fixture();
  await writeLog(f, 25, 10);
});
test.after(() => f.cleanup());

test('verify --state finds the log and key of a gateway state directory', async () => {
  const r = await runCli(['audit', 'verify', '--state', f.state]);
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stdout, `audit log `);
  assert.match(r.stdout, 'intact. 27 records in segments 0..2');
  const json = await runCli(['audit', 'verify', '--dir', f.dir, '--key', f.pub, '--json']);
  assert.is(JSON.parse(json.stdout).records, 27);
});

test('after the state directory\'s key is replaced, verify --state still checks the segments the old key signed', async () => {
  const g = await fixture();
  try {
    await writeLog(g, 3, 10);
    writeFileSync(join(g.state, 'audit.key.pem'), generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }));
    const rotated = await loadOrCreateAuditKey(g.state);
    assert.is.not(rotated.keyId, g.key.keyId);
    // As the gateway does: the rotated-out public key is offered, and the log records that it vouches for it.
    const previousKeys = await readTrustedKeys([join(g.state, `audit.pub.${g.key.keyId}.pem`)]);
    const log = await AuditLog.open({ dir: g.dir, signingKey: rotated.privateKey, keyId: rotated.keyId, previousKeys });
    await log.append(sampleEvent(3));
    await log.close();
    const r = await runCli(['audit', 'verify', '--state', g.state]);
    assert.is(r.code, 0, r.stderr);
    assert.match(r.stdout, `signed by ${g.key.keyId}, ${rotated.keyId}`);
    const tail = await runCli(['audit', 'tail', '--state', g.state, '--from', '3']);
    assert.equal(JSON.parse(tail.stdout.split('\n')[0]!).event, { type: 'key.rotated', kid: rotated.keyId, previous_kid: g.key.keyId });
  } finally {
    g.cleanup();
  }
});

test('verify --state trusts the gateway\'s key and the keys its log vouches for, not a key file dropped beside them', async () => {
  const g = await fixture();
  try {
    await writeLog(g, 3, 10);
    const evil = generateKeyPairSync('ed25519');
    writeFileSync(join(g.state, 'audit.pub.evil.pem'), evil.publicKey.export({ type: 'spki', format: 'pem' }));
    const store = openStore(g.dir);
    await rewriteHistory(store, evil.privateKey, 0, () => undefined);
    await store.env.close();
    const r = await runCli(['audit', 'verify', '--state', g.state]);
    assert.is(r.code, 1, r.stdout);
    assert.match(r.stderr, `segment 0's checkpoint is signed by key ${await keyIdOf(evil.publicKey)}, which is not a trusted key and no key.rotated record signed by a trusted key vouches for it (trusted: ${g.key.keyId})`);
  } finally {
    g.cleanup();
  }
});

test('verify without a key, or of a directory with no log, is a usage error', async () => {
  const r = await runCli(['audit', 'verify', '--dir', f.dir]);
  assert.is(r.code, 2);
  assert.match(r.stderr, 'name the public key(s) with --key');
  const none = await runCli(['audit', 'verify', '--dir', join(f.state, 'nothing'), '--key', f.pub]);
  assert.is(none.code, 2);
  assert.match(none.stderr, `no audit log at ${join(f.state, 'nothing')}`);
});

test('export --from/--to writes the whole segments that hold the range, and they verify without LMDB', async () => {
  const out = join(f.state, 'range');
  const r = await runCli(['audit', 'export', '--dir', f.dir, '--key', f.pub, '--out', out, '--from', '12', '--to', '14']);
  assert.is(r.code, 0, r.stderr);
  assert.equal(readdirSync(out).sort(), ['export.json', 'segment-000001.checkpoint.json', 'segment-000001.jsonl']);
  const v = await runCli(['audit', 'verify', out, '--key', f.pub]);
  assert.is(v.code, 0, v.stderr);
  assert.match(v.stdout, '10 records in segments 1..1');
  assert.match(v.stdout, 'start at segment 1, checked against the signed checkpoint before it: records before it were not checked');
  assert.match(r.stdout, 'not recorded in the log (give --state to record exports)');
});

test('export with --state records itself in the log as log.exported', async () => {
  const g = await fixture();
  try {
    await writeLog(g, 3, 10);
    const out = join(g.state, 'evidence');
    const r = await runCli(['audit', 'export', '--state', g.state, '--out', out]);
    assert.is(r.code, 0, r.stderr);
    assert.match(r.stdout, 'exported segments 0..0 (3 records)');
    assert.match(r.stdout, 'recorded in the log as record 3');
    const tail = await runCli(['audit', 'tail', '--state', g.state, '--from', '3']);
    const event = JSON.parse(tail.stdout).event;
    assert.equal({ ...event, actor: typeof event.actor }, { type: 'log.exported', actor: 'string', first: 0, last: 2, target: out });
    // With a gateway writing the log, the export still runs and says it could not be recorded.
    const live = await openLog(g);
    try {
      const busy = await runCli(['audit', 'export', '--state', g.state, '--out', join(g.state, 'again')]);
      assert.is(busy.code, 0, busy.stderr);
      assert.match(busy.stdout, `not recorded in the log: the audit log at ${g.dir} is already open for writing by process ${process.pid}`);
    } finally {
      await live.close();
    }
  } finally {
    g.cleanup();
  }
});

test('prove prints an inclusion proof that verify-proof accepts, and rejects when altered or under another key', async () => {
  const proofFile = join(f.state, 'proof.json');
  const p = await runCli(['audit', 'prove', '--dir', f.dir, '--key', f.pub, '--seq', '13', '--out', proofFile]);
  assert.is(p.code, 0, p.stderr);
  const ok = await runCli(['audit', 'verify-proof', proofFile, '--key', f.pub]);
  assert.is(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /^record 13 \(request\.outcome, .*\) is included in the tree of size 20, signed by a trusted key\.$/m);
  const proof = JSON.parse(readFileSync(proofFile, 'utf8'));
  const altered = { ...proof, record: proof.record.replace('"status":200', '"status":201') };
  const bad = await runCli(['audit', 'verify-proof', '-', '--key', f.pub], { input: JSON.stringify(altered) });
  assert.is(bad.code, 1);
  assert.match(bad.stderr, 'record 13 is not included: its audit path does not lead to the signed root of tree size 20');
  const otherPub = join(f.state, 'other.pub.pem');
  writeFileSync(otherPub, generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }));
  const foreign = await runCli(['audit', 'verify-proof', proofFile, '--key', otherPub]);
  assert.is(foreign.code, 1);
  assert.match(foreign.stderr, "the proof's checkpoint is rejected: it is signed by key");
  const unsealed = await runCli(['audit', 'prove', '--dir', f.dir, '--key', f.pub, '--seq', '99']);
  assert.is(unsealed.code, 2);
  assert.match(unsealed.stderr, 'record 99 is not in a sealed segment');
});

test('replay shows a request\'s decision and outcome; a decision alone is said to have no outcome', async () => {
  const r = await runCli(['audit', 'replay', 'r3', '--dir', f.dir]);
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stdout, /# record 6 .* request\.decision/);
  assert.match(r.stdout, /# record 7 .* request\.outcome/);
  assert.match(r.stdout, '"reason": "fraud analysts may score"');
  const half = await runCli(['audit', 'replay', 'r12', '--dir', f.dir]);
  assert.match(half.stdout, '# no outcome recorded');
  const none = await runCli(['audit', 'replay', 'nope', '--dir', f.dir]);
  assert.is(none.code, 2);
  assert.match(none.stderr, 'no record of request nope');
});

test('replay of a held request shows its hold\'s state changes too', async () => {
  const g = await fixture();
  try {
    const log = await openLog(g);
    const alice = { sub: 'alice', iss: 'https://idp.test', groups: ['fraud-analysts'] };
    const held = { ...(sampleEvent(0) as Extract<AuditEvent, { type: 'request.decision' }>), request_id: 'held-1', approval: 'h1', decision: { effect: 'hold' as const, reason: 'bulk export needs approval', policy_revision: 'rev-1' } };
    const hold = (type: 'hold.created' | 'hold.approved', hold_id: string, actor: typeof alice | null) => ({ type, at_ms: 1, hold_id, grant_id: null, request_id: hold_id === 'h1' ? 'held-1' : 'held-2', route: 'fraud-model', actor, subject: alice, detail: type }) as const;
    await log.append(held);
    await log.append(hold('hold.created', 'h1', alice));
    await log.append(hold('hold.created', 'h2', alice));
    await log.append(hold('hold.approved', 'h1', { ...alice, sub: 'bob' }));
    await log.append({ ...(sampleEvent(1) as Extract<AuditEvent, { type: 'request.outcome' }>), request_id: 'held-1' });
    await log.close();
    const r = await runCli(['audit', 'replay', 'held-1', '--dir', g.dir]);
    assert.is(r.code, 0, r.stderr);
    assert.equal([...r.stdout.matchAll(/^# record (\d+) .* (\S+)$/gm)].map((m) => `${m[1]} ${m[2]}`), ['0 request.decision', '1 hold.created', '3 hold.approved', '4 request.outcome']);
  } finally {
    g.cleanup();
  }
});

test('tail prints JSONL from a record number, and --follow streams records appended later', async () => {
  const r = await runCli(['audit', 'tail', '--dir', f.dir, '--from', '20']);
  assert.is(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim().split('\n').map((l) => JSON.parse(l).seq), [20, 21, 22, 23, 24, 25, 26]);

  const g = await fixture();
  const log = await openLog(g);
  const child = spawn(process.execPath, [cliPath, 'audit', 'tail', '--dir', g.dir, '--follow'], { stdio: ['ignore', 'pipe', 'pipe'] });
  try {
    let out = '';
    const seen = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`tail --follow did not show the new record: ${out}`)), 10_000);
      child.stdout.setEncoding('utf8').on('data', (d: string) => {
        out += d;
        if (out.includes('"request_id":"r1"')) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    await log.append(sampleEvent(0));
    await log.append(sampleEvent(2));
    await seen;
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('close', r));
    await log.close();
    g.cleanup();
  }
});

test.run();
