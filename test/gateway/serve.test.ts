import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { DEFAULT_BUNDLE, signBundle } from '../../src/policy/index.js';
import { runCli } from '../helpers/cli.js';
import { startServe, writeConfig } from '../helpers/serve.js';
import { closedPort, startIdp, UpstreamDouble, type IdpDouble } from './harness.js';

const dir = mkdtempSync(join(tmpdir(), 'regate-serve-'));
let idp: IdpDouble;
let upstream: UpstreamDouble;

test.before(async () => {
  idp = await startIdp();
  upstream = await new UpstreamDouble().start();
  writeFileSync(join(dir, 'upstream.key'), 'serve-test-secret\n');
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  writeFileSync(join(dir, 'bundle.pub.pem'), publicKey.export({ type: 'spki', format: 'pem' }));
  const privateKeyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  writeFileSync(join(dir, 'pci.tar.gz'), await signBundle(readFileSync(DEFAULT_BUNDLE), { privateKeyPem }));
});
test.after(async () => {
  await upstream.stop();
  await idp.stop();
  rmSync(dir, { recursive: true, force: true });
});

function configFile(extra: Record<string, unknown> = {}): string {
  return writeConfig(dir, {
    listen: { port: 0 },
    admin: { port: 0 },
    state_dir: join(dir, 'state'),
    upstreams: { models: { url: upstream.url, credential: { header: 'x-upstream-key', value_file: 'upstream.key' } } },
    routes: [{ name: 'models', path_prefix: '/v1/models', upstream: 'models' }],
    identity: { issuer: idp.issuer, audience: 'regate-test', jwks_url: `${idp.url}/jwks.json` },
    policy: { bundle: 'pci.tar.gz', public_key_file: 'bundle.pub.pem' },
    logging: { level: 'warn' },
    ...extra,
  });
}

test('a bad config exits 2 naming the key and what was expected', async () => {
  const file = configFile({ max_body_bytes: 'lots' });
  const r = await runCli(['serve', '--config', file]);
  assert.is(r.code, 2);
  assert.match(r.stderr, /max_body_bytes: expected an integer from 0 to 1073741824 \(bytes\), got "lots"/);
  assert.ok(r.stderr.includes(file));
});

test('no bundle public key: serve refuses to start (exit 2) naming the key, unless allow_unsigned is set', async () => {
  const r = await runCli(['serve', '--config', configFile({ policy: { bundle: DEFAULT_BUNDLE } })]);
  assert.is(r.code, 2);
  assert.match(r.stderr, /policy\.public_key_file: expected the PEM public key that signs the policy bundle \(or policy\.keys for several, or policy\.allow_unsigned: true to run unsigned bundles\)/);
  const tampered = await runCli(['serve', '--config', configFile({ policy: { bundle: DEFAULT_BUNDLE, public_key_file: 'bundle.pub.pem' } })]);
  assert.is(tampered.code, 1, 'an unsigned bundle with a key configured is refused');
  assert.match(tampered.stderr, /policy bundle .* refused/);
});

test('a public key file that is not a PEM key: serve refuses to start naming the file and the key to fix', async () => {
  writeFileSync(join(dir, 'not-a-key.pem'), 'this is not a key\n');
  const r = await runCli(['serve', '--config', configFile({ policy: { bundle: 'pci.tar.gz', public_key_file: 'not-a-key.pem' } })]);
  assert.is(r.code, 1);
  assert.match(r.stderr, /not a PEM public key/);
  assert.match(r.stderr, /check policy\.public_key_file \(\S*not-a-key\.pem\)/);
});

test('REGATE_CONFIG stands in for --config; with neither, exit 2 naming both', async () => {
  const none = await runCli(['serve'], { env: { REGATE_CONFIG: '' } });
  assert.is(none.code, 2);
  assert.match(none.stderr, /name the config file with --config FILE or the REGATE_CONFIG environment variable/);
  const r = await runCli(['serve'], { env: { REGATE_CONFIG: configFile({ max_body_bytes: 'lots' }) } });
  assert.is(r.code, 2, 'the file named by REGATE_CONFIG was read');
  assert.match(r.stderr, /max_body_bytes: expected an integer/);
});

