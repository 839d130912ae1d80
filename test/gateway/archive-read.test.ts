/**
 * Reading archive + live as one log (issue 20 item 3) after a real gateway run with a tiny
 * retain_live, so its first segments leave the live store for the archive: the console's exchange
 * view and segments table, and the CLI's replay, tail, export (whole and partial, then verified)
 * and prove (inclusion and consistency, then checked) all reach a request whose records are only
 * in the archive. Without --archive the CLI does not find it: the records really left the store.
 */
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { openStore } from '../../src/audit/index.js';
import { runCli } from '../helpers/cli.js';
import { startRig } from './harness.js';

/** The tree size a checkpoint file's signed note names (its second line). */
const sizeOf = (file: string): number => Number((JSON.parse(readFileSync(file, 'utf8')) as { note: string }).note.split('\n')[1]);

test('records pruned from the live store are read from the archive: console, replay, tail, export, prove', async () => {
  const archive = join(tmpdir(), `regate-archive-read-${process.pid}-${Date.now()}`);
  const scratch = join(tmpdir(), `regate-archive-read-out-${process.pid}-${Date.now()}`);
  const rig = await startRig({
    keepState: true,
    limits: { requests_per_second: 0, max_concurrent: 0 },
    audit: { segment_records: 20, segment_seconds: 1, archive: { dir: archive }, retain_live: { seconds: 0 } },
  });
  let stopped = false;
  try {
    const mo = await rig.idp.token({ sub: 'mo', groups: ['ml-admins'] });
    const audrey = await rig.idp.token({ sub: 'audrey', groups: ['auditors'] });
    const ids: string[] = [];
    for (let i = 0; i < 120; i += 4) {
      await Promise.all(Array.from({ length: 4 }, async () => {
        const res = await fetch(`${rig.gw.url}/v1/models/load`, { method: 'POST', headers: { authorization: `Bearer ${mo}`, 'content-type': 'application/json' }, body: JSON.stringify({ model: 'm' }) });
        await res.arrayBuffer();
        assert.is(res.status, 200);
        ids.push(res.headers.get('x-request-id')!);
      }));
    }
    // The archiver runs every second: wait (not a timing assertion) until the first segments are pruned.
    let pruned = -1;
    for (let i = 0; i < 300 && pruned < 3; i++) {
      const metrics = await (await fetch(`${rig.gw.adminUrl}/metrics`, { headers: { authorization: `Bearer ${mo}` } })).text();
      pruned = Number(/regate_audit_pruned_through_segment (-?\d+)/.exec(metrics)?.[1] ?? -1);
      if (pruned < 3) await sleep(100);
    }
    assert.ok(pruned >= 3, `segments 0..3 were pruned from the live store (pruned through ${pruned})`);
    const first = ids[0]!;

    // The console: the exchange is found in the archive; every segment, archived ones included, verifies.
    const get = async (path: string) => (await fetch(rig.gw.adminUrl + path, { headers: { authorization: `Bearer ${audrey}` } })).json() as Promise<any>;
    const exchange = await get(`/api/audit/exchanges/${first}`);
    assert.equal(exchange.records.map((r: { event: { type: string } }) => r.event.type).slice(0, 2), ['request.decision', 'request.outcome']);
    const segments = (await get('/api/audit/segments')).segments as Array<{ segment: number; status: string; message: string; first: number }>;
    assert.is(segments[0]!.segment, 0, 'the table starts at segment 0, read from the archive');
    assert.ok(segments.every((s) => s.status === 'verified'), JSON.stringify(segments.filter((s) => s.status !== 'verified')));
    assert.match(segments[0]!.message, /read from the archive/);

    stopped = true;
    await rig.stop();
    const dir = join(rig.stateDir, 'audit');
    const store = openStore(dir, { readOnly: true });
    const liveFirst = [...store.records.getKeys({ limit: 1 })][0]!;
    await store.env.close();
    assert.ok(liveFirst > 40, `the live store starts at record ${liveFirst}`);
    const keys = readdirSync(rig.stateDir).filter((f) => /^audit\.pub.*\.pem$/.test(f)).flatMap((f) => ['--key', join(rig.stateDir, f)]);
    const log = ['--dir', dir];
    const both = [...log, '--archive', archive];

    // replay: not in the live store alone; found with the archive.
    const missing = await runCli(['audit', 'replay', first, ...log]);
    assert.is(missing.code, 2, missing.stdout + missing.stderr);
    assert.match(missing.stderr, new RegExp(`no record of request ${first} .*pruned through segment \\d+.*give --archive DIR`));
    const notLive = await runCli(['audit', 'prove', ...log, '--seq', '0', ...keys]);
    assert.is(notLive.code, 2, notLive.stdout + notLive.stderr);
    assert.match(notLive.stderr, /record 0 is not in a sealed segment .*pruned through segment \d+.*give --archive DIR/);
    const replay = await runCli(['audit', 'replay', first, ...both, '--json']);
    assert.is(replay.code, 0, replay.stderr);
    const story = JSON.parse(replay.stdout) as { records: Array<{ seq: number; event: { type: string; request_id: string } }> };
    const decision = story.records.find((r) => r.event.type === 'request.decision' && r.event.request_id === first)!;
    assert.ok(decision.seq < liveFirst, `its decision (record ${decision.seq}) is only in the archive`);

    // tail from record 0: the archived records, then the live ones, each once, in order.
    const tail = await runCli(['audit', 'tail', ...both, '--from', '0']);
    assert.is(tail.code, 0, tail.stderr);
    const seqs = tail.stdout.trimEnd().split('\n').map((l) => (JSON.parse(l) as { seq: number }).seq);
    assert.equal(seqs.slice(0, 3), [0, 1, 2]);
    assert.ok(seqs.every((s, i) => s === i), 'one record a number, in order, across archive and live');

    // export: the whole log and a range inside the archive, each verified as made and again here.
    const whole = join(scratch, 'whole');
    const ex = await runCli(['audit', 'export', ...both, '--out', whole, ...keys]);
    assert.is(ex.code, 0, ex.stderr);
    const vw = await runCli(['audit', 'verify', whole, ...keys, '--json']);
    assert.is(vw.code, 0, vw.stdout + vw.stderr);
    const va = await runCli(['audit', 'verify', ...both, ...keys, '--json']);
    assert.is(va.code, 0, va.stdout + va.stderr);
    const all = JSON.parse(va.stdout) as { records: number; unsealed: number };
    assert.is(all.records, seqs.length);
    assert.is((JSON.parse(vw.stdout) as { records: number }).records, all.records - all.unsealed, 'the export holds every sealed record');
    const part = join(scratch, 'part');
    const px = await runCli(['audit', 'export', ...both, '--out', part, '--from', '25', '--to', '45', ...keys]);
    assert.is(px.code, 0, px.stderr);
    const manifest = JSON.parse(readFileSync(join(part, 'export.json'), 'utf8')) as { first_segment: number; base: unknown };
    assert.ok(manifest.first_segment > 0 && manifest.base !== null, 'a partial export from the archive carries its base');
    const vp = await runCli(['audit', 'verify', part, ...keys, '--from', '25']);
    assert.is(vp.code, 0, vp.stdout + vp.stderr);

    // prove: the archived decision's inclusion, and consistency from an archived checkpoint to the newest.
    const proofFile = join(scratch, 'inclusion.json');
    const pi = await runCli(['audit', 'prove', ...both, '--seq', String(decision.seq), '--out', proofFile, ...keys]);
    assert.is(pi.code, 0, pi.stderr);
    const ci = await runCli(['audit', 'verify-proof', proofFile, ...both, ...keys]);
    assert.is(ci.code, 0, ci.stdout + ci.stderr);
    assert.match(ci.stdout, new RegExp(`record ${decision.seq} \\(request.decision`));
    const cps = readdirSync(whole).filter((f) => f.endsWith('.checkpoint.json')).sort();
    const [oldSize, newSize] = [sizeOf(join(whole, cps[0]!)), sizeOf(join(whole, cps.at(-1)!))];
    const consistencyFile = join(scratch, 'consistency.json');
    const pc = await runCli(['audit', 'prove', ...both, '--consistency', String(oldSize), String(newSize), '--out', consistencyFile, ...keys]);
    assert.is(pc.code, 0, pc.stderr);
    const cc = await runCli(['audit', 'verify-proof', consistencyFile, ...both, ...keys]);
    assert.is(cc.code, 0, cc.stdout + cc.stderr);
    assert.match(cc.stdout, new RegExp(`tree size ${newSize} .* extends tree size ${oldSize}`));
  } finally {
    if (!stopped) await rig.stop();
    rmSync(rig.stateDir, { recursive: true, force: true });
    rmSync(archive, { recursive: true, force: true });
    rmSync(scratch, { recursive: true, force: true });
  }
});

test.run();
