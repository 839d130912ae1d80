/**
 * Bundle faults seen through the running gateway (issue 8): a bundle server that goes away, an
 * unsigned bundle swapped in under a configured public key, and a signed policy that fails at
 * evaluation. Bundles are built and signed by the real `regate build`; the gateway keeps deciding
 * with the last good policy, audits every refusal, and fails closed when the policy cannot decide.
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { runCli } from '../helpers/cli.js';
import { close, listenOn, startRig, type Rig } from '../gateway/harness.js';
import { auditEvents, exchangeRecords } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'regate-bundles-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

const { privateKey, publicKey } = generateKeyPairSync('ed25519');
const keyFile = join(dir, 'bundle-key.pem');
const publicKeyFile = join(dir, 'bundle.pub.pem');
writeFileSync(keyFile, privateKey.export({ type: 'pkcs8', format: 'pem' }));
writeFileSync(publicKeyFile, publicKey.export({ type: 'spki', format: 'pem' }));

/**
 * One policy, its behaviour set by data: paths in `allowed` are allowed (reason: the data's
 * `revision`); paths in `off_contract` get `"allow": "yes"`; paths in `conflicting` (also listed in
 * `allowed`) make two rules disagree, a conflict only evaluation can find.
 */
const REGO = `package regate

none := {"request": [], "response": []}

default decision := {"allow": false, "reason": "not listed", "mask": {"request": [], "response": []}, "hold": null}

decision := {"allow": true, "reason": data.revision, "mask": none, "hold": null} if input.request.path in data.allowed

decision := {"allow": "yes", "reason": "outside the contract", "mask": none, "hold": null} if input.request.path in data.off_contract

decision := {"allow": false, "reason": "conflicting", "mask": none, "hold": null} if input.request.path in data.conflicting
`;

interface PolicyData { revision: string; allowed: string[]; off_contract?: string[]; conflicting?: string[] }

/** Builds the policy with `data` through the CLI; signed unless `signed` is false. Returns the bytes. */
async function build(data: PolicyData, signed = true): Promise<Buffer> {
  const src = join(dir, `${data.revision}-${signed ? 'signed' : 'unsigned'}`);
  mkdirSync(src);
  writeFileSync(join(src, 'regate.rego'), REGO);
  writeFileSync(join(src, 'data.json'), JSON.stringify({ off_contract: [], conflicting: [], ...data }));
  const out = join(src, 'bundle.tar.gz');
  const args = ['build', '--rego', src, '--out', out, '--wasm', join(src, 'policy.wasm'), ...(signed ? ['--signing-key', keyFile] : [])];
  const res = await runCli(args);
  assert.is(res.code, 0, res.stderr);
  return readFileSync(out);
}

const [revA, revB, unsignedB, broken] = await Promise.all([
  build({ revision: 'rev-a', allowed: ['/v1/score'] }),
  build({ revision: 'rev-b', allowed: ['/v1/score', '/v1/transactions'] }),
  build({ revision: 'rev-b', allowed: ['/v1/score', '/v1/transactions'] }, false),
  build({ revision: 'rev-broken', allowed: ['/v1/score', '/v1/models/load'], off_contract: ['/v1/chat/completions'], conflicting: ['/v1/models/load'] }),
]);

const signedPolicy = (bundle: string) => ({ bundle, public_key_file: publicKeyFile, allow_unsigned: false, poll_seconds: 0.05 });

async function eventually(what: string, check: () => boolean | Promise<boolean>): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** One POST as a support agent: the status and the parsed JSON body. */
async function call(rig: Rig, path: string): Promise<{ status: number; body: Record<string, any> }> {
  const token = await rig.idp.token({ sub: 'sam', groups: ['support-agents'] });
  const res = await fetch(`${rig.gw.url}${path}`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: '{"q":1}' });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as Record<string, any>) : {} };
}

const refused = (rig: Rig, error: RegExp) => () => rig.logs.lines().some((l) => l.msg === 'policy bundle refused; keeping the last good one' && error.test(String(l.error)));

