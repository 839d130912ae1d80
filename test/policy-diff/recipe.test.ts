/**
 * The CI recipe of docs/policy.md, run as written: real traffic recorded through a real gateway,
 * exported with `regate audit export`, the bundles the gateway kept copied beside it, a change to
 * a copy of rego/, then the doc's `ci/policy-diff.sh` block run by sh with `regate` on the PATH.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { chmodSync, cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cliPath, runCli, runProcess, type CliResult } from '../helpers/cli.js';
import { startRig } from '../gateway/harness.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const doc = readFileSync(join(root, 'docs/policy.md'), 'utf8');
const work = mkdtempSync(join(tmpdir(), 'regate-recipe-'));
test.after(() => rmSync(work, { recursive: true, force: true }));

/** The doc's script block that starts with `# ci/policy-diff.sh`. */
function recipe(): string {
  const block = /```sh\n(# ci\/policy-diff\.sh[^\n]*\n[\s\S]*?)```/.exec(doc)?.[1];
  assert.ok(block, 'docs/policy.md holds the ci/policy-diff.sh block');
  return block;
}

/** Runs `script` with sh in `cwd`, with a `regate` on the PATH that is this checkout's CLI. */
function sh(script: string, cwd: string): Promise<CliResult> {
  const bin = join(work, 'bin');
  mkdirSync(bin, { recursive: true });
  writeFileSync(join(bin, 'regate'), `#!/bin/sh\nexec "${process.execPath}" "${cliPath}" "$@"\n`);
  chmodSync(join(bin, 'regate'), 0o755);
  return runProcess('sh', [script], { cwd, env: { PATH: `${bin}:${process.env.PATH}` } });
}

test('the CI recipe fails the job on the access a rego change takes away, names each request, and passes an unchanged policy', async () => {
  // 1. Real traffic through the real gateway, recorded in its audit log.
  const rig = await startRig({ keepState: true });
  const analystCalls: string[] = [];
  try {
    const analyst = await rig.idp.token({ sub: 'alice', groups: ['fraud-analysts'] });
    const agent = await rig.idp.token({ sub: 'sam', groups: ['support-agents'] });
    const admin = await rig.idp.token({ sub: 'pat', groups: ['pci-admins'] });
    const call = async (token: string, method: string, path: string, body?: unknown) => {
      const r = await fetch(`${rig.gw.url}${path}`, { method, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
      await r.arrayBuffer();
      return r;
    };
    for (const limit of ['10', '200']) analystCalls.push((await call(analyst, 'GET', `/v1/transactions?limit=${limit}`)).headers.get('x-request-id')!);
    assert.is((await call(analyst, 'POST', '/v1/score', { card: { pan: '4111 1111 1111 1111' }, amount: 12 })).status, 200);
    assert.is((await call(agent, 'POST', '/v1/score', { amount: 1 })).status, 403);
    assert.is((await call(admin, 'GET', '/v1/transactions?limit=5')).status, 200);
    assert.is((await call(agent, 'POST', '/v1/chat/completions', { messages: [{ role: 'user', content: 'hi' }] })).status, 200);
  } finally {
    await rig.stop();
  }

  // 2. What the operators publish: the export, the bundles the gateway ran, the audit public key.
  const repo = join(work, 'pr');
  const recorded = join(repo, 'recorded');
  const exported = await runCli(['audit', 'export', '--state', rig.stateDir, '--out', recorded]);
  assert.is(exported.code, 0, exported.stderr);
  cpSync(join(rig.stateDir, 'bundle-revisions'), join(recorded, 'bundle-revisions'), { recursive: true });
  cpSync(join(rig.stateDir, 'audit.pub.pem'), join(recorded, 'audit.pub.pem'));
  rmSync(rig.stateDir, { recursive: true, force: true });
  assert.equal(readdirSync(join(recorded, 'bundle-revisions')).length, 1, 'the gateway kept the bundle it ran');

  // 3. The pull request: fraud analysts lose the transactions listing.
  cpSync(join(root, 'rego'), join(repo, 'rego'), { recursive: true });
  const data = JSON.parse(readFileSync(join(repo, 'rego/data.json'), 'utf8'));
  data.pci.operations.transactions.groups = ['pci-admins'];
  writeFileSync(join(repo, 'rego/data.json'), JSON.stringify(data, null, 2));
  mkdirSync(join(repo, 'ci'));
  writeFileSync(join(repo, 'ci/policy-diff.sh'), recipe());

  const failed = await sh('ci/policy-diff.sh', repo);
  assert.is(failed.code, 1, failed.stderr);
  assert.match(failed.stderr, /the candidate changes decisions of the kinds --fail-on names: 2 allow-to-deny/);
  assert.match(failed.stdout, /allow → deny\s+2\n/);
  for (const id of analystCalls) assert.match(failed.stdout, new RegExp(`${id}  alice  transactions  GET /v1/transactions  mask → deny`));
  const report = JSON.parse(readFileSync(join(repo, 'policy-diff.json'), 'utf8'));
  assert.is(report.summary.compared, 6);
  assert.is(report.summary.allow_to_deny, 2);
  assert.is(report.summary.changed, 2);
  assert.is(report.summary.baseline_mismatch, 0);
  assert.equal(report.changes.map((c: { request_id: string }) => c.request_id), analystCalls);
  assert.equal(report.changes[0].after.rules, ['deny.group_required']);

  // 4. The same recipe on an unchanged policy passes.
  cpSync(join(root, 'rego/data.json'), join(repo, 'rego/data.json'));
  const passed = await sh('ci/policy-diff.sh', repo);
  assert.is(passed.code, 0, passed.stderr);
  assert.match(passed.stdout, /unchanged\s+6\n/);
});

test.run();
