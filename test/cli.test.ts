import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { allCommands, cliPath, runCli } from './helpers/cli.js';

/** The package root (dist/test → ..). */
const root = fileURLToPath(new URL('../../', import.meta.url));
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };

test('unknown command exits 2 with a clear message', async () => {
  const r = await runCli(['frobnicate']);
  assert.is(r.code, 2);
  assert.match(r.stderr, /Unknown argument: frobnicate|Unknown command/);
});

test('no command exits 2 and says to name one', async () => {
  const r = await runCli([]);
  assert.is(r.code, 2);
  assert.match(r.stderr, /Name a command/);
});

test('a command group without its subcommand exits 2 naming the subcommands to choose from', async () => {
  const groups = { audit: 'Name an audit command: verify, export, prove, verify-proof, replay, tail or key.', holds: 'Name a holds command: list, show, approve or deny.', bundle: 'Name a bundle command: verify or sign.', policy: 'Name a policy command: eval, diff.', witness: 'Name a witness command: serve or key.', cluster: 'Name a cluster command: migrate or status.' };
  for (const [group, message] of Object.entries(groups)) {
    const r = await runCli([group]);
    assert.is(r.code, 2, group);
    assert.is(r.stderr.split('\n')[0], `regate: ${message}`);
  }
});

test('--help lists usage and exits 0', async () => {
  const r = await runCli(['--help']);
  assert.is(r.code, 0);
  assert.match(r.stdout, /regate <command>/);
});

test('--version prints regate\'s version, also when run inside another project (installed as a dependency)', async () => {
  const host = mkdtempSync(join(tmpdir(), 'regate-host-'));
  try {
    writeFileSync(join(host, 'package.json'), JSON.stringify({ name: 'payments-gateway', version: '9.9.9' }));
    const r = await runCli(['--version'], { cwd: host });
    assert.is(r.code, 0);
    assert.is(r.stdout.trim(), pkg.version);
  } finally {
    rmSync(host, { recursive: true, force: true });
  }
});

test('the npm package ships the runtime, policy, docs and licence, never tests, benchmarks or source maps', () => {
  const [packed] = JSON.parse(execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })) as [{ files: { path: string }[] }];
  const paths = packed.files.map((f) => f.path);
  for (const needed of ['dist/src/cli/main.js', 'rego/regate.rego', 'rego/cases/pci.json', 'rego/examples/score.json', 'wasm/pci.wasm', 'wasm/capabilities.json', 'bundles/pci.tar.gz', 'docs/config.md', 'README.md', 'LICENSE', 'package.json']) {
    assert.ok(paths.includes(needed), `${needed} is shipped`);
  }
  const stray = paths.filter((p) => /^(test|bench|dist\/test|dist\/bench|src)\//.test(p));
  assert.equal(stray, [], 'no tests, benchmarks or TypeScript sources');
  // Source maps point at src/, which is not shipped: they would be dead weight (a third of dist/src).
  assert.equal(paths.filter((p) => p.endsWith('.map')), [], 'no source maps');
});

test('--json: a failing command prints {ok: false, code, message, exit_code} on stdout as well as the sentence on stderr', async () => {
  const r = await runCli(['bundle', 'verify', join(root, 'bundles', 'pci.tar.gz'), '--key', '/nonexistent/key.pem', '--json']);
  assert.is(r.code, 2);
  const doc = JSON.parse(r.stdout) as { ok: boolean; code: string; message: string; exit_code: number };
  assert.is(doc.ok, false);
  assert.is(doc.code, 'ERR_USAGE');
  assert.match(doc.message, /cannot read --key \/nonexistent\/key\.pem/);
  assert.is(doc.exit_code, 2);
  assert.match(r.stderr, /^regate: cannot read --key/);
  const usage = await runCli(['bundle', 'verify', '--json']);
  assert.is(usage.code, 2);
  assert.is((JSON.parse(usage.stdout) as { code: string }).code, 'ERR_USAGE');
});

