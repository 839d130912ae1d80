/**
 * The audit readers over the cluster store's archive, against a real PostgreSQL, through the real
 * CLI: `audit verify --cluster` streams each node's log through the PostgreSQL `AuditArchive`
 * (nothing written to a temporary folder; per-node verdicts), red for the node whose archive lost
 * a segment in the middle or its newest ones; and `--config` on a cluster node reads its pruned
 * log from the cluster store (live + archive as one), with a precise error when the store cannot
 * be read or does not hold this log.
 */
import { createPublicKey } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { FolderArchive, type AuditLog } from '../../src/audit/index.js';
import { openPool, PostgresArchive } from '../../src/cluster-store/index.js';
import { fixture, openLog, writeArchived, type Fixture } from '../audit/helpers.js';
import { runCli } from '../helpers/cli.js';
import { freePort, startMigratedPostgres, type TestPostgres } from '../helpers/postgres.js';
import { writeConfig } from '../helpers/serve.js';

let server: TestPostgres;
let pool: ReturnType<typeof openPool>;
const nodes: Array<{ id: string; f: Fixture; origin: string; pruned: number }> = [];

/** Writes `segments` sealed segments of 10 records to a node's log, archived to the store and pruned from the live one. */
async function archivedNode(id: string, segments: number): Promise<void> {
  const f = await fixture();
  const log: AuditLog = await openLog(f, { segmentRecords: 1000, origin: `audit.test/${id}` });
  const archive = new PostgresArchive(pool, { origin: log.origin, node: id, keys: [{ kid: f.key.keyId, key: createPublicKey(f.key.privateKey) }], target: 'test' });
  const { pruned, error } = await writeArchived(log, archive, segments);
  assert.is(error, null);
  nodes.push({ id, f, origin: log.origin, pruned });
}

const keys = () => nodes.flatMap((n) => ['--key', n.f.pub]);
const cluster = () => ['--cluster', server.url, '--password-file', server.passwordFile];

function nodeConfig(n: (typeof nodes)[number], postgres: Record<string, unknown>): string {
  return writeConfig(n.f.state, {
    state_dir: '.',
    upstreams: { models: { url: 'http://127.0.0.1:9' } },
    routes: [{ name: 'models', path_prefix: '/v1/models', upstream: 'models' }],
    identity: { issuer: 'https://idp.example', audience: 'regate', jwks_url: 'https://idp.example/jwks.json' },
    policy: { bundle: 'pci.tar.gz', public_key_file: 'bundle.pub.pem' },
    audit: { retain_live: { seconds: 0 } },
    cluster: { node_id: n.id, postgres },
  });
}

test.before(async () => {
  const started = await startMigratedPostgres();
  server = started.server;
  pool = openPool(started.opts);
  await archivedNode('n1', 4);
  await archivedNode('n2', 6);
});
test.after(async () => {
  await pool.end();
  await server.stop();
  for (const n of nodes) n.f.cleanup();
});