test('startup errors name the key and the fix: missing bundle file, admin port equal to the client port, port in use', async () => {
  const missing = await runCli(['serve', '--config', configFile({ policy: { bundle: 'nowhere.tar.gz', public_key_file: 'bundle.pub.pem' } })]);
  assert.is(missing.code, 1);
  assert.match(missing.stderr, /policy bundle \S+nowhere\.tar\.gz refused: cannot read bundle \S+: the file does not exist \(ENOENT\); fix policy\.bundle, or build the bundle with `regate build`/);
  assert.not.match(missing.stderr, /stat '/);

  const same = await runCli(['serve', '--config', configFile({ listen: { port: 18080 }, admin: { port: 18080 } })]);
  assert.is(same.code, 2);
  assert.match(same.stderr, /admin\.port: expected a port other than listen\.port \(18080\)/);

  const taken = createServer();
  await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
  const port = (taken.address() as AddressInfo).port;
  try {
    const busy = await runCli(['serve', '--config', configFile({ listen: { port } })]);
    assert.is(busy.code, 1);
    assert.match(busy.stderr, new RegExp(`cannot listen for clients: 127\\.0\\.0\\.1:${port} is already in use by another process \\(EADDRINUSE\\); stop that process or set listen\\.port to a free port`));
  } finally {
    await new Promise((r) => taken.close(r));
  }
});

test('policy.keys with key_id and scope (a bundle signed --key-id prod --scope write) and policy.entrypoint', async () => {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  writeFileSync(join(dir, 'prod.pub.pem'), publicKey.export({ type: 'spki', format: 'pem' }));
  writeFileSync(join(dir, 'prod.tar.gz'), await signBundle(readFileSync(DEFAULT_BUNDLE), { privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), keyId: 'prod', scope: 'write' }));
  const policy = { bundle: 'prod.tar.gz', entrypoint: 'regate/decision', keys: { prod: { public_key_file: 'prod.pub.pem', scope: 'write' }, old: { public_key_file: 'bundle.pub.pem' } } };
  const { child, ready, exited } = startServe(configFile({ policy }));
  try {
    const { url } = await ready;
    const res = await fetch(`${url}/v1/models/load`, { method: 'POST', headers: { authorization: `Bearer ${await idp.token({ sub: 'mo', groups: ['ml-admins'] })}`, 'content-type': 'application/json' }, body: '{}' });
    assert.is(res.status, 200);
  } finally {
    child.kill('SIGTERM');
    await exited;
  }
  const wrongScope = await runCli(['serve', '--config', configFile({ policy: { ...policy, keys: { prod: { public_key_file: 'prod.pub.pem' } } } })]);
  assert.is(wrongScope.code, 1);
  assert.match(wrongScope.stderr, /"scope" claim "write" does not match the expected scope "" of key "prod"; check policy\.public_key_file \(or policy\.keys, key_id, scope\)/);
  const wrongEntry = await runCli(['serve', '--config', configFile({ policy: { ...policy, entrypoint: 'payments/allow' } })]);
  assert.is(wrongEntry.code, 1);
  assert.match(wrongEntry.stderr, /no Wasm module for entrypoint payments\/allow .*; set policy\.entrypoint to a rule the bundle was built for/);
});

test('SIGTERM drains the request in flight, then exits 0 and stops listening', async () => {
  upstream.handlers.set('/v1/models/load', (_req, res) => {
    setTimeout(() => res.writeHead(200, { 'content-type': 'application/json' }).end('{"loaded":true}'), 400);
  });
  const { child, ready, exited } = startServe(configFile());
  try {
    const url = (await ready).url;
    const token = await idp.token({ sub: 'mo', groups: ['ml-admins'] });
    const before = upstream.seen.length;
    const inflight = fetch(`${url}/v1/models/load`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: '{}' });
    while (upstream.seen.length === before) await new Promise((r) => setTimeout(r, 10));
    child.kill('SIGTERM');
    const res = await inflight;
    assert.is(res.status, 200);
    assert.equal(await res.json(), { loaded: true });
    assert.is(upstream.seen.at(-1)!.headers['x-upstream-key'], 'serve-test-secret');
    assert.is(await exited, 0);
    try {
      await fetch(`${url}/v1/models/load`, { method: 'POST', body: '{}' });
      assert.unreachable('the gateway should no longer listen');
    } catch (err) {
      assert.match(String((err as Error & { cause?: Error }).cause?.message ?? err), /ECONNREFUSED/);
    }
  } finally {
    child.kill('SIGKILL');
  }
});

