/**
 * The gateway with `audit.witnesses`: every checkpoint goes to the witness (a real `regate witness
 * serve` process), the lag shows in /metrics, closing waits for the last cosignature, and the log
 * then verifies with `--witness-key`.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadOrCreateAuditKey, verifierKey } from '../../src/audit/index.js';
import { cliPath, runCli } from '../helpers/cli.js';
import { startRig } from '../gateway/harness.js';

const ORIGIN = 'gw.test/audit';

test('the gateway submits its checkpoints to the configured witness and the log verifies with its key', async () => {
  const stateDir = mkdtempSync(join(tmpdir(), 'regate-gw-witness-'));
  const key = await loadOrCreateAuditKey(stateDir);
  const child = spawn(process.execPath, [cliPath, 'witness', 'serve', '--dir', join(stateDir, 'witness'), '--name', 'witness.test/gw', '--log', verifierKey(ORIGIN, key.privateKey)], { stdio: ['ignore', 'pipe', 'pipe'] });
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
    const rig = await startRig({ stateDir, keepState: true, metricsPublic: true, audit: { origin: ORIGIN, witnesses: [{ url: ready.url, public_key: ready.vkey }] } });
    const token = await rig.idp.token({ sub: 'mo', groups: ['ml-admins'] });
    const res = await fetch(`${rig.gw.url}/v1/models/load`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: '{"model":"m"}' });
    assert.is(res.status, 200);
    await res.arrayBuffer();
    const metrics = await (await fetch(`${rig.gw.adminUrl}/metrics`)).text();
    assert.match(metrics, /^regate_audit_witness_lag_records \d+$/m);
    assert.match(metrics, /^regate_audit_witness_cosigned_tree_size\{witness="witness\.test\/gw"\} \d+$/m);
    await rig.stop();
    const v = await runCli(['audit', 'verify', '--dir', join(stateDir, 'audit'), '--key', join(stateDir, 'audit.pub.pem'), '--witness-key', ready.vkey]);
    assert.is(v.code, 0, v.stderr);
    assert.match(v.stdout, /Witnessed: the checkpoint of segment \d+ \(tree size \d+\) carries the witnesses' cosignatures\./);
  } finally {
    child.kill('SIGTERM');
    rmSync(stateDir, { recursive: true, force: true });
  }
});

test.run();
