/**
 * `regate init` and the policy repository it writes, used as a security team would: every command
 * run inside it (regate test, build --check, policy eval, build) reads and writes that repository's
 * files, resolved against the working directory, never regate's own.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { DEFAULT_BUNDLE } from '../../src/policy/index.js';
import { runCli } from '../helpers/cli.js';
import { tempDir } from './fixtures.js';

const tmp = await tempDir();
test.after(() => tmp.cleanup());
const repo = join(tmp.dir, 'payments-policy');
const sha = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

test('init writes rego/, decision tables, an example input, the built module and bundle, a CI workflow and a README', async () => {
  const r = await runCli(['init', repo, '--json']);
  assert.is(r.code, 0, r.stderr);
  const doc = JSON.parse(r.stdout) as { ok: boolean; files: string[] };
  assert.is(doc.ok, true);
  for (const f of ['rego/regate.rego', 'rego/regate_test.rego', 'rego/data.json', 'rego/cases/pci.json', 'rego/examples/score.json', 'wasm/pci.wasm', 'bundles/pci.tar.gz', '.github/workflows/policy.yml', 'README.md']) {
    assert.ok(doc.files.includes(f), f);
    assert.ok(existsSync(join(repo, f)), `${f} exists`);
  }
  const workflow = parse(readFileSync(join(repo, '.github/workflows/policy.yml'), 'utf8')) as { jobs: { policy: { steps: { run?: string }[] } } };
  const runs = workflow.jobs.policy.steps.flatMap((s) => (s.run ? [s.run] : []));
  assert.ok(runs.includes('npx regate test') && runs.includes('npx regate build --check'), runs.join('; '));
  assert.match(readFileSync(join(repo, 'README.md'), 'utf8'), /regate bundle verify/);
});

test('init over an existing repository writes nothing and names the files; --force overwrites', async () => {
  writeFileSync(join(repo, 'README.md'), 'ours\n');
  const r = await runCli(['init', repo]);
  assert.is(r.code, 2);
  assert.match(r.stderr, /already has rego\/.*README\.md; nothing was written \(--force overwrites them\)/);
  assert.is(readFileSync(join(repo, 'README.md'), 'utf8'), 'ours\n');
  assert.is((await runCli(['init', repo, '--force'])).code, 0);
  assert.match(readFileSync(join(repo, 'README.md'), 'utf8'), /# Gateway policy/);
});

test('inside the new repository, test, build --check and policy eval work on its files', async () => {
  const t = await runCli(['test', '--json'], { cwd: repo });
  assert.is(t.code, 0, t.stderr);
  const tested = JSON.parse(t.stdout) as { ok: boolean; coverage: number; cases: number };
  assert.ok(tested.ok && tested.coverage >= 90 && tested.cases > 0, t.stdout);
  const check = await runCli(['build', '--check'], { cwd: repo });
  assert.is(check.code, 0, check.stderr);
  const evald = await runCli(['policy', 'eval', '--input', 'rego/examples/score.json'], { cwd: repo });
  assert.is(evald.code, 0, evald.stderr);
  assert.is((JSON.parse(evald.stdout) as { allow: boolean }).allow, true);
});

test('build inside the repository writes its wasm/ and bundles/, and regate\'s own bundle is untouched', async () => {
  const before = sha(DEFAULT_BUNDLE);
  const data = JSON.parse(readFileSync(join(repo, 'rego/data.json'), 'utf8')) as Record<string, unknown>;
  writeFileSync(join(repo, 'rego/data.json'), JSON.stringify({ ...data, team_note: 'payments' }, null, 2));
  const drift = await runCli(['build', '--check', '--json'], { cwd: repo });
  assert.is(drift.code, 1);
  assert.match((JSON.parse(drift.stdout) as { message: string }).message, /data\.json differs/);
  const built = await runCli(['build', '--json'], { cwd: repo });
  assert.is(built.code, 0, built.stderr);
  const doc = JSON.parse(built.stdout) as { bundle: string; wasm: string };
  assert.is(doc.bundle, join(repo, 'bundles', 'pci.tar.gz'));
  assert.is(doc.wasm, join(repo, 'wasm', 'pci.wasm'));
  assert.is((await runCli(['build', '--check'], { cwd: repo })).code, 0);
  assert.is(sha(DEFAULT_BUNDLE), before);
});

test.run();