test('serve --check: a good config passes, naming what it checked; nothing is started', async () => {
  const r = await runCli(['serve', '--check', '--config', configFile()]);
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stdout, /ok: policy bundle \S+pci\.tar\.gz \(revision \S+, signature verified\)/);
  assert.match(r.stdout, /ok: upstream models \(127\.0\.0\.1:\d+\) accepts connections/);
  assert.match(r.stdout, /no problems found/);
  assert.not.match(r.stderr, /regate ready/);
});

test('serve --check prints every problem, not only the first: each bad key, then files, keys, bundle, upstreams and ports', async () => {
  const keys = await runCli(['serve', '--check', '--config', configFile({ max_body_bytes: 'lots', drain_secnds: 3, routes: [{ name: 'models', path_prefix: 'v1', upstream: 'models' }] })]);
  assert.is(keys.code, 1);
  assert.match(keys.stderr, /problem: \S+ line \d+: max_body_bytes: expected an integer/);
  assert.match(keys.stderr, /problem: \S+ line \d+: drain_secnds: unknown key; did you mean "drain_seconds"\?/);
  assert.match(keys.stderr, /problem: \S+ line \d+: routes\[0\]\.path_prefix: expected a path starting with \//);
  assert.match(keys.stderr, /3 problems found in /);

  const taken = createServer();
  await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
  const port = (taken.address() as AddressInfo).port;
  const closed = await closedPort();
  writeFileSync(join(dir, 'not-a-key.pem'), 'hello\n');
  try {
    const r = await runCli(['serve', '--check', '--json', '--config', configFile({
      listen: { port },
      upstreams: { models: { url: `http://127.0.0.1:${closed}`, credential: { header: 'x-upstream-key', value_file: 'upstream.key' } } },
      identity: { issuer: idp.issuer, audience: 'regate-test', jwks_file: 'missing-jwks.json' },
      policy: { bundle: 'missing.tar.gz', keys: { prod: { public_key_file: 'not-a-key.pem' } } },
    })]);
    assert.is(r.code, 1);
    const doc = JSON.parse(r.stdout) as { ok: boolean; message: string; problems: string[] };
    assert.is(doc.ok, false);
    assert.is(doc.problems.length, 5);
    for (const expected of [
      /identity\.jwks_file: cannot read \S+missing-jwks\.json \(ENOENT\)/,
      /policy\.keys\.prod\.public_key_file: \S+not-a-key\.pem is not a PEM public key/,
      /policy\.bundle: cannot read \S+missing\.tar\.gz \(ENOENT\)/,
      new RegExp(`upstreams\\.models\\.url: cannot connect to 127\\.0\\.0\\.1:${closed} \\(ECONNREFUSED\\)`),
      new RegExp(`listen\\.port: 127\\.0\\.0\\.1:${port} is already in use by another process \\(EADDRINUSE\\)`),
    ]) assert.match(doc.message, expected);
    assert.match(doc.message, /^5 problems found in /);
  } finally {
    await new Promise((r) => taken.close(r));
  }
});

test('logs: serve writes its JSON log lines to stderr, as demo does, and nothing to stdout', async () => {
  const { child, ready, exited, logs, stdout } = startServe(configFile({ logging: { level: 'info' } }));
  try {
    await ready;
    child.kill('SIGTERM');
    await exited;
    const err = logs();
    const lines = err.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { msg: string });
    assert.ok(lines.some((l) => l.msg === 'gateway started'), err);
    assert.ok(lines.some((l) => l.msg === 'policy bundle loaded'), err);
    assert.is(stdout(), '');
  } finally {
    child.kill('SIGKILL');
  }
});

test.run();
