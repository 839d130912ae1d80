import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_BUNDLE, loadBundle, saveBundle, type PolicyEngine } from '../../src/policy/index.js';
import { failKinds, sinceMs } from '../../src/cli/policy-diff.js';
import { hasCode } from '../../src/util/errors.js';
import { runCli } from '../helpers/cli.js';
import { input } from '../policy/fixtures.js';
import { auditFixture, bundleVariant, decisionEvent } from './fixtures.js';
import { readFile } from 'node:fs/promises';

let baseline: PolicyEngine;
let f: Awaited<ReturnType<typeof auditFixture>>;
let candidateFile: string;
let bundles: string;

test.before(async () => {
  baseline = await loadBundle(DEFAULT_BUNDLE);
  f = await auditFixture();
  const log = await f.open();
  await log.append(decisionEvent('r-analyst', input(['fraud-analysts'], 'GET', '/v1/transactions'), baseline));
  await log.append(decisionEvent('r-agent', input(['support-agents'], 'POST', '/v1/score'), baseline));
  await log.append(decisionEvent('r-admin', input(['pci-admins'], 'POST', '/v1/score'), baseline));
  await log.close();
  bundles = join(f.dir, '..', 'bundle-revisions');
  await saveBundle(bundles, baseline.revision, await readFile(DEFAULT_BUNDLE));
  candidateFile = join(f.dir, '..', 'candidate.tar.gz');
  writeFileSync(
    candidateFile,
    await bundleVariant('sha256:candidate000002', (d) => {
      d.pci.operations.score.groups.push('support-agents');
      d.pci.operations.transactions.groups = ['pci-admins'];
    }),
  );
});
test.after(() => f.cleanup());

test('--since takes a duration back from now or an ISO time, and refuses anything else with a usage error', () => {
  assert.is(sinceMs('24h', 1_000_000_000), 1_000_000_000 - 86_400_000);
  assert.is(sinceMs('90m', 10_000_000), 10_000_000 - 5_400_000);
  assert.is(sinceMs('2026-11-30T12:00:00Z'), Date.parse('2026-11-30T12:00:00Z'));
  for (const bad of ['yesterday', '24', '1w', '']) assert.throws(() => sinceMs(bad), (e: unknown) => hasCode(e, 'ERR_USAGE') && /neither a duration/.test((e as Error).message), bad);
});

test('--fail-on takes kinds with - or _, or any, and names the kinds when one is unknown', () => {
  assert.equal(failKinds('allow-to-deny, deny_to_allow'), ['allow_to_deny', 'deny_to_allow']);
  assert.ok(failKinds('any').includes('mask_change'));
  assert.throws(() => failKinds('allow-to-maybe'), (e: unknown) => hasCode(e, 'ERR_USAGE') && /allow-to-maybe is not a kind of change; the kinds are any, allow-to-deny/.test((e as Error).message));
  assert.throws(() => failKinds(','), (e: unknown) => hasCode(e, 'ERR_USAGE'));
});

test('policy diff --json: the summary counts and each change, baselines found in the bundle store beside the log', async () => {
  const r = await runCli(['policy', 'diff', '--candidate', candidateFile, '--audit', f.dir, '--json']);
  assert.is(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout);
  assert.is(report.summary.compared, 3);
  assert.is(report.summary.unchanged, 1);
  assert.is(report.summary.changed, 2);
  assert.is(report.summary.allow_to_deny, 1);
  assert.is(report.summary.deny_to_allow, 1);
  assert.is(report.summary.mask_change, 0);
  assert.equal(report.summary.baseline_revisions, [baseline.revision]);
  assert.equal(report.changes.map((c: { request_id: string; kind: string }) => `${c.request_id} ${c.kind}`), ['r-analyst allow_to_deny', 'r-agent deny_to_allow']);
});

test('policy diff --fail-on exits 1 naming the kinds found, after printing the report; kinds not found pass', async () => {
  const failed = await runCli(['policy', 'diff', '--candidate', candidateFile, '--audit', f.dir, '--fail-on', 'allow-to-deny,mask-change']);
  assert.is(failed.code, 1);
  assert.match(failed.stdout, /allow → deny\s+1/);
  assert.match(failed.stdout, /r-analyst  alice  test  GET \/v1\/transactions  mask → deny/);
  assert.match(failed.stderr, /the candidate changes decisions of the kinds --fail-on names: 1 allow-to-deny/);
  const passed = await runCli(['policy', 'diff', '--candidate', candidateFile, '--audit', f.dir, '--fail-on', 'allow-to-hold']);
  assert.is(passed.code, 0, passed.stderr);
});

test('policy diff --json --fail-on: one JSON document, ok false with the failure and the report, exit 1', async () => {
  const r = await runCli(['policy', 'diff', '--candidate', candidateFile, '--audit', f.dir, '--json', '--fail-on', 'deny-to-allow']);
  assert.is(r.code, 1);
  const doc = JSON.parse(r.stdout);
  assert.equal([doc.ok, doc.code, doc.exit_code], [false, 'ERR_VERIFICATION_FAILED', 1]);
  assert.match(doc.message, /1 deny-to-allow/);
  assert.is(doc.summary.deny_to_allow, 1);
  assert.is(doc.changes.length, 2);
  const passed = JSON.parse((await runCli(['policy', 'diff', '--candidate', candidateFile, '--audit', f.dir, '--json', '--fail-on', 'hold-change'])).stdout);
  assert.is(passed.ok, true);
});

test('policy diff without the recorded revision in any store exits 2 saying to pass --baseline or --bundles; --baseline then works', async () => {
  const empty = join(f.dir, '..', 'empty-store');
  mkdirSync(empty);
  const r = await runCli(['policy', 'diff', '--candidate', candidateFile, '--audit', f.dir, '--bundles', empty]);
  assert.is(r.code, 2);
  assert.match(r.stderr, new RegExp(`policy revision ${baseline.revision.replace(':', ':')} .*no bundle of revision .*it holds no bundle.*--bundles DIR.*--baseline BUNDLE`));
  const fixed = await runCli(['policy', 'diff', '--candidate', candidateFile, '--audit', f.dir, '--bundles', empty, '--baseline', DEFAULT_BUNDLE, '--json']);
  assert.is(fixed.code, 0, fixed.stderr);
  assert.is(JSON.parse(fixed.stdout).summary.changed, 2);
});

test('policy diff usage errors: no log, both logs, a missing candidate', async () => {
  const none = await runCli(['policy', 'diff', '--candidate', candidateFile]);
  assert.is(none.code, 2);
  assert.match(none.stderr, /exactly one of --audit DIR .* or --export DIR/);
  const both = await runCli(['policy', 'diff', '--candidate', candidateFile, '--audit', f.dir, '--export', f.dir]);
  assert.is(both.code, 2);
  const missing = await runCli(['policy', 'diff', '--candidate', join(f.dir, 'nope.tar.gz'), '--audit', f.dir]);
  assert.is(missing.code, 2);
  assert.match(missing.stderr, /cannot read .*nope\.tar\.gz: ENOENT/);
});

test.run();
