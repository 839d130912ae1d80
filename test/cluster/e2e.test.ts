/**
 * The real thing (issue 16, point 6): a throwaway PostgreSQL 15, three `regate serve` nodes on
 * loopback joined to it (n2 with `--workers 2`: two serving processes, each with its own view and
 * usage counts), HAProxy round-robin in front, curl as the client. One scenario, in order:
 *   migrate and status through the CLI; alice's bulk request held through the balancer, approved
 *   through another node's admin API, her unchanged curl answered 200; the bulk-rate rule holding
 *   a caller whose requests the balancer spreads over the three nodes; a node killed with -9 while
 *   a client waits on it, the hold approved elsewhere and the client's retry replayed once;
 *   PostgreSQL restarted mid-traffic: allowed requests keep flowing, a would-be hold is refused 503;
 *   the nodes' audit logs verified from the archive (`audit verify --cluster`), green, then red
 *   after one byte of one node's archived records changed; a node's log exported from the archive.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { stringify } from 'yaml';
import { statePublicKeyFiles } from '../../src/audit/index.js';
import { openPool } from '../../src/cluster-store/index.js';
import { DEFAULT_BUNDLE, signBundle } from '../../src/policy/index.js';
import { auditRecords } from '../helpers/audit-records.js';
import { cliPath, runCli, whenReady } from '../helpers/cli.js';
import { startHaproxy, type TestHaproxy } from '../helpers/haproxy.js';
import { startPostgres, type TestPostgres } from '../helpers/postgres.js';
import { startIdp, UpstreamDouble, type IdpDouble } from '../gateway/harness.js';

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'regate-cluster-e2e-'));
/** Usage counts flush and read back every 50 ms: the bulk-rate slack below follows from it. */
const USAGE_SYNC_MS = 50;

interface Node { id: string; config: string; child: ChildProcess; url: string; adminUrl: string; log: () => string }

let pg: TestPostgres;
let idp: IdpDouble;
let upstream: UpstreamDouble;
let lb: TestHaproxy;
const nodes: Node[] = [];

function configFor(id: string): string {
  const file = join(dir, `${id}.yaml`);
  writeFileSync(file, stringify({
    listen: { port: 0 },
    admin: { port: 0 },
    state_dir: join(dir, id),
    upstreams: { models: { url: upstream.url } },
    routes: [{ name: 'fraud-model', path_prefix: '/v1', upstream: 'models' }],
    identity: { issuer: idp.issuer, audience: 'regate-test', jwks_url: `${idp.url}/jwks.json` },
    policy: { bundle: 'pci.tar.gz', public_key_file: 'bundle.pub.pem', poll_seconds: 0 },
    holds: { wait_seconds: 30 },
    limits: { requests_per_second: 1000, burst: 1000 },
    logging: { level: 'warn', requests: false },
    cluster: { postgres: { url: pg.url, password_file: pg.passwordFile, timeout_ms: 1000 }, node_id: id, heartbeat_seconds: 1, usage_sync_ms: USAGE_SYNC_MS },
  }));
  return file;
}

