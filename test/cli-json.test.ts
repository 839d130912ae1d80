/**
 * `--json` on every command that reports, run as the real CLI: one document on stdout,
 * `{"ok": true, ...}` on success and `{"ok": false, "code", "message", "exit_code", ...verdict}` on a
 * failure (with the verdict of a check that ran), nothing else on stdout, progress and logs on stderr.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { allCommands, cliPath, runCli, type CliResult } from './helpers/cli.js';
import { startPostgres } from './helpers/postgres.js';
import { fixture, writeLog, type Fixture } from './audit/helpers.js';
import { clientCall, pendingHoldId, startIdp, startStack } from './hold/helpers.js';
import { DEFAULT_BUNDLE } from '../src/policy/index.js';

/** The one JSON document a `--json` run printed (throws, naming the output, when stdout is not exactly one). */
function doc(r: CliResult): Record<string, any> {
  const lines = r.stdout.split('\n').filter((l) => l !== '');
  assert.is(lines.length, 1, `one line of JSON on stdout, got: ${r.stdout}\nstderr: ${r.stderr}`);
  return JSON.parse(lines[0]!) as Record<string, any>;
}

function ok(r: CliResult): Record<string, any> {
  assert.is(r.code, 0, r.stderr);
  const d = doc(r);
  assert.is(d.ok, true);
  return d;
}

let f: Fixture;
test.before(async () => {
  f = await fixture();
  await writeLog(f, 25, 10);
});
test.after(() => f.cleanup());

test('audit verify --json: the summary when intact; on a fault the verdict too (fault kind, where, how far it checked), exit 1', async () => {
  const good = ok(await runCli(['audit', 'verify', '--dir', f.dir, '--key', f.pub, '--json']));
  // 25 records written, and the log's own records (opened, sealed).
  assert.is(good.records, 27);
  assert.equal(good.segments, { first: 0, last: 2 });
  const out = join(f.state, 'tampered');
  ok(await runCli(['audit', 'export', '--dir', f.dir, '--key', f.pub, '--out', out, '--json']));
  const seg1 = join(out, 'segment-000001.jsonl');
  const lines = readFileSync(seg1, 'utf8').split('\n');
  lines.splice(3, 1);
  writeFileSync(seg1, lines.join('\n'));
  const r = await runCli(['audit', 'verify', out, '--key', f.pub, '--json']);
  assert.is(r.code, 1);
  const bad = doc(r);
  assert.equal([bad.ok, bad.code, bad.exit_code], [false, 'ERR_VERIFICATION_FAILED', 1]);
  assert.match(bad.message, /^audit log is NOT intact: record 13 was deleted/);
  assert.is(bad.fault.kind, 'deleted');
  assert.is(bad.fault.message, bad.message.replace('audit log is NOT intact: ', ''));
  assert.is(bad.records, 13, 'records 0..12 checked out before the fault');
  assert.match(r.stderr, /^regate: audit log is NOT intact: record 13 was deleted/);
});

test('audit export --json: where, which segments and records, and whether the export was recorded in the log', async () => {
  const range = ok(await runCli(['audit', 'export', '--dir', f.dir, '--key', f.pub, '--out', join(f.state, 'range'), '--from', '12', '--to', '14', '--json']));
  assert.equal(range, { ok: true, out: join(f.state, 'range'), segments: [1], first_record: 10, records: 10, recorded_as: null });
  const g = await fixture();
  try {
    await writeLog(g, 3, 10);
    const rec = ok(await runCli(['audit', 'export', '--state', g.state, '--out', join(g.state, 'e'), '--json']));
    assert.equal([rec.segments, rec.records, rec.recorded_as], [[0], 3, 3]);
  } finally {
    g.cleanup();
  }
  const none = await runCli(['audit', 'export', '--dir', f.dir, '--key', f.pub, '--out', join(f.state, 'none'), '--from', '500', '--json']);
  assert.is(none.code, 2);
  assert.equal([doc(none).ok, doc(none).code], [false, 'ERR_USAGE']);
});

