/**
 * The audit log's lifecycle through a running gateway (issue 20): a tiny live store and a tiny
 * retain_live under load, the archive folder gone for a while in the middle. No request is refused
 * while the archive catches up, no record is lost, `regate audit verify --archive` is green over
 * archive + live, and red once an archived segment that did not expire is deleted. At the cap,
 * `/healthz` is unhealthy and names the cause.
 */
import { readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { openStore } from '../../src/audit/index.js';
import { runCli } from '../helpers/cli.js';
import { startRig } from './harness.js';

function archivedFiles(dir: string): string[] {
  return readdirSync(dir).filter((d) => /^\d+$/.test(d)).flatMap((d) => readdirSync(join(dir, d)).map((n) => join(dir, d, n))).sort();
}

function archivedRecords(dir: string): Array<{ seq: number; event: Record<string, any> }> {
  return archivedFiles(dir).flatMap((f) => gunzipSync(readFileSync(f)).toString('utf8').trimEnd().split('\n').slice(1).map((l) => JSON.parse(l)));
}

test('tiny store, tiny retain_live, archive away for a while: nothing refused, nothing lost, verify green, red after a deletion', async () => {
  const archive = join((await import('node:os')).tmpdir(), `regate-archive-${process.pid}-${Date.now()}`);
  const rig = await startRig({
    keepState: true,
    limits: { requests_per_second: 0, max_concurrent: 0 },
    // 6 MiB holds ~1,300 requests (~4.5 KB each in LMDB); 1,600 go through, so the store must be pruned.
    audit: { max_size_bytes: 6 * 2 ** 20, segment_records: 40, segment_seconds: 1, archive: { dir: archive }, retain_live: { bytes: 512 * 1024 } },
  });
  const ids: string[] = [];
  let stopped = false;
  try {
    const mo = await rig.idp.token({ sub: 'mo', groups: ['ml-admins'] });
    const body = JSON.stringify({ model: 'm', notes: 'n'.repeat(600) });
    const send = async () => {
      const res = await fetch(`${rig.gw.url}/v1/models/load`, { method: 'POST', headers: { authorization: `Bearer ${mo}`, 'content-type': 'application/json' }, body });
      await res.arrayBuffer();
      assert.is(res.status, 200, `request ${ids.length} was refused: ${res.status} ${JSON.stringify(rig.logs.lines().filter((l) => l.level !== "info").slice(-3))}`);
      ids.push(res.headers.get('x-request-id')!);
    };
    const load = async (n: number) => {
      for (let i = 0; i < n; i += 8) await Promise.all(Array.from({ length: 8 }, send));
    };
    await load(400);
    // The archive's volume goes away: requests go on being served from the live store's headroom.
    renameSync(archive, archive + '.away');
    writeFileSync(archive, 'not a folder');
    await load(320);
    const metrics = await (await fetch(`${rig.gw.adminUrl}/metrics`, { headers: { authorization: `Bearer ${mo}` } })).text();
    assert.match(metrics, /regate_audit_archive_failures_total [1-9]/);
    assert.match(metrics, /regate_audit_archive_pending_segments [1-9]/);
    assert.match(metrics, /regate_audit_store_fill_ratio 0\.\d+/);
    assert.ok(rig.logs.lines().some((l) => l.msg === 'audit archive write failed; retrying'), 'the failure is logged');
    rmSync(archive);
    renameSync(archive + '.away', archive);
    await load(880);
    stopped = true;
    await rig.stop();

    const store = openStore(join(rig.stateDir, 'audit'), { readOnly: true });
    const live = [...store.records.getRange({})].map(({ value }) => JSON.parse(value.toString('utf8')));
    await store.env.close();
    // Segments archived but not yet pruned are in both places: one record a number.
    const all = [...new Map([...archivedRecords(archive), ...live].map((r) => [r.seq, r])).values()];
    const decided = new Set(all.filter((r) => r.event.type === 'request.decision').map((r) => r.event.request_id));
    assert.is(ids.filter((id) => !decided.has(id)).length, 0, 'every served request has its decision record');
    assert.ok(live.length < all.length / 2, `the live store was pruned (${live.length} of ${all.length} records live)`);

    const keys = readdirSync(rig.stateDir).filter((f) => /^audit\.pub.*\.pem$/.test(f)).map((f) => join(rig.stateDir, f));
    const verify = await runCli(['audit', 'verify', '--dir', join(rig.stateDir, 'audit'), '--archive', archive, ...keys.flatMap((k) => ['--key', k]), '--json']);
    assert.is(verify.code, 0, verify.stdout + verify.stderr);
    assert.is(JSON.parse(verify.stdout).records, all.length);

    rmSync(archivedFiles(archive)[3]!);
    const red = await runCli(['audit', 'verify', '--dir', join(rig.stateDir, 'audit'), '--archive', archive, ...keys.flatMap((k) => ['--key', k])]);
    assert.is(red.code, 1, red.stdout + red.stderr);
    assert.match(red.stderr, /segment 3 is missing/);
  } finally {
    if (!stopped) await rig.stop();
    rmSync(rig.stateDir, { recursive: true, force: true });
    rmSync(archive, { recursive: true, force: true });
    rmSync(archive + '.away', { recursive: true, force: true });
  }
});

test('a full audit log makes /healthz unhealthy, naming the cause', async () => {
  const rig = await startRig({ keepState: true, audit: { max_size_bytes: 512 * 1024 } });
  try {
    const mo = await rig.idp.token({ sub: 'mo', groups: ['ml-admins'] });
    assert.is((await fetch(`${rig.gw.adminUrl}/healthz`)).status, 200);
    const body = JSON.stringify({ model: 'm', notes: 'n'.repeat(8000) });
    let status = 200;
    for (let i = 0; i < 100 && status !== 503; i++) {
      const res = await fetch(`${rig.gw.url}/v1/models/load`, { method: 'POST', headers: { authorization: `Bearer ${mo}`, 'content-type': 'application/json' }, body });
      await res.arrayBuffer();
      status = res.status;
    }
    assert.is(status, 503);
    const health = await fetch(`${rig.gw.adminUrl}/healthz`);
    assert.is(health.status, 503);
    const h = (await health.json()) as { status: string; reason: string };
    assert.is(h.status, 'unhealthy');
    assert.match(h.reason, /audit log at .* is full/);
    await rig.stop();
  } finally {
    rmSync(rig.stateDir, { recursive: true, force: true });
  }
});

test.run();