async function startNode(id: string, args: string[] = []): Promise<Node> {
  const config = configFor(id);
  const child = spawn(process.execPath, [cliPath, 'serve', '--config', config, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  child.stderr!.on('data', (d: Buffer) => (log += d.toString()));
  child.stdout!.on('data', (d: Buffer) => (log += d.toString()));
  const { url, adminUrl } = await whenReady(child);
  return { id, config, child, url, adminUrl, log: () => log };
}

async function stopNode(n: Node): Promise<void> {
  if (n.child.exitCode !== null || n.child.signalCode !== null) return;
  const exited = new Promise((r) => n.child.once('exit', r));
  n.child.kill('SIGTERM');
  await exited;
}

/** curl, as a client would run it: status code and body. */
async function curl(url: string, token: string, extra: string[] = []): Promise<{ status: number; body: any }> {
  const { stdout } = await run('curl', ['-s', '-m', '60', '-w', '\n%{http_code}', '-H', `Authorization: Bearer ${token}`, ...extra, url]);
  const cut = stdout.lastIndexOf('\n');
  const text = stdout.slice(0, cut);
  const status = Number(stdout.slice(cut + 1));
  try {
    return { status, body: text ? JSON.parse(text) : null };
  } catch {
    throw new Error(`${url}: HTTP ${status} with a body that is not JSON: ${text.slice(0, 200)}`);
  }
}

async function admin(n: Node, token: string, method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(n.adminUrl + path, {
    method, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() };
}

async function pendingFor(n: Node, approver: string, sub: string): Promise<string> {
  for (let i = 0; i < 300; i++) {
    const r = await admin(n, approver, 'GET', '/api/holds?state=pending');
    const hold = (r.body.holds as { id: string; requester: { sub: string } }[]).find((h) => h.requester.sub === sub);
    if (hold) return hold.id;
    await new Promise((res) => setTimeout(res, 20));
  }
  throw new Error(`no pending hold of ${sub} seen on ${n.id}`);
}

test.before(async () => {
  pg = await startPostgres();
  idp = await startIdp();
  upstream = await new UpstreamDouble().start();
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  writeFileSync(join(dir, 'bundle.pub.pem'), publicKey.export({ type: 'spki', format: 'pem' }));
  writeFileSync(join(dir, 'pci.tar.gz'), await signBundle(readFileSync(DEFAULT_BUNDLE), { privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() }));
});

test.after(async () => {
  await lb?.stop();
  for (const n of nodes) await stopNode(n);
  await upstream.stop();
  await idp.stop();
  await pg.stop();
  rmSync(dir, { recursive: true, force: true });
});

test('three nodes on PostgreSQL behind HAProxy: holds, approvals, usage and failures cluster-wide', async () => {
  // -- schema: a node refuses an unmigrated store; `regate cluster migrate` is idempotent.
  const unmigrated = await runCli(['serve', '--config', configFor('n1')]);
  assert.is(unmigrated.code, 1);
  assert.match(unmigrated.stderr, /regate cluster migrate/);
  const migrated = await runCli(['cluster', 'migrate', '--config', configFor('n1')]);
  assert.is(migrated.code, 0, migrated.stderr);
  assert.match(migrated.stdout, /applied migration 1: .*\napplied migration 2: .*\napplied migration 3: .*\napplied migration 4/);
  assert.match((await runCli(['cluster', 'migrate', '--config', configFor('n1')])).stdout, /nothing to do/);

  // n2 runs two worker processes (`--workers 2`): each with its own view and usage counts.
  for (const id of ['n1', 'n2', 'n3']) nodes.push(await startNode(id, id === 'n2' ? ['--workers', '2'] : []));
  lb = await startHaproxy(nodes.map((n) => n.url));
  const [n1, n2, n3] = nodes as [Node, Node, Node];
  const alice = await idp.token({ sub: 'alice', groups: ['fraud-analysts'] });
  const bob = await idp.token({ sub: 'bob', groups: ['pci-approvers'] });

  // -- alice's bulk request, held through the balancer, approved on whichever node she is not on.
  const bulk = `${lb.url}/v1/transactions?limit=5000`;
  const waiting = curl(bulk, alice);
  const holdId = await pendingFor(n1, bob, 'alice');
  const holdNode = (await admin(n1, bob, 'GET', `/api/holds/${holdId}`)).body;
  assert.is(holdNode.state, 'pending');
  for (const n of nodes) assert.ok((await admin(n, bob, 'GET', `/api/holds/${holdId}`)).status === 200, `${n.id} sees the hold`);
  const approved = await admin(n2, bob, 'POST', `/api/holds/${holdId}/approve`, { comment: 'case 4711' });
  assert.is(approved.status, 200, JSON.stringify(approved.body));
  const answer = await waiting;
  assert.is(answer.status, 200, JSON.stringify(answer.body));
  assert.equal(answer.body, { ok: true, path: '/v1/transactions' });
  const used = (await admin(n3, bob, 'GET', `/api/holds/${holdId}`)).body;
  assert.is(used.delivered, true, 'the approval bought one use, which the waiting client took: no replay is owed');

  // -- the bulk-rate rule (over 60 requests a minute) holds dave although the balancer spreads
  // his requests over three nodes (each saw about 20). Requests are paced wider than the
  // staleness bound (2 × 50 ms + two statements), so the documented slack (rate × window) is
  // under one request while statements take under 75 ms; two are allowed for a loaded CI machine.
  const dave = await idp.token({ sub: 'dave', groups: ['fraud-analysts'] });
  let heldAt = 0;
  for (let i = 1; i <= 70 && heldAt === 0; i++) {
    const r = await Promise.race([
      curl(`${lb.url}/v1/transactions?limit=10`, dave),
      new Promise<null>((res) => setTimeout(() => res(null), 1500)),
    ]);
    if (r === null) heldAt = i;
    else assert.is(r.status, 200, `request ${i}: ${JSON.stringify(r.body)}`);
    await new Promise((res) => setTimeout(res, 250));
  }
  assert.ok(heldAt >= 61 && heldAt <= 63, `dave held at request ${heldAt}; expected the 61st (threshold 60) plus at most 2`);
  // n2's two workers each counted as a unit of their own (its primary serves no requests).
  const counted = openPool({ url: pg.url, password_file: pg.passwordFile });
  const units = (await counted.query<{ node: string }>('SELECT DISTINCT node FROM regate_usage ORDER BY node')).rows.map((r) => r.node);
  await counted.end();
  assert.equal(units, ['n1', 'n2/w1', 'n2/w2', 'n3']);
  const daveHold = await pendingFor(n3, bob, 'dave');
  assert.match((await admin(n3, bob, 'GET', `/api/holds/${daveHold}`)).body.spec.reason, /requests in the last minute exceed the threshold of 60/);
  assert.is((await admin(n3, bob, 'POST', `/api/holds/${daveHold}/deny`, { reason: 'rate' })).status, 200);

  // -- kill -9 the node a client waits on: the hold stays approvable elsewhere, the retry is replayed.
  const erin = await idp.token({ sub: 'erin', groups: ['fraud-analysts'] });
  const erinBulk = '/v1/transactions?limit=7000';
  const lost = curl(n3.url + erinBulk, erin).catch((err: Error) => ({ status: 0, body: err.message }));
  const erinHold = await pendingFor(n1, bob, 'erin');
  n3.child.kill('SIGKILL');
  assert.is((await lost).status, 0, 'the client on the killed node lost its connection');
  assert.is((await admin(n1, bob, 'POST', `/api/holds/${erinHold}/approve`, {})).status, 200);
  const retried = await curl(lb.url + erinBulk, erin);
  assert.is(retried.status, 200, JSON.stringify(retried.body));
  const replayed = (await admin(n2, bob, 'GET', `/api/holds/${erinHold}`)).body;
  assert.ok(replayed.replayed_at_ms > 0, 'the retry used the one replay');

  // -- cluster status names the dead node.
  await new Promise((res) => setTimeout(res, 3200));
  const status = await runCli(['cluster', 'status', '--config', n1.config, '--json']);
  assert.is(status.code, 0, status.stderr);
  const st = JSON.parse(status.stdout) as { store: { reachable: boolean }; nodes: { node_id: string; alive: boolean }[] };
  assert.ok(st.store.reachable);
  assert.equal(st.nodes.map((n) => [n.node_id, n.alive]), [['n1', true], ['n2', true], ['n3', false]]);

  // -- PostgreSQL restarted mid-traffic: allowed requests flow, a would-be hold is refused 503.
  const sam = await idp.token({ sub: 'sam', groups: ['support-agents'] });
  let stop = false;
  const statuses: number[] = [];
  const traffic = (async () => {
    while (!stop) {
      // A failed exchange counts as status 0 (and fails the check below) instead of ending the test run.
      statuses.push(await curl(`${lb.url}/v1/chat/completions`, sam, ['-H', 'content-type: application/json', '-d', '{"messages":[]}']).then((r) => r.status, () => 0));
    }
  })();
  await new Promise((res) => setTimeout(res, 300));
  await pg.halt();
  const refused = await curl(`${lb.url}/v1/transactions?limit=9000`, alice);
  assert.is(refused.status, 503);
  assert.is(refused.body.error, 'cluster_store_unavailable');
  const refusedId = refused.body.request_id as string;
  await new Promise((res) => setTimeout(res, 500));
  await pg.start();
  await new Promise((res) => setTimeout(res, 1500));
  stop = true;
  await traffic;
  assert.ok(statuses.length > 5, `only ${statuses.length} requests ran`);
  assert.equal([...new Set(statuses)], [200], 'every allowed request succeeded through the restart');
  // Holds work again once the store is back.
  const after = curl(`${lb.url}/v1/transactions?limit=9001`, alice);
  const afterHold = await pendingFor(n2, bob, 'alice');
  assert.is((await admin(n1, bob, 'POST', `/api/holds/${afterHold}/deny`, { reason: 'no' })).status, 200);
  assert.is((await after).status, 403);
  assert.match(n1.log() + n2.log(), /the policy sees this node's counts only/, n1.log());

  // -- audit: stopping n1 and n2 seals their logs, and each node's archiver stores its segments
  // and checkpoints in the store (which takes each only as a consistent, signed extension).
  await stopNode(n1);
  await stopNode(n2);
  // The refused hold is recorded as what the gateway enforced, an error, never as a hold nobody holds.
  const refusedDecision = (await Promise.all(nodes.map((n) => auditRecords(join(dir, n.id, 'audit')))))
    .flat().map((r) => r.event as Record<string, any>).find((e) => e.type === 'request.decision' && e.request_id === refusedId);
  assert.is(refusedDecision?.decision.effect, 'error', JSON.stringify(refusedDecision));
  assert.match(refusedDecision!.decision.reason, /but the hold was refused: The cluster store cannot be reached/);
  const keys = nodes.flatMap((n) => statePublicKeyFiles(join(dir, n.id)).flatMap((f) => ['--key', f]));
  const green = await runCli(['audit', 'verify', '--cluster', n1.config, ...keys]);
  assert.is(green.code, 0, green.stderr + green.stdout);
  assert.match(green.stdout, /^n1 {2}\S+ {2}intact: \d+ records in \d+ segments$/m);
  assert.match(green.stdout, /^n2 {2}\S+ {2}intact: /m);
  // A node that is gone is exported from the archive and verified like any export.
  const out = join(dir, 'n2-export');
  const exported = await runCli(['audit', 'export', '--cluster', n1.config, '--node', 'n2', '--out', out]);
  assert.is(exported.code, 0, exported.stderr);
  assert.is((await runCli(['audit', 'verify', out, ...keys])).code, 0);
  // One changed byte in n2's archived records: red, naming n2 only.
  const pool = openPool({ url: pg.url, password_file: pg.passwordFile });
  const changed = await pool.query(`UPDATE regate_audit_segments SET body = overlay(body placing '9' from 40 for 1) WHERE node = 'n2' AND segment = (SELECT min(segment) FROM regate_audit_segments WHERE node = 'n2')`);
  await pool.end();
  assert.is(changed.rowCount, 1);
  const red = await runCli(['audit', 'verify', '--cluster', n1.config, ...keys]);
  assert.is(red.code, 1, red.stdout);
  assert.match(red.stdout, /^n1 {2}\S+ {2}intact/m);
  assert.match(red.stdout, /^n2 {2}\S+ {2}NOT intact: /m);
  assert.match(red.stderr, /archived audit log of n2 is NOT intact/);
});

test.run();