test('verify --cluster streams each node\'s log from the store: per-node verdicts, nothing written to the temp folder', async () => {
  const tmp = mkdtempSync(join(tmpdir(), 'regate-verify-tmp-'));
  try {
    const r = await runCli(['audit', 'verify', ...cluster(), ...keys(), '--json'], { env: { TMPDIR: tmp } });
    assert.is(r.code, 0, r.stdout + r.stderr);
    const verdicts = (JSON.parse(r.stdout) as { nodes: Array<{ node: string; ok: boolean; records: number; segments: number }> }).nodes;
    assert.equal(verdicts.map((v) => [v.node, v.ok, v.records, v.segments]), [['n1', true, 40, 4], ['n2', true, 60, 6]]);
    assert.equal(readdirSync(tmp), [], 'no temporary export folder');
    const text = await runCli(['audit', 'verify', ...cluster(), ...keys()]);
    assert.match(text.stdout, /^n1 {2}audit\.test\/n1 {2}intact: 40 records in 4 segments$/m);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});

test('verify --cluster is red for the node whose archive lost a middle segment, or its newest one, and names it', async () => {
  // A segment is taken out of n2's archive by moving it to another log's name, and put back so.
  const move = (seg: number, from: string, to: string) => pool.query('UPDATE regate_audit_segments SET origin = $1 WHERE origin = $2 AND segment = $3', [to, from, seg]);
  for (const [seg, why] of [[2, /segment 2 is missing/], [5, /its archived segments end at tree size 50, but the store witnessed a checkpoint of tree size 60: the segments after tree size 50 were deleted/]] as const) {
    assert.is((await move(seg, 'audit.test/n2', 'aside/n2')).rowCount, 1);
    try {
      const r = await runCli(['audit', 'verify', ...cluster(), ...keys()]);
      assert.is(r.code, 1, r.stdout + r.stderr);
      assert.match(r.stdout, /^n1 {2}\S+ {2}intact/m);
      assert.match(r.stdout, new RegExp(`^n2 {2}\\S+ {2}NOT intact: .*${why.source}`, 'm'));
      assert.match(r.stderr, /the archived audit log of n2 is NOT intact/);
    } finally {
      await move(seg, 'aside/n2', 'audit.test/n2');
    }
  }
  assert.is((await runCli(['audit', 'verify', ...cluster(), ...keys()])).code, 0, 'green again with the segments back');
});

test('--config on a cluster node reads its pruned log from the cluster store: replay, tail and verify as one log', async () => {
  const n = nodes[1]!;
  assert.ok(n.pruned >= 3, `n2 was pruned through ${n.pruned}`);
  const config = nodeConfig(n, { url: server.url, password_file: server.passwordFile });
  const alone = await runCli(['audit', 'replay', 'r0', '--dir', n.f.dir]);
  assert.is(alone.code, 2, 'record 0 left the live store');
  const r = await runCli(['audit', 'replay', 'r0', '--config', config, '--json']);
  assert.is(r.code, 0, r.stderr);
  assert.equal((JSON.parse(r.stdout) as { records: Array<{ seq: number }> }).records.map((x) => x.seq), [0, 1]);
  const tail = await runCli(['audit', 'tail', '--from', '0'], { env: { REGATE_CONFIG: config } });
  assert.is(tail.code, 0, tail.stderr);
  const seqs = tail.stdout.trimEnd().split('\n').map((l) => (JSON.parse(l) as { seq: number }).seq);
  assert.ok(seqs.length >= 60 && seqs.every((s, i) => s === i), `${seqs.length} records in order`);
  const v = await runCli(['audit', 'verify', '--config', config, '--json']);
  assert.is(v.code, 0, v.stdout + v.stderr);
  assert.is((JSON.parse(v.stdout) as { segments: { first: number } }).segments.first, 0);
});

test('--config naming a cluster store that cannot be reached, or that holds no archive of this log, is a precise usage error', async () => {
  const n = nodes[1]!;
  const port = await freePort();
  const down = nodeConfig(n, { url: `postgres://postgres@127.0.0.1:${port}/postgres`, password_file: server.passwordFile, timeout_ms: 500 });
  const r = await runCli(['audit', 'replay', 'r0', '--config', down]);
  assert.is(r.code, 2, r.stdout + r.stderr);
  assert.match(r.stderr, new RegExp(`cannot read the archive in the cluster store postgres@127.0.0.1:${port}/postgres \\(cluster.postgres in ${down.replace(/[.]/g, '\\.')}\\), and the live store ${n.f.dir} was pruned through segment ${n.pruned}`));
  // A log archived to a folder, not to this store, read with this node's config: the store holds no archive of its origin.
  const elsewhere = await fixture();
  try {
    const log = await openLog(elsewhere, { segmentRecords: 1000, origin: 'audit.test/n9' });
    assert.ok((await writeArchived(log, new FolderArchive(join(elsewhere.state, 'archive')), 3)).pruned >= 1);
    const config = nodeConfig(n, { url: server.url, password_file: server.passwordFile });
    const other = await runCli(['audit', 'replay', 'r0', '--config', config, '--dir', elsewhere.dir]);
    assert.is(other.code, 2, other.stdout + other.stderr);
    assert.match(other.stderr, /the cluster store postgres@127\.0\.0\.1:\d+\/postgres \(cluster\.postgres in .*\) holds no archived segment of the log audit\.test\/n9, but the live store .* was pruned through segment \d+, so its older segments are read from the archive: is .* this node's config\?/);
    // --archive on the command line wins over the config's cluster store.
    const folder = await runCli(['audit', 'replay', 'r0', '--config', config, '--dir', elsewhere.dir, '--archive', join(elsewhere.state, 'archive'), '--json']);
    assert.is(folder.code, 0, folder.stderr);
  } finally {
    elsewhere.cleanup();
  }
});

test.run();
