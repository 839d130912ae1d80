/**
 * Interoperability with an independent witness: transparency-dev's omniwitness
 * (github.com/transparency-dev/witness, built here with the machine's Go, see omniwitness.ts) is
 * configured with regate's log (origin + the verifier key `regate audit key` prints) and named in a
 * real gateway's `audit.witnesses` with the key its own generate_keys wrote. It cosigns the
 * checkpoints the gateway seals under traffic (the lag in /metrics reaches 0, `audit verify
 * --witness-key` accepts its cosignatures), and it refuses what a key holder could show it instead:
 * an older checkpoint (a rolled-back store), a consistent rewrite of the same size (a fork), and a
 * rewrite that claims to extend what it cosigned. regate's submitter reports each refusal.
 *
 * Skipped only when there is no Go toolchain and no cached build (the reason is printed).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { AuditLog, checkpointEnd, lastStoredCheckpoint, loadOrCreateAuditKey, openStore, verifierKey, type Sealed } from '../../src/audit/index.js';
import { WitnessSubmitter } from '../../src/witness/index.js';
import { runCli } from '../helpers/cli.js';
import { startRig, type Rig } from '../gateway/harness.js';
import { rewriteHistory, sampleEvent } from '../audit/helpers.js';
import { startOmniwitness, witnessBinaries, witnessKey, witnessVersion, type Binaries, type Omniwitness } from './omniwitness.js';

const ORIGIN = 'gw.test/tdev-audit';
const NAME = 'witness.test/transparency-dev';
const FORKED = ' (the checkpoint does not extend the one it cosigned: the consistency proof fails or the same size has another root; this log forked or was rewritten)';

const bins = witnessBinaries();
let scratch: string;
let stateDir: string;
let witness: Omniwitness;
/** The tree size the witness holds after the gateway ran twice, and a copy of the store from after the first run. */
let cosigned = 0;
let snapshot: string;

async function traffic(rig: Rig, n: number): Promise<void> {
  const token = await rig.idp.token({ sub: 'mo', groups: ['ml-admins'] });
  for (let i = 0; i < n; i++) {
    const res = await fetch(`${rig.gw.url}/v1/models/load`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: '{"model":"m"}' });
    assert.is(res.status, 200);
    await res.arrayBuffer();
  }
}

const metric = (text: string, name: string): number | null => {
  const m = new RegExp(`^${name.replace(/[{}"./]/g, '\\$&')} (\\d+)$`, 'm').exec(text);
  return m ? Number(m[1]) : null;
};

/** The newest checkpoint stored in `dir`, as the submitter takes it. */
async function newest(dir: string): Promise<Sealed> {
  const store = openStore(dir, { readOnly: true });
  try {
    const last = lastStoredCheckpoint(store)!;
    if (typeof last.checkpoint === 'string') throw new Error(last.checkpoint);
    return { segment: last.key, first: 0, size: checkpointEnd(last.checkpoint), note: last.text };
  } finally {
    await store.env.close();
  }
}

/** regate's submitter shows `dir`'s newest checkpoint to the witness; returns what it reports. */
async function submitNewest(dir: string, key: Awaited<ReturnType<typeof loadOrCreateAuditKey>>): Promise<{ settled: boolean; last_error: string | null; cosigned: number; failures: number }> {
  const log = await AuditLog.open({ dir, signingKey: key.privateKey, keyId: key.keyId });
  const sub = new WitnessSubmitter(log, [{ url: witness.url, public_key: witness.vkey }], { quorum: 1, retryBaseMs: 50 });
  try {
    sub.submit(await newest(dir));
    const settled = await sub.settled(1500);
    const w = sub.lag().witnesses[0]!;
    return { settled, last_error: w.last_error, cosigned: w.cosigned_size, failures: w.failures };
  } finally {
    await sub.close();
    await log.close();
  }
}

