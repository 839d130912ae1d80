/**
 * `--config FILE` (and REGATE_CONFIG) on the audit readers (issue 20 item 3): a log whose first
 * segments were archived to a folder and pruned from the live store is read as one log through
 * the gateway's config alone (state folder, audit.dir, audit.archive.dir, the trusted keys), by
 * the real CLI. Flags given win over the config; an archive the config names that is not there,
 * once the store was pruned, is a usage error naming the key, the folder and the fix.
 */
import { renameSync, writeFileSync, rmSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { FolderArchive } from '../../src/audit/index.js';
import { runCli } from '../helpers/cli.js';
import { writeConfig } from '../helpers/serve.js';
import { fixture, openLog, writeArchived, type Fixture } from './helpers.js';

let f: Fixture;
let other: Fixture;
let config: string;
let pruned: number;
let total: number;

/** A gateway config whose state folder is the fixture's (its log at state/audit, its key beside it). */
function gatewayConfig(fx: Fixture, audit: Record<string, unknown>, name?: string): string {
  return writeConfig(fx.state, {
    state_dir: '.',
    upstreams: { models: { url: 'http://127.0.0.1:9' } },
    routes: [{ name: 'models', path_prefix: '/v1/models', upstream: 'models' }],
    identity: { issuer: 'https://idp.example', audience: 'regate', jwks_url: 'https://idp.example/jwks.json' },
    policy: { bundle: 'pci.tar.gz', public_key_file: 'bundle.pub.pem' },
    audit,
  }, name);
}

test.before(async () => {
  f = await fixture();
  other = await fixture();
  const written = await writeArchived(await openLog(f, { segmentRecords: 1000 }), new FolderArchive(join(f.state, 'archive')), 5);
  pruned = written.pruned;
  total = 50;
  assert.ok(pruned >= 2, `segments left the live store (pruned through ${pruned})`);
  config = gatewayConfig(f, { archive: { dir: 'archive' }, retain_live: { seconds: 0 } }, 'regate.yaml');
});

test.after(() => {
  f.cleanup();
  other.cleanup();
});

test('replay --config reads a request that left the live store from the archive the config names; --dir alone does not find it', async () => {
  const alone = await runCli(['audit', 'replay', 'r0', '--dir', f.dir]);
  assert.is(alone.code, 2, alone.stdout + alone.stderr);
  assert.match(alone.stderr, /pruned through segment \d+.*give --archive DIR \(the audit.archive.dir\) or --config FILE/);
  const r = await runCli(['audit', 'replay', 'r0', '--config', config, '--json']);
  assert.is(r.code, 0, r.stderr);
  const story = JSON.parse(r.stdout) as { records: Array<{ seq: number; event: { type: string } }> };
  assert.equal(story.records.map((x) => [x.seq, x.event.type]), [[0, 'request.decision'], [1, 'request.outcome']]);
});

test('REGATE_CONFIG stands in for --config: tail reads archive + live as one log, each record once, in order', async () => {
  const r = await runCli(['audit', 'tail', '--from', '0'], { env: { REGATE_CONFIG: config } });
  assert.is(r.code, 0, r.stderr);
  const seqs = r.stdout.trimEnd().split('\n').map((l) => (JSON.parse(l) as { seq: number }).seq);
  assert.ok(seqs.length >= total, `${seqs.length} records`);
  assert.ok(seqs.every((s, i) => s === i), 'one record a number, in order');
});

test('verify and prove --config take the keys from the config\'s state folder; an inclusion proof of an archived record checks out', async () => {
  const v = await runCli(['audit', 'verify', '--config', config, '--json']);
  assert.is(v.code, 0, v.stdout + v.stderr);
  const summary = JSON.parse(v.stdout) as { records: number; segments: { first: number } };
  assert.is(summary.segments.first, 0, 'verified from segment 0, read from the archive');
  assert.ok(summary.records >= total);
  const proof = join(f.state, 'proof.json');
  const p = await runCli(['audit', 'prove', '--seq', '3', '--out', proof], { env: { REGATE_CONFIG: config } });
  assert.is(p.code, 0, p.stderr);
  const c = await runCli(['audit', 'verify-proof', proof, '--key', f.pub]);
  assert.is(c.code, 0, c.stdout + c.stderr);
  assert.match(c.stdout, /record 3 \(request.outcome/);
});

test('flags win over the config: --key another log\'s key fails verify, --archive elsewhere is that folder, --dir elsewhere is that log', async () => {
  const wrongKey = await runCli(['audit', 'verify', '--config', config, '--key', other.pub]);
  assert.is(wrongKey.code, 1, wrongKey.stdout + wrongKey.stderr);
  assert.match(wrongKey.stderr, /NOT intact/);
  const missing = join(f.state, 'no-such-archive');
  const wrongArchive = await runCli(['audit', 'replay', 'r0', '--config', config, '--archive', missing]);
  assert.is(wrongArchive.code, 2);
  assert.match(wrongArchive.stderr, new RegExp(`the archive folder ${missing} \\(--archive\\) is not there, but the live store .* was pruned through segment ${pruned}`));
  // Another (empty) log named with --dir: the config's log is not read.
  mkdirSync(other.dir, { recursive: true });
  const otherLog = await openLog(other);
  await otherLog.close();
  const wrongDir = await runCli(['audit', 'replay', 'r0', '--config', config, '--dir', other.dir]);
  assert.is(wrongDir.code, 2);
  assert.match(wrongDir.stderr, new RegExp(`no record of request r0 in ${other.dir}`));
  // REGATE_CONFIG is not read at all when the command line names a log.
  const named = await runCli(['audit', 'replay', 'r0', '--dir', f.dir], { env: { REGATE_CONFIG: config } });
  assert.is(named.code, 2, named.stdout);
});

test('an archive the config names that is not there (or not a folder) is a usage error naming the key, the folder and the fix', async () => {
  const dir = join(f.state, 'archive');
  renameSync(dir, dir + '.away');
  try {
    for (const cmd of [['replay', 'r0'], ['verify'], ['tail', '--from', '0'], ['prove', '--seq', '0'], ['export', '--out', join(f.state, 'out')]]) {
      const r = await runCli(['audit', ...cmd, '--config', config]);
      assert.is(r.code, 2, `${cmd[0]}: ${r.stdout}${r.stderr}`);
      assert.match(r.stderr, new RegExp(`the archive folder ${dir} \\(audit.archive.dir in ${config}\\) is not there, but the live store ${f.dir} was pruned through segment ${pruned}, so its older segments are read from the archive: mount the archive volume at ${dir}, or name where it is with --archive DIR`), cmd[0]);
    }
    writeFileSync(dir, 'not a folder');
    const file = await runCli(['audit', 'replay', 'r0', '--config', config]);
    assert.is(file.code, 2);
    assert.match(file.stderr, /is not a folder/);
    rmSync(dir);
  } finally {
    renameSync(dir + '.away', dir);
  }
  const back = await runCli(['audit', 'replay', 'r0', '--config', config]);
  assert.is(back.code, 0, back.stderr);
});

test('a config that cannot be read or is not valid is a usage error naming the file; no log named at all names --config', async () => {
  const gone = await runCli(['audit', 'verify', '--config', join(f.state, 'missing.yaml')]);
  assert.is(gone.code, 2);
  assert.match(gone.stderr, /missing\.yaml: cannot read the config file \(ENOENT\)/);
  const bad = gatewayConfig(f, { segment_records: 'many' });
  const invalid = await runCli(['audit', 'replay', 'r0', '--config', bad]);
  assert.is(invalid.code, 2);
  assert.ok(invalid.stderr.includes(bad), invalid.stderr);
  assert.match(invalid.stderr, /audit\.segment_records: expected an integer/);
  const none = await runCli(['audit', 'replay', 'r0'], { env: { REGATE_CONFIG: '' } });
  assert.is(none.code, 2);
  assert.match(none.stderr, /name the log with --config FILE/);
});

test.run();