test('--json: bundle verify and bundle sign report as JSON', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'regate-json-'));
  try {
    const { generateKeyPairSync } = await import('node:crypto');
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    writeFileSync(join(dir, 'k.pem'), privateKey.export({ type: 'pkcs8', format: 'pem' }));
    writeFileSync(join(dir, 'k.pub'), publicKey.export({ type: 'spki', format: 'pem' }));
    const signed = join(dir, 'b.tar.gz');
    const sign = await runCli(['bundle', 'sign', join(root, 'bundles', 'pci.tar.gz'), '--key', join(dir, 'k.pem'), '--out', signed, '--key-id', 'prod', '--json']);
    assert.equal(JSON.parse(sign.stdout), { ok: true, bundle: signed, key_id: 'prod', scope: null });
    const verify = await runCli(['bundle', 'verify', signed, '--key', join(dir, 'k.pub'), '--key-id', 'prod', '--json']);
    const doc = JSON.parse(verify.stdout) as Record<string, unknown>;
    assert.is(doc.ok, true);
    assert.is(doc.key_id, 'prod');
    assert.type(doc.files_verified, 'number');
    const bad = await runCli(['bundle', 'verify', signed, '--key', join(dir, 'k.pub'), '--json']);
    assert.is(bad.code, 1);
    assert.match((JSON.parse(bad.stdout) as { message: string }).message, /key id \("kid"\) is "prod", expected "default"/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('every file a help text names (examples, defaults) exists in the package', async () => {
  const commands = await allCommands();
  for (const c of ['demo', 'policy eval', 'audit verify', 'audit key', 'cluster status', 'witness serve']) assert.ok(commands.includes(c), `the walk finds ${c}`);
  const helps = await Promise.all(commands.map((c) => runCli([...c.split(' '), '--help'])));
  const named = new Set<string>();
  helps.forEach((h, i) => {
    assert.is(h.code, 0, `${commands[i]} --help: ${h.stderr}`);
    for (const m of h.stdout.matchAll(/\b((?:rego|bundles|wasm|docs)\/[\w./-]*\w)/g)) named.add(m[1]!);
  });
  assert.ok(named.has('rego/examples/score.json'), 'policy eval names its example input');
  for (const p of named) assert.ok(existsSync(join(root, p)), `help names ${p}, which does not exist`);
});

test('holds --help and its subcommands name REGATE_ADMIN; without --admin or it, the error says both', async () => {
  const help = await runCli(['holds', 'list', '--help']);
  assert.match(help.stdout, /REGATE_ADMIN/);
  const r = await runCli(['holds', 'list'], { env: { REGATE_ADMIN: '' } });
  assert.is(r.code, 2);
  assert.match(r.stderr, /--admin or the REGATE_ADMIN environment variable/);
});

test('regate completion: bash completes commands and options through the real completion function', () => {
  const bin = mkdtempSync(join(tmpdir(), 'regate-bin-'));
  try {
    writeFileSync(join(bin, 'regate'), `#!/bin/sh\nexec "${process.execPath}" "${cliPath}" "$@"\n`);
    chmodSync(join(bin, 'regate'), 0o755);
    const complete = (words: string) =>
      execFileSync('bash', ['-c', `source <(regate completion); COMP_WORDS=(${words}); COMP_CWORD=$((\${#COMP_WORDS[@]} - 1)); _regate_yargs_completions; printf '%s\\n' "\${COMPREPLY[@]}"`], {
        env: { ...process.env, PATH: `${bin}:${process.env.PATH}` },
        encoding: 'utf8',
      }).trim().split('\n');
    assert.equal(complete('regate se'), ['serve']);
    assert.equal(complete('regate au'), ['audit']);
    assert.ok(complete("regate serve --c").includes('--config'));
  } finally {
    rmSync(bin, { recursive: true, force: true });
  }
});

test.run();