/** A copy of the gateway's store rewritten from record 1 on and re-signed with the real key (same sizes, other roots). */
async function rewrittenCopy(name: string): Promise<{ dir: string; key: Awaited<ReturnType<typeof loadOrCreateAuditKey>> }> {
  const dir = join(scratch, name);
  cpSync(join(stateDir, 'audit'), dir, { recursive: true });
  const key = await loadOrCreateAuditKey(stateDir);
  const store = openStore(dir);
  await rewriteHistory(store, key.privateKey, 1, (r) => (r.event.subject = 'mallory'));
  await store.env.close();
  return { dir, key };
}

const post = async (body: string): Promise<{ status: number; type: unknown; text: string }> => {
  const r = await request(`${witness.url}/add-checkpoint`, { method: 'POST', body });
  return { status: r.statusCode, type: r.headers['content-type'], text: await r.body.text() };
};

if (typeof bins === 'string') {
  console.log(`SKIP transparency-dev witness interoperability: ${bins}`);
} else {
  const b: Binaries = bins;
  test.before(async () => {
    scratch = mkdtempSync(join(tmpdir(), 'regate-tdev-witness-'));
    stateDir = join(scratch, 'state');
    snapshot = join(scratch, 'audit-after-first-run');
    const key = await loadOrCreateAuditKey(stateDir);
    witness = await startOmniwitness(b, join(scratch, 'witness'), NAME, [{ origin: ORIGIN, vkey: verifierKey(ORIGIN, key.privateKey) }]);
  });
  test.after(async () => {
    await witness?.stop();
    rmSync(scratch, { recursive: true, force: true });
  });

  test(`transparency-dev's witness (${witnessVersion()}) cosigns the checkpoints a gateway seals under traffic; /metrics shows it and audit verify --witness-key accepts its cosignatures`, async () => {
    const audit = { origin: ORIGIN, segment_records: 4, witnesses: [{ url: witness.url, public_key: witness.vkey }] };
    const first = await startRig({ stateDir, keepState: true, metricsPublic: true, audit });
    try {
      await traffic(first, 5);
      // Segments seal as traffic flows; poll until the witness has cosigned the newest one.
      let text = '';
      for (let i = 0; i < 200; i++) {
        text = await (await fetch(`${first.gw.adminUrl}/metrics`)).text();
        if ((metric(text, `regate_audit_witness_cosigned_tree_size{witness="${NAME}"}`) ?? 0) > 0 && metric(text, 'regate_audit_witness_lag_records') === 0) break;
        await new Promise((r) => setTimeout(r, 50));
      }
      assert.ok((metric(text, `regate_audit_witness_cosigned_tree_size{witness="${NAME}"}`) ?? 0) >= 4, text);
      assert.is(metric(text, 'regate_audit_witness_lag_records'), 0, text);
      assert.is(metric(text, `regate_audit_witness_failures{witness="${NAME}"}`), 0, text);
    } finally {
      await first.stop(); // closing waits for the last checkpoint's cosignature
    }
    cpSync(join(stateDir, 'audit'), snapshot, { recursive: true });
    // A second run: the gateway does not know the witness's size and learns it from its 409 answer.
    const second = await startRig({ stateDir, keepState: true, audit });
    try {
      // It has no read endpoint (regate's GET /checkpoint): the start check says it could not ask it.
      const warned = second.logs.lines().find((l) => l.msg === 'audit start check: a witness could not be asked; checked against the published checkpoint alone');
      assert.match(String(warned?.reason), `witness ${NAME} (${witness.url}) answered GET /checkpoint with 404`);
      await traffic(second, 3);
    } finally {
      await second.stop();
    }
    cosigned = (await newest(join(stateDir, 'audit'))).size;
    for (const witnessKey of [witness.vkey, witness.vkeyFile]) {
      const v = await runCli(['audit', 'verify', '--dir', join(stateDir, 'audit'), '--key', join(stateDir, 'audit.pub.pem'), '--witness-key', witnessKey]);
      assert.is(v.code, 0, v.stderr);
      assert.match(v.stdout, `Witnessed: the checkpoint of segment ${(await newest(join(stateDir, 'audit'))).segment} (tree size ${cosigned}) carries the witnesses' cosignatures.`);
    }
    // Its cosignature is what counts: the key of a witness that cosigned nothing is not satisfied.
    const other = witnessKey(b, join(scratch, 'other'), 'witness.test/other');
    const v = await runCli(['audit', 'verify', '--dir', join(stateDir, 'audit'), '--key', join(stateDir, 'audit.pub.pem'), '--witness-key', other.vkey]);
    assert.is(v.code, 1, v.stdout + v.stderr);
    assert.match(v.stdout + v.stderr, 'witness.test/other');
  });

  test('a rolled-back store: the witness answers 409 with the size it cosigned, and the submitter reports a rollback', async () => {
    assert.ok(cosigned > 0, 'the first test ran');
    const older = await newest(snapshot);
    assert.ok(older.size < cosigned);
    const raw = await post(`old 0\n\n${older.note}`);
    assert.equal([raw.status, raw.type, raw.text], [409, 'text/x.tlog.size', `${cosigned}\n`]);
    const key = await loadOrCreateAuditKey(stateDir);
    const r = await submitNewest(snapshot, key);
    assert.not.ok(r.settled);
    assert.is(r.last_error, `the witness has cosigned tree size ${cosigned}, larger than this log's ${older.size}: this log was rolled back or forked`);
  });

  test('a fork: the same tree size with another root (a consistent rewrite with the real key) is refused (422), and the submitter reports a fork', async () => {
    const { dir: forked, key } = await rewrittenCopy('forked');
    const fork = await newest(forked);
    assert.is(fork.size, cosigned);
    // The same size with another root: this revision answers 422 (some witness revisions say 409).
    const raw = await post(`old ${cosigned}\n\n${fork.note}`);
    assert.is(raw.status, 422);
    const r = await submitNewest(forked, key);
    assert.not.ok(r.settled);
    assert.is(r.last_error, `the witness answered 422${FORKED}`);
    assert.is(r.cosigned, 0);
  });

  test('a rewrite that claims to extend what the witness cosigned: its consistency proof does not verify (422), and the submitter reports it', async () => {
    const { dir: rewritten, key } = await rewrittenCopy('rewritten');
    const log = await AuditLog.open({ dir: rewritten, signingKey: key.privateKey, keyId: key.keyId });
    await log.append(sampleEvent(0));
    await log.seal();
    await log.close();
    assert.ok((await newest(rewritten)).size > cosigned);
    const r = await submitNewest(rewritten, key);
    assert.not.ok(r.settled);
    assert.is(r.last_error, `the witness answered 422${FORKED}`);
  });

  test('a checkpoint signed by another key under the known origin, or of an unknown origin, is not cosigned: this revision answers 500 (tlog-witness says 403 / 404) and regate retries with backoff, counting failures', async () => {
    const other = await loadOrCreateAuditKey(join(scratch, 'other-log'));
    // This revision maps only a few errors to statuses: a signature that does not verify, and (with
    // --db_file) an origin its SQLite log table has no row for, fall through to 500.
    for (const origin of [ORIGIN, 'gw.test/unknown']) {
      const dir = join(scratch, `other-log-${origin.replace(/\W/g, '-')}`);
      const log = await AuditLog.open({ dir, signingKey: other.privateKey, keyId: other.keyId, origin });
      await log.append(sampleEvent(0));
      await log.seal();
      await log.close();
      const raw = await post(`old 0\n\n${(await newest(dir)).note}`);
      assert.is(raw.status, 500, origin);
      const r = await submitNewest(dir, other);
      assert.not.ok(r.settled);
      assert.is(r.last_error, 'the witness answered 500');
      assert.ok(r.failures >= 1, `${origin}: ${r.failures} failures`);
      assert.is(r.cosigned, 0);
    }
  });

  test.run();
}