test('audit prove / verify-proof --json: inclusion and consistency proofs, written or printed, and their verdicts', async () => {
  const printed = ok(await runCli(['audit', 'prove', '--dir', f.dir, '--key', f.pub, '--seq', '13', '--json']));
  assert.is(printed.kind, 'inclusion');
  assert.is(printed.proof.v, 2);
  const proofFile = join(f.state, 'p13.json');
  assert.equal(ok(await runCli(['audit', 'prove', '--dir', f.dir, '--key', f.pub, '--seq', '13', '--out', proofFile, '--json'])), { ok: true, kind: 'inclusion', out: proofFile });
  assert.equal(JSON.parse(readFileSync(proofFile, 'utf8')), printed.proof, 'the file holds the proof printed');
  const inc = ok(await runCli(['audit', 'verify-proof', proofFile, '--key', f.pub, '--json']));
  assert.equal({ ...inc, ts: typeof inc.ts }, { ok: true, kind: 'inclusion', seq: 13, type: 'request.outcome', ts: 'string', tree_size: 20, checkpoint_kept: false });

  const cons = ok(await runCli(['audit', 'prove', '--dir', f.dir, '--key', f.pub, '--consistency', '10', '20', '--json']));
  assert.is(cons.kind, 'consistency');
  const consFile = join(f.state, 'c.json');
  writeFileSync(consFile, JSON.stringify(cons.proof));
  const cv = ok(await runCli(['audit', 'verify-proof', consFile, '--key', f.pub, '--json']));
  assert.equal({ ...cv, origin: typeof cv.origin }, { ok: true, kind: 'consistency', origin: 'string', old_size: 10, new_size: 20 });

  const altered = { ...printed.proof, record: String(printed.proof.record).replace('"status":200', '"status":201') };
  const r = await runCli(['audit', 'verify-proof', '-', '--key', f.pub, '--json'], { input: JSON.stringify(altered) });
  assert.is(r.code, 1);
  assert.equal([doc(r).ok, doc(r).code], [false, 'ERR_VERIFICATION_FAILED']);
  assert.match(doc(r).message, 'record 13 is not included');
});

test('audit replay --json: every record of the request, in order; audit key --json: origin and verifier keys', async () => {
  const replay = ok(await runCli(['audit', 'replay', 'r3', '--dir', f.dir, '--json']));
  assert.is(replay.request_id, 'r3');
  assert.equal(replay.records.map((r: { seq: number; event: { type: string } }) => [r.seq, r.event.type]), [[6, 'request.decision'], [7, 'request.outcome']]);
  const missing = await runCli(['audit', 'replay', 'nope', '--dir', f.dir, '--json']);
  assert.is(missing.code, 2);
  assert.match(doc(missing).message, 'no record of request nope');
  const key = ok(await runCli(['audit', 'key', '--state', f.state, '--json']));
  assert.type(key.origin, 'string');
  assert.is(key.verifier_keys.length, 1);
  assert.ok(key.verifier_keys[0].startsWith(`${key.origin}+`), key.verifier_keys[0]);
});

test('token --json: the token and what it says (subject, groups, audience, expiry), matching its payload', async () => {
  const before = Date.now();
  const t = ok(await runCli(['token', '--sub', 'alice', '--groups', 'fraud-analysts,auditors', '--ttl', '2m', '--state', f.state, '--json']));
  const payload = JSON.parse(Buffer.from(String(t.token).split('.')[1]!, 'base64url').toString('utf8')) as { sub: string; groups: string[]; exp: number };
  assert.equal([t.sub, t.groups, payload.sub, payload.groups], ['alice', ['fraud-analysts', 'auditors'], 'alice', ['fraud-analysts', 'auditors']]);
  assert.is(Date.parse(t.expires_at) / 1000, payload.exp);
  assert.ok(payload.exp * 1000 >= before + 119_000 && payload.exp * 1000 <= Date.now() + 121_000, 'expires two minutes from now');
  const bad = await runCli(['token', '--sub', 'alice', '--ttl', 'soon', '--state', f.state, '--json']);
  assert.is(bad.code, 2);
  assert.match(doc(bad).message, '--ttl must be a positive duration');
});

test('policy eval --json: the decision and the revision that made it', async () => {
  const input = JSON.parse(readFileSync(new URL('../../rego/examples/score.json', import.meta.url), 'utf8'));
  const plain = await runCli(['policy', 'eval', '--bundle', DEFAULT_BUNDLE, '--input', '-'], { input: JSON.stringify(input) });
  const r = ok(await runCli(['policy', 'eval', '--bundle', DEFAULT_BUNDLE, '--input', '-', '--json'], { input: JSON.stringify(input) }));
  assert.equal(r.decision, JSON.parse(plain.stdout));
  assert.type(r.revision, 'string');
});

