import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { refFind } from '../mask/reference.js';
import { startRig, type Rig } from './harness.js';

let patient: Rig; // clients wait long enough for an approver
let hasty: Rig; // clients give up after a second
test.before(async () => {
  patient = await startRig({ holdWaitSeconds: 20 });
  hasty = await startRig({ holdWaitSeconds: 1 });
});
test.after(async () => {
  await patient.stop();
  await hasty.stop();
});

type ErrorBody = { error: string; message: string; hold_id: string };
const json = async (res: Response) => (await res.json()) as ErrorBody;
const bulk = (rig: Rig, token: string) => fetch(`${rig.gw.url}/v1/transactions?limit=5000`, { headers: { authorization: `Bearer ${token}` } });

async function admin(rig: Rig, token: string, path: string, body?: unknown): Promise<any> {
  const res = await fetch(rig.gw.adminUrl + path, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  assert.ok(res.ok, `${path}: ${res.status} ${await res.clone().text()}`);
  return res.json();
}

async function pendingHold(rig: Rig, approver: string): Promise<{ id: string; summary: string; route: string }> {
  for (let i = 0; i < 500; i++) {
    const list = (await admin(rig, approver, '/api/holds?state=pending')) as { holds?: unknown[] } | unknown[];
    const holds = (Array.isArray(list) ? list : (list.holds ?? [])) as { id: string; summary: string; route: string }[];
    if (holds.length) return holds[0]!;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error('no pending hold appeared');
}

test('hold approved while the client waits: the unchanged request is forwarded and answered', async () => {
  const alice = await patient.idp.token({ sub: 'alice', groups: ['fraud-analysts'] });
  const approver = await patient.idp.token({ sub: 'victor', groups: ['pci-approvers'] });
  patient.upstream.seen.length = 0;
  const answer = bulk(patient, alice);
  const hold = await pendingHold(patient, approver);
  assert.is(hold.route, 'transactions');
  assert.match(hold.summary, /^GET \/v1\/transactions/);
  assert.is(patient.upstream.seen.length, 0);
  await admin(patient, approver, `/api/holds/${hold.id}/approve`, { comment: 'quarterly review' });
  const res = await answer;
  assert.is(res.status, 200);
  assert.equal(await res.json(), { ok: true, path: '/v1/transactions' });
  assert.is(patient.upstream.seen[0]!.url, '/v1/transactions?limit=5000');
});

test('hold denied: 403 with the approver reason and the hold id', async () => {
  const alice = await patient.idp.token({ sub: 'alice', groups: ['fraud-analysts'] });
  const approver = await patient.idp.token({ sub: 'victor', groups: ['pci-approvers'] });
  const answer = bulk(patient, alice);
  const hold = await pendingHold(patient, approver);
  await admin(patient, approver, `/api/holds/${hold.id}/deny`, { reason: 'no ticket' });
  const res = await answer;
  assert.is(res.status, 403);
  const body = await json(res);
  assert.is(body.error, 'forbidden');
  assert.is(body.hold_id, hold.id);
  assert.match(body.message, /An approver denied this request: no ticket/);
});

test('not decided in time: 403 naming the hold; approved later, the same request replays once', async () => {
  const alice = await hasty.idp.token({ sub: 'alice', groups: ['fraud-analysts'] });
  const approver = await hasty.idp.token({ sub: 'victor', groups: ['pci-approvers'] });
  hasty.upstream.seen.length = 0;
  const first = await bulk(hasty, alice);
  assert.is(first.status, 403);
  const body = await json(first);
  assert.match(body.message, /held for approval \(bulk extraction held for approval: limit 5000 exceeds the bulk threshold of 1000\)/);
  assert.match(body.hold_id, /^hold_/);
  await admin(hasty, approver, `/api/holds/${body.hold_id}/approve`, {});
  const other = await fetch(`${hasty.gw.url}/v1/transactions?limit=9000`, { headers: { authorization: `Bearer ${alice}` } });
  assert.is(other.status, 403, 'an approval covers that exact request, query included');
  await other.arrayBuffer();
  const replay = await bulk(hasty, alice);
  assert.is(replay.status, 200);
  assert.is(hasty.upstream.seen.length, 1);
  const again = await bulk(hasty, alice);
  assert.is(again.status, 403);
  assert.not.equal((await json(again)).hold_id, body.hold_id);
  assert.is(hasty.upstream.seen.length, 1);
});

test('a hold approved as a grant lets the same identity through the route, without a new hold, until the grant ends', async () => {
  const carol = await hasty.idp.token({ sub: 'carol', groups: ['fraud-analysts'] });
  const dan = await hasty.idp.token({ sub: 'dan', groups: ['fraud-analysts'] });
  const approver = await hasty.idp.token({ sub: 'victor', groups: ['pci-approvers'] });
  const first = await bulk(hasty, carol);
  assert.is(first.status, 403);
  const { hold_id } = await json(first);
  const approved = await admin(hasty, approver, `/api/holds/${hold_id}/approve`, { comment: 'JIT for the quarter close', grant_seconds: 2 });
  assert.match(approved.grant_id, /^grant_/);
  const seen = hasty.upstream.seen.length;
  for (const limit of [5000, 7000, 5000]) {
    const res = await fetch(`${hasty.gw.url}/v1/transactions?limit=${limit}`, { headers: { authorization: `Bearer ${carol}` } });
    assert.is(res.status, 200, `limit ${limit} under the grant`);
    await res.arrayBuffer();
  }
  assert.is(hasty.upstream.seen.length, seen + 3);
  const other = await bulk(hasty, dan);
  assert.is(other.status, 403, 'the grant is for carol only');
  await other.arrayBuffer();
  let after: Response | undefined;
  for (let i = 0; i < 40; i++) {
    await new Promise((r) => setTimeout(r, 250));
    const res = await bulk(hasty, carol);
    if (res.status === 403) {
      after = res;
      break;
    }
    await res.arrayBuffer();
  }
  assert.ok(after, 'once the grant has ended, bulk requests are held again');
  assert.is.not((await json(after!)).hold_id, hold_id);
});

test('usage counter: past 60 requests a minute, the next scoring request is held', async () => {
  const bob = await hasty.idp.token({ sub: 'bob', groups: ['fraud-analysts'] });
  const score = () =>
    fetch(`${hasty.gw.url}/v1/score`, { method: 'POST', headers: { authorization: `Bearer ${bob}`, 'content-type': 'application/json' }, body: '{}' });
  for (let i = 0; i < 60; i++) {
    const res = await score();
    assert.is(res.status, 200, `request ${i + 1}`);
    await res.arrayBuffer();
  }
  const held = await score();
  assert.is(held.status, 403);
  assert.match((await json(held)).message, /61 requests in the last minute exceed the threshold of 60/);
});

test('a card number quoted by a policy reason or an error message, or held in the path, reaches no client and no approver', async () => {
  const alice = await hasty.idp.token({ sub: 'alice', groups: ['fraud-analysts'] });
  const approver = await hasty.idp.token({ sub: 'victor', groups: ['pci-approvers'] });
  // The bulk rule's reason quotes the page size it refused.
  const held = await fetch(`${hasty.gw.url}/v1/transactions?limit=4111111111111111`, { headers: { authorization: `Bearer ${alice}` } });
  assert.is(held.status, 403);
  const text = await held.text();
  assert.equal(refFind(text), [], text);
  assert.match(text, /limit \*{12}1111 exceeds the bulk threshold/);
  const listed = ((await admin(hasty, approver, '/api/holds?state=pending')) as { holds: { id: string; path: string; spec: { reason: string } }[] }).holds;
  const hold = listed.find((h) => h.id === JSON.parse(text).hold_id)!;
  assert.ok(hold, 'the hold is listed');
  assert.equal(refFind(JSON.stringify(hold)), [], JSON.stringify(hold));
  assert.match(hold.spec.reason, /limit \*{12}1111 exceeds/);
  assert.is(hold.path, '/v1/transactions?limit=[redacted…1111]');
  assert.equal(refFind(JSON.stringify(await admin(hasty, approver, `/api/holds/${hold.id}`))), []);
  // A 404 names the path it could not route.
  const lost = await fetch(`${hasty.gw.url}/nowhere/4111-1111-1111-1111`, { headers: { authorization: `Bearer ${alice}` } });
  assert.is(lost.status, 404);
  const lostText = await lost.text();
  assert.equal(refFind(lostText), [], lostText);
});

test.run();
