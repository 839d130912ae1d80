/**
 * The holds stage inside the real gateway (`startGateway`, as `regate serve` runs it): the default
 * PCI policy holds bulk extraction for pci-approvers, and approvers act on the admin listener.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { startRig, type Rig } from '../gateway/harness.js';
import { eventually } from './helpers.js';

let rig: Rig;
let state: string;
let alice: string;
let bob: string;

test.before(async () => {
  state = mkdtempSync(join(tmpdir(), 'regate-hold-gw-'));
  rig = await startRig({ stateDir: state });
  alice = await rig.idp.token({ sub: 'alice', groups: ['fraud-analysts'] });
  bob = await rig.idp.token({ sub: 'bob', groups: ['pci-approvers'] });
});
test.after(async () => {
  await rig.stop();
  rmSync(state, { recursive: true, force: true });
});

const bulk = (token: string, limit = 5000) => fetch(`${rig.gw.url}/v1/transactions?limit=${limit}`, { headers: { authorization: `Bearer ${token}` } });

async function admin(method: string, path: string, body?: unknown): Promise<any> {
  const res = await fetch(rig.gw.adminUrl + path, {
    method,
    headers: { authorization: `Bearer ${bob}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return res.json();
}

const pendingId = () =>
  eventually('a pending hold on the admin listener', async () => ((await admin('GET', '/api/holds?state=pending')).holds[0]?.id as string | undefined));

test('a bulk request waits for approval and then gets the upstream answer', async () => {
  const seenBefore = rig.upstream.seen.length;
  const waiting = bulk(alice);
  const id = await pendingId();
  const hold = await admin('GET', `/api/holds/${id}`);
  assert.is(hold.requester.sub, 'alice');
  assert.match(hold.spec.reason, /limit 5000 exceeds the bulk threshold of 1000/);
  assert.is(hold.summary, 'GET /v1/transactions?limit=5000');
  assert.is(rig.upstream.seen.length, seenBefore, 'nothing reaches the upstream while held');
  assert.is((await admin('POST', `/api/holds/${id}/approve`, { comment: 'case FR-7' })).state, 'approved');
  const res = await waiting;
  assert.is(res.status, 200);
  assert.equal(await res.json(), { ok: true, path: '/v1/transactions' });
  assert.is(rig.upstream.seen.at(-1)!.url, '/v1/transactions?limit=5000');
  assert.is(rig.upstream.seen.at(-1)!.headers.authorization, undefined);
});

test('not decided in time: 403 naming the hold; approved later, one replay goes through', async () => {
  const first = await bulk(alice);
  assert.is(first.status, 403);
  const body = (await first.json()) as { hold_id: string; message: string };
  assert.match(body.message, new RegExp(`Once hold ${body.hold_id} is approved, send the same request again`));
  await admin('POST', `/api/holds/${body.hold_id}/approve`, {});
  const bigger = await bulk(alice, 500000);
  assert.is(bigger.status, 403, 'the approval covers limit=5000 only, not another query');
  assert.is.not(((await bigger.json()) as { hold_id: string }).hold_id, body.hold_id);
  const replay = await bulk(alice);
  assert.is(replay.status, 200);
  const again = await bulk(alice);
  assert.is(again.status, 403, 'the replay was used up: held again');
  assert.is.not(((await again.json()) as { hold_id: string }).hold_id, body.hold_id);
});

test('an auditor finds the hold and its approval in the audit log, and that view is itself recorded', async () => {
  const audrey = await rig.idp.token({ sub: 'audrey', groups: ['auditors'] });
  const get = async (path: string) => (await fetch(rig.gw.adminUrl + path, { headers: { authorization: `Bearer ${audrey}` } })).json() as Promise<any>;
  const found = await get('/api/audit/records?subject=alice&limit=500');
  const types = found.records.map((r: { event: { type: string } }) => r.event.type);
  for (const t of ['request.decision', 'hold.created', 'hold.approved', 'hold.replayed']) assert.ok(types.includes(t), `${t} in ${types}`);
  const held = found.records.find((r: { event: { type: string; decision?: { effect: string } } }) => r.event.type === 'request.decision' && r.event.decision?.effect === 'hold');
  const exchange = await get(`/api/audit/exchanges/${held.event.request_id}`);
  // The hold is made first (its limits may refuse it), then the decision naming it.
  assert.equal(exchange.records.slice(0, 2).map((r: { event: { type: string } }) => r.event.type), ['hold.created', 'request.decision']);
  assert.is(exchange.records[1].event.approval, exchange.records[0].event.hold_id);
  const segments = await get('/api/audit/segments');
  assert.not.ok(segments.segments.some((s: { status: string }) => s.status !== 'verified'), JSON.stringify(segments));
  const views = await get('/api/audit/records?limit=500');
  assert.ok(views.records.some((r: { event: { type: string; view?: { target: string } } }) => r.event.type === 'console.viewed' && r.event.view?.target === `exchange ${held.event.request_id}`));
});

test('the console is served by the admin listener', async () => {
  const res = await fetch(`${rig.gw.adminUrl}/console`);
  assert.is(res.status, 200);
  assert.match(await res.text(), /<title>regate console<\/title>/);
});

test.run();