test('holds list/show/approve/deny --json: {ok, holds} and {ok, hold}; a refusal is {ok: false, code ERR_ADMIN_API}', async () => {
  const idp = await startIdp();
  const stack = await startStack({ idp, waitSeconds: 60 });
  try {
    const alice = await idp.token('alice', ['fraud-analysts']);
    const bob = await idp.token('bob', ['pci-approvers']);
    const holds = (args: string[], token: string) => runCli(['holds', ...args, '--admin', stack.adminUrl, '--json'], { env: { REGATE_TOKEN: token } });
    const waiting = clientCall(stack, alice);
    const id = await pendingHoldId(stack, bob);
    const list = ok(await holds(['list'], bob));
    assert.equal(list.holds.map((h: { id: string; state: string }) => [h.id, h.state]), [[id, 'pending']]);
    const show = ok(await holds(['show', id], bob));
    assert.equal([show.hold.id, show.hold.requester.sub], [id, 'alice']);
    const self = await holds(['approve', id], alice);
    assert.is(self.code, 1);
    assert.equal([doc(self).ok, doc(self).code], [false, 'ERR_ADMIN_API']);
    assert.match(doc(self).message, /refused \(HTTP 403\): alice requested hold/);
    const approved = ok(await holds(['approve', id, '--comment', 'FR-12'], bob));
    assert.equal([approved.hold.state, approved.hold.approvals[0].comment], ['approved', 'FR-12']);
    assert.is((await waiting).status, 200);
    const again = await holds(['deny', id, '--reason', 'too late'], bob);
    assert.is(again.code, 1);
    assert.is(doc(again).code, 'ERR_ADMIN_API');
    assert.equal(ok(await holds(['list'], bob)).holds, []);
  } finally {
    await stack.close(true);
    await idp.close();
  }
});