test('HTTP bundle server down: last good policy keeps deciding, fetch failure audited as bundle.rejected; back with a new bundle: swapped', async () => {
  let current = revA;
  const serve = () =>
    createServer((req, res) => {
      const etag = `"${current.length}-${current.subarray(-16).toString('hex')}"`;
      if (req.headers['if-none-match'] === etag) return void res.writeHead(304).end();
      res.writeHead(200, { etag, 'content-type': 'application/gzip' }).end(current);
    });
  let server: Server = serve();
  const base = await listenOn(server);
  const url = `${base}/bundles/pci.tar.gz`;
  const rig = await startRig({ policy: signedPolicy(url), keepState: true });
  try {
    assert.is((await call(rig, '/v1/score')).status, 200);
    assert.is((await call(rig, '/v1/transactions')).status, 403);

    await close(server);
    await eventually('the fetch failure to be refused', refused(rig, /cannot fetch bundle from/));
    assert.is((await call(rig, '/v1/score')).status, 200, 'the last good policy still allows');
    assert.is((await call(rig, '/v1/transactions')).status, 403, 'the last good policy still denies');
    await eventually('the refusal to be audited', async () => (await auditEvents(rig.stateDir)).some((e) => e.type === 'bundle.rejected'));
    const rejected = (await auditEvents(rig.stateDir)).filter((e) => e.type === 'bundle.rejected');
    assert.is(rejected[0]!.source, url);
    assert.match(rejected[0]!.reason, /cannot fetch bundle from http:\/\/127\.0\.0\.1/);

    current = revB;
    server = serve();
    await new Promise<void>((resolve, reject) => server.once('error', reject).listen(Number(new URL(base).port), '127.0.0.1', resolve));
    const before = rig.upstream.seen.length;
    await eventually('rev-b to be in force', async () => (await call(rig, '/v1/transactions')).status === 200);
    assert.ok(rig.upstream.seen.length > before, 'the newly allowed request reached upstream');
    assert.ok(rig.logs.lines().some((l) => l.msg === 'policy bundle loaded'), 'the swap is logged');
    const types = (await auditEvents(rig.stateDir)).map((e) => e.type).filter((t) => t.startsWith('bundle.'));
    assert.is(types[0], 'bundle.loaded');
    assert.is(types.at(-1), 'bundle.loaded', 'the new bundle is audited as loaded');
    assert.ok(types.includes('bundle.rejected'));
  } finally {
    await rig.stop();
    await close(server);
    rmSync(rig.stateDir, { recursive: true, force: true });
  }
});

test('unsigned bundle under a configured public key: refused, audited, old decisions stand', async () => {
  const bundle = join(dir, 'live.tar.gz');
  const put = (bytes: Buffer) => {
    writeFileSync(`${bundle}.tmp`, bytes);
    renameSync(`${bundle}.tmp`, bundle);
  };
  put(revA);
  const rig = await startRig({ policy: signedPolicy(bundle), keepState: true });
  try {
    assert.is((await call(rig, '/v1/transactions')).status, 403);
    put(unsignedB);
    await eventually('the unsigned bundle to be refused', refused(rig, /signature/i));
    const denied = await call(rig, '/v1/transactions');
    assert.is(denied.status, 403, 'the unsigned bundle would allow this; the signed one in force denies');
    assert.is(denied.body.error, 'forbidden');
    assert.is((await call(rig, '/v1/score')).body.ok, true);
    await eventually('the refusal to be audited', async () => (await auditEvents(rig.stateDir)).some((e) => e.type === 'bundle.rejected'));
    const events = (await auditEvents(rig.stateDir)).filter((e) => e.type.startsWith('bundle.'));
    assert.equal(events.map((e) => e.type), ['bundle.loaded', 'bundle.rejected']);
    assert.is(events[1]!.source, bundle);
    assert.match(events[1]!.reason, /signature/i);
  } finally {
    await rig.stop();
    rmSync(rig.stateDir, { recursive: true, force: true });
  }
});

test('signed policy failing at evaluation: 503 policy_error, nothing forwarded, decision recorded as error', async () => {
  const bundle = join(dir, 'broken.tar.gz');
  writeFileSync(bundle, broken);
  const rig = await startRig({ policy: signedPolicy(bundle), keepState: true });
  try {
    for (const path of ['/v1/chat/completions', '/v1/models/load']) {
      const res = await call(rig, path);
      assert.is(res.status, 503, path);
      assert.is(res.body.error, 'policy_error', path);
      assert.match(res.body.message, /could not decide/);
      assert.type(res.body.request_id, 'string');
      assert.equal(rig.upstream.seen, [], `${path}: nothing reaches upstream`);
      const records = await exchangeRecords(rig.stateDir, res.body.request_id);
      const decision = records.find((e) => e.type === 'request.decision')!;
      assert.is(decision.decision.effect, 'error', path);
      assert.ok(decision.decision.policy_revision, 'the record names the policy that failed');
    }
    const ok = await call(rig, '/v1/score');
    assert.is(ok.status, 200, 'the same policy still decides where it can');
    assert.is(rig.upstream.seen.length, 1);
  } finally {
    await rig.stop();
    rmSync(rig.stateDir, { recursive: true, force: true });
  }
});

test.run();
