/**
 * The gateway with `audit.witnesses`: every checkpoint goes to the witness (a real `regate witness
 * serve` process), the lag shows in /metrics, closing waits for the last cosignature, and the log
 * then verifies with `--witness-key`.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AuditStoreMismatchError, loadOrCreateAuditKey, verifierKey } from '../../src/audit/index.js';
import { cliPath, runCli } from '../helpers/cli.js';
import { startRig, type Rig } from '../gateway/harness.js';

const ORIGIN = 'gw.test/audit';

test('the gateway submits its checkpoints to the configured witness and the log verifies with its key', async () => {
  const stateDir = mkdtempSync(join(tmpdir(), 'regate-gw-witness-'));
  const witness = await startWitness(stateDir);
  try {
    const rig = await startRig({ stateDir, keepState: true, metricsPublic: true, audit: { origin: ORIGIN, witnesses: [{ url: witness.url, public_key: witness.vkey }] } });
    await oneRequest(rig);
    const metrics = await (await fetch(`${rig.gw.adminUrl}/metrics`)).text();
    assert.match(metrics, /^regate_audit_witness_lag_records \d+$/m);
    assert.match(metrics, /^regate_audit_witness_cosigned_tree_size\{witness="witness\.test\/gw"\} \d+$/m);
    await rig.stop();
    const v = await runCli(['audit', 'verify', '--dir', join(stateDir, 'audit'), '--key', join(stateDir, 'audit.pub.pem'), '--witness-key', witness.vkey]);
    assert.is(v.code, 0, v.stderr);
    assert.match(v.stdout, /Witnessed: the checkpoint of segment \d+ \(tree size \d+\) carries the witnesses' cosignatures\./);
  } finally {
    await witness.stop();
    rmSync(stateDir, { recursive: true, force: true });
  }
});

/** A real `regate witness serve` process for the log whose key is in `stateDir`. */
async function startWitness(stateDir: string): Promise<{ url: string; vkey: string; stop(): Promise<void> }> {
  const key = await loadOrCreateAuditKey(stateDir);
  const child = spawn(process.execPath, [cliPath, 'witness', 'serve', '--dir', join(stateDir, 'witness'), '--name', 'witness.test/gw', '--log', verifierKey(ORIGIN, key.privateKey)], { stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    const ready = await new Promise<{ url: string; vkey: string }>((resolve, reject) => {
      let err = '';
      child.stderr!.setEncoding('utf8').on('data', (d: string) => {
        err += d;
        const m = /regate witness ready (\S+) \(verifier key (\S+)\)/.exec(err);
        if (m) resolve({ url: m[1]!, vkey: m[2]! });
      });
      child.once('exit', (code) => reject(new Error(`witness exited ${code}: ${err}`)));
    });
    return { ...ready, stop: async () => { child.kill('SIGTERM'); await exited; } };
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
}

async function oneRequest(rig: Rig): Promise<void> {
  const token = await rig.idp.token({ sub: 'mo', groups: ['ml-admins'] });
  const res = await fetch(`${rig.gw.url}/v1/models/load`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: '{"model":"m"}' });
  assert.is(res.status, 200);
  await res.arrayBuffer();
}

test('start check with a witness: a store rolled back together with its published checkpoint is refused, naming the witness and both tree sizes; an unreachable witness is a warning', async () => {
  const stateDir = mkdtempSync(join(tmpdir(), 'regate-gw-witness-start-'));
  const witness = await startWitness(stateDir);
  let running = true;
  try {
    const audit = { origin: ORIGIN, witnesses: [{ url: witness.url, public_key: witness.vkey }] };
    const first = await startRig({ stateDir, keepState: true, audit });
    await oneRequest(first);
    await first.stop();
    // What an insider keeps to roll back to: the store and the published checkpoint beside it.
    cpSync(join(stateDir, 'audit'), join(stateDir, 'audit-snapshot'), { recursive: true });
    cpSync(join(stateDir, 'audit.published'), join(stateDir, 'audit.published-snapshot'));
    const second = await startRig({ stateDir, keepState: true, audit });
    await oneRequest(second);
    await second.stop(); // closing waits for the witness to cosign the last checkpoint
    rmSync(join(stateDir, 'audit'), { recursive: true });
    cpSync(join(stateDir, 'audit-snapshot'), join(stateDir, 'audit'), { recursive: true });
    cpSync(join(stateDir, 'audit.published-snapshot'), join(stateDir, 'audit.published'));

    // Without witnesses the rolled-back pair looks whole: the local check alone passes.
    await (await startRig({ stateDir, keepState: true })).stop();
    rmSync(join(stateDir, 'audit'), { recursive: true });
    cpSync(join(stateDir, 'audit-snapshot'), join(stateDir, 'audit'), { recursive: true });
    cpSync(join(stateDir, 'audit.published-snapshot'), join(stateDir, 'audit.published'));

    const err = await startRig({ stateDir, keepState: true, audit }).catch((e: unknown) => e);
    assert.instance(err, AuditStoreMismatchError);
    const m = /ends at tree size (\d+), but witness witness\.test\/gw cosigned a checkpoint of tree size (\d+) \((\S+)\): the store was rolled back or truncated/.exec((err as Error).message);
    assert.ok(m, (err as Error).message);
    assert.ok(Number(m![1]) < Number(m![2]), 'the store ends before what the witness cosigned');
    assert.is(m![3], witness.url);

    await witness.stop();
    running = false;
    const blind = await startRig({ stateDir, keepState: true, audit });
    try {
      const warned = blind.logs.lines().find((l) => l.msg === 'audit start check: a witness could not be asked; checked against the published checkpoint alone');
      assert.ok(warned, 'an unreachable witness is said in a warning');
      assert.match(String(warned!.reason), `witness witness.test/gw (${witness.url}) could not be reached`);
    } finally {
      await blind.stop();
    }
  } finally {
    if (running) await witness.stop();
    rmSync(stateDir, { recursive: true, force: true });
  }
});

test.run();