test('witness key --json, and witness serve --json prints where it listens on stdout once it does', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'regate-witness-'));
  try {
    const k = ok(await runCli(['witness', 'key', '--dir', dir, '--name', 'witness.example/w1', '--json']));
    assert.equal([k.name, k.verifier_key.split('+')[0]], ['witness.example/w1', 'witness.example/w1']);
    const logKey = ok(await runCli(['audit', 'key', '--state', f.state, '--json'])).verifier_keys[0] as string;
    await whileServing(['witness', 'serve', '--dir', dir, '--name', 'witness.example/w1', '--log', logKey, '--json'], async (ready) => {
      assert.equal([ready.ok, ready.name, ready.verifier_key], [true, 'witness.example/w1', k.verifier_key]);
      assert.match(ready.url, /^http:\/\/127\.0\.0\.1:\d+/);
      const res = await fetch(`${ready.url}/add-checkpoint`, { method: 'POST', body: 'not a checkpoint' });
      assert.ok(res.status >= 400 && res.status < 500, `the witness answers (HTTP ${res.status})`);
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** A gateway config file in `dir` (its state in dir/state): unsigned committed bundle, nothing listening upstream, plus `extra`. */
function gatewayConfig(dir: string, extra: Record<string, unknown>): string {
  const config = join(dir, 'regate.yaml');
  writeFileSync(config, stringify({
    listen: { port: 0 },
    admin: { port: 0 },
    state_dir: join(dir, 'state'),
    upstreams: { models: { url: 'http://127.0.0.1:9/' } },
    routes: [{ name: 'fraud-model', path_prefix: '/v1', upstream: 'models' }],
    identity: { issuer: 'http://127.0.0.1:9', audience: 'regate-test', jwks_url: 'http://127.0.0.1:9/jwks.json' },
    policy: { bundle: DEFAULT_BUNDLE, allow_unsigned: true, poll_seconds: 0 },
    ...extra,
  }));
  return config;
}

/**
 * Starts a serving command with --json, hands its ready document (the first stdout line) to `fn`,
 * then stops it with SIGTERM and waits for it to exit, also when `fn` fails.
 */
async function whileServing(args: string[], fn: (ready: Record<string, any>) => Promise<void>): Promise<string> {
  const child = spawn(process.execPath, [cliPath, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
  const exited = new Promise((r) => child.once('exit', r));
  try {
    const ready = await new Promise<Record<string, any>>((resolve, reject) => {
      child.stdout.setEncoding('utf8').on('data', (d: string) => {
        out += d;
        if (out.includes('\n')) resolve(JSON.parse(out.slice(0, out.indexOf('\n'))) as Record<string, any>);
      });
      child.once('exit', (code) => reject(new Error(`${args.join(' ')} exited ${code}: ${err}`)));
    });
    await fn(ready);
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
  }
  return out;
}

test('serve --json and demo --json print where they listen as one JSON document on stdout once they do (logs stay on stderr)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'regate-serve-json-'));
  try {
    const config = gatewayConfig(dir, { logging: { level: 'info' } });
    const served = await whileServing(['serve', '--config', config, '--json'], async (ready) => {
      assert.equal([ready.ok, ready.workers], [true, 1]);
      assert.is((await fetch(`${ready.admin_url}/healthz`)).status, 200);
      assert.is((await fetch(`${ready.url}/v1/x`)).status, 401, 'the gateway itself answers (no token)');
    });
    assert.is(served.split('\n').filter((l) => l !== '').length, 1, `only the ready document on stdout: ${served}`);
    const demo = await whileServing(['demo', '--port', '0', '--admin-port', '0', '--upstream-port', '0', '--state', join(dir, 'demo'), '--json'], async (ready) => {
      assert.equal([ready.ok, ready.state], [true, join(dir, 'demo')]);
      assert.is((await fetch(`${ready.admin_url}/healthz`)).status, 200);
      assert.match(ready.upstream_url, /^http:\/\/127\.0\.0\.1:\d+/);
    });
    assert.is(demo.split('\n').filter((l) => l !== '').length, 1, `only the ready document on stdout: ${demo}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('cluster migrate / status --json against a real PostgreSQL; status of a store that is down is {ok: false} with the status, exit 1', async () => {
  const pg = await startPostgres();
  const dir = mkdtempSync(join(tmpdir(), 'regate-cluster-json-'));
  try {
    const config = gatewayConfig(dir, { cluster: { postgres: { url: pg.url, password_file: pg.passwordFile, timeout_ms: 1000 }, node_id: 'n1' } });
    const first = ok(await runCli(['cluster', 'migrate', '--config', config, '--json']));
    assert.is(first.from, 0);
    assert.ok(first.applied.length >= 1 && first.applied[0].version === 1, JSON.stringify(first));
    assert.is(first.to, first.applied[first.applied.length - 1].version);
    assert.equal(ok(await runCli(['cluster', 'migrate', '--config', config, '--json'])), { ok: true, from: first.to, to: first.to, applied: [] });
    const up = ok(await runCli(['cluster', 'status', '--config', config, '--json']));
    assert.is(up.store.reachable, true);
    assert.equal(up.nodes, []);
    // The archive is empty: verify and export of it fail, as one JSON document each.
    const verify = await runCli(['audit', 'verify', '--cluster', config, '--key', f.pub, '--json']);
    assert.equal([verify.code, doc(verify).ok, doc(verify).code], [1, false, 'ERR_VERIFICATION_FAILED']);
    assert.match(doc(verify).message, "the cluster store's archive holds no audit log");
    const exported = await runCli(['audit', 'export', '--cluster', config, '--node', 'n9', '--out', join(dir, 'out'), '--json']);
    assert.equal([exported.code, doc(exported).code], [2, 'ERR_USAGE']);
    assert.match(doc(exported).message, 'the archive holds no log of node or origin "n9"');
    await pg.halt();
    const down = await runCli(['cluster', 'status', '--config', config, '--json']);
    assert.is(down.code, 1);
    const d = doc(down);
    assert.equal([d.ok, d.code, d.exit_code, d.store.reachable], [false, 'ERR_VERIFICATION_FAILED', 1, false]);
    assert.match(d.message, /^the cluster store is unreachable: /);
  } finally {
    await pg.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('no command defines its own --json: the help of every command shows the one shared option, once', async () => {
  const commands = await allCommands();
  const helps = await Promise.all(commands.map((c) => runCli([...c.split(' '), '--help'])));
  helps.forEach((h, i) => assert.is(h.stdout.match(/--json\s+Print the result, or the failure, as one JSON document on stdout/g)?.length, 1, `${commands[i]} --help`));
});

test.run();
