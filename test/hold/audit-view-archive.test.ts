/**
 * The console's records search over archive + live as one log (issue 20 item 3): a real signed log
 * whose oldest segments were archived to a folder and pruned from the live store, searched over
 * the admin API's HTTP like the console does. Matches come newest first across the boundary,
 * the limit and the time filters hold there too; without the archive the same search finds only
 * the live records (they really left the store).
 */
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { FolderArchive, LogReader, openStore, stateTrust, type AuditEvent } from '../../src/audit/index.js';
import { auditViews } from '../../src/app/index.js';
import { fixture, openLog, writeArchived, type Fixture } from '../audit/helpers.js';
import { adminCall, startIdp, startStack, type Idp, type Stack } from './helpers.js';

let f: Fixture;
let idp: Idp;
let stack: Stack;
let auditor: string;
let archive: FolderArchive;
let pruned: number;

/** Record i: request r<i>'s decision, by carol every third request, else dave. */
function decision(i: number): AuditEvent {
  return {
    type: 'request.decision', request_id: `r${i}`, subject: i % 3 === 0 ? 'carol' : 'dave', groups: ['fraud-analysts'], client: '127.0.0.1', route: 'fraud-model', upstream: 'models',
    method: 'POST', path: '/v1/score', decision: { effect: 'allow', reason: 'allow for the test', policy_revision: 'rev1', rules: ['allow.by_test'] }, approval: null, request_body: null,
  };
}

test.before(async () => {
  f = await fixture();
  archive = new FolderArchive(join(f.state, 'archive'));
  // 6 segments of 10 records; all but the newest leave the live store.
  ({ pruned } = await writeArchived(await openLog(f, { segmentRecords: 1000 }), archive, 6, decision));
  assert.ok(pruned >= 3, `pruned through ${pruned}`);
  idp = await startIdp();
  auditor = await idp.token('audrey', ['auditors']);
  stack = await startStack({ idp, auditViews: auditViews(f.dir, () => stateTrust(f.state), archive) });
});
test.after(async () => {
  await stack.close();
  await idp.close();
  f.cleanup();
});

const ids = (r: { body: { records: Array<{ event: { request_id: string } }> } }) => r.body.records.map((x) => x.event.request_id);
const carol = Array.from({ length: 60 }, (_, i) => i).filter((i) => i % 3 === 0).reverse().map((i) => `r${i}`);

test('the records search reads archive + live as one log: every match, newest first across the boundary', async () => {
  const r = await adminCall(stack, auditor, 'GET', '/api/audit/records?subject=carol&limit=500');
  assert.is(r.status, 200);
  assert.equal(ids(r), carol);
  // Without the archive, only the live store's records: the older ones really left it.
  const liveOnly = await auditViews(f.dir, () => stateTrust(f.state)).search({ subject: 'carol', limit: 500 });
  assert.ok(liveOnly.length > 0 && liveOnly.length < carol.length, `${liveOnly.length} live matches`);
  assert.equal(liveOnly.map((x) => (x.event as { request_id: string }).request_id), carol.slice(0, liveOnly.length));
});

test('the limit and the time filters hold across the archive', async () => {
  assert.equal(ids(await adminCall(stack, auditor, 'GET', '/api/audit/records?subject=carol&limit=3')), carol.slice(0, 3));
  // A limit reached only in the archive: the oldest matches come from archived segments.
  assert.equal(ids(await adminCall(stack, auditor, 'GET', `/api/audit/records?subject=carol&limit=${carol.length - 1}`)), carol.slice(0, -1));
  const past = encodeURIComponent(new Date(Date.now() - 3_600_000).toISOString());
  assert.equal(ids(await adminCall(stack, auditor, 'GET', `/api/audit/records?subject=carol&from=${past}&limit=500`)), carol);
  const future = encodeURIComponent(new Date(Date.now() + 3_600_000).toISOString());
  assert.equal(ids(await adminCall(stack, auditor, 'GET', `/api/audit/records?from=${future}`)), []);
  const before = encodeURIComponent(new Date(Date.now() - 3_600_000).toISOString());
  assert.equal(ids(await adminCall(stack, auditor, 'GET', `/api/audit/records?to=${before}`)), []);
});

test('newestFirst skips archived segments sealed before `sealedFrom` without reading them, and reads all of them otherwise', async () => {
  const store = openStore(f.dir, { readOnly: true });
  let gets = 0;
  const counting = Object.assign(Object.create(archive) as FolderArchive, { get: (n: number) => (gets++, archive.get(n)) });
  try {
    const seqs = async (opts: { sealedFrom?: number }) => {
      const out: number[] = [];
      for await (const r of new LogReader(store, counting).newestFirst(opts)) out.push(r.seq);
      return out;
    };
    const all = await seqs({});
    assert.equal(all, Array.from({ length: 60 }, (_, i) => 59 - i), 'every record once, newest first');
    assert.is(gets, pruned + 1, 'each archived segment read once');
    gets = 0;
    const recent = await seqs({ sealedFrom: Date.now() + 3_600_000 });
    assert.is(gets, 0, 'no archived segment read');
    assert.equal(recent, all.slice(0, recent.length));
    assert.ok(recent.length < all.length && recent.at(-1)! > 0, `only the live records (${recent.length})`);
  } finally {
    await store.env.close();
  }
});

test.run();
