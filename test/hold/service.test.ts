import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { open } from 'lmdb';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { HoldService, ReplayUnavailable, requestDigest, type Hold } from '../../src/hold/index.js';
import { HoldStore } from '../../src/hold/store.js';
import { scrubPath } from '../../src/mask/index.js';
import { adminCall, clientCall, eventually, pendingHoldId, startIdp, startStack, SPEC, type Idp } from './helpers.js';

let idp: Idp;
let alice: string; // requester (also an approver, to test self-approval)
let bob: string; // approver
let carol: string; // approver
let mallory: string; // not an approver

test.before(async () => {
  idp = await startIdp();
  alice = await idp.token('alice', ['fraud-analysts', 'pci-approvers']);
  bob = await idp.token('bob', ['pci-approvers']);
  carol = await idp.token('carol', ['pci-approvers']);
  mallory = await idp.token('mallory', ['fraud-analysts']);
});
test.after(() => idp.close());

test('approved in time: the waiting client gets the upstream answer, audited', async () => {
  const stack = await startStack({ idp });
  try {
    const waiting = clientCall(stack, alice, '/v1/score', { card: '****1111' });
    const id = await pendingHoldId(stack, bob);
    const r = await adminCall(stack, bob, 'POST', `/api/holds/${id}/approve`, { comment: 'ok for the fraud case' });
    assert.is(r.status, 200);
    assert.is(r.body.state, 'approved');
    const answer = await waiting;
    assert.is(answer.status, 200);
    assert.equal(answer.body, { upstream: 'ok', method: 'POST', path: '/v1/score', body: '{"card":"****1111"}' });
    assert.equal(stack.events.map((e) => e.type), ['hold.created', 'hold.approved']);
    assert.is(stack.service.approvalFor(await idp.authenticate(fakeReq(alice)), 'fraud-model', 'POST', '/v1/score', 'x'), null);
    const after = await adminCall(stack, bob, 'GET', `/api/holds/${id}`);
    assert.is(after.body.delivered, true, 'no replay is owed for a delivered request');
  } finally {
    await stack.close();
  }
});

test('denied: the client gets 403 with the approver reason', async () => {
  const stack = await startStack({ idp });
  try {
    const waiting = clientCall(stack, alice);
    const id = await pendingHoldId(stack, bob);
    assert.is((await adminCall(stack, bob, 'POST', `/api/holds/${id}/deny`, {})).status, 400, 'a denial needs a reason');
    const r = await adminCall(stack, bob, 'POST', `/api/holds/${id}/deny`, { reason: 'no ticket for this export' });
    assert.is(r.body.state, 'denied');
    const answer = await waiting;
    assert.is(answer.status, 403);
    assert.equal(answer.body, { error: 'hold_denied', message: 'no ticket for this export', hold_id: id });
    assert.is(stack.upstreamHits, 0);
    assert.is((await adminCall(stack, carol, 'POST', `/api/holds/${id}/approve`, {})).status, 409, 'a denied hold stays denied');
  } finally {
    await stack.close();
  }
});

test('timed out, approved later: exactly one replay of the same request', async () => {
  const stack = await startStack({ idp, waitSeconds: 0.2 });
  try {
    const first = await clientCall(stack, alice, '/v1/score', { n: 1 });
    assert.is(first.status, 403);
    assert.is(first.body.error, 'hold_pending');
    const id = first.body.hold_id as string;
    assert.is((await adminCall(stack, bob, 'POST', `/api/holds/${id}/approve`, {})).body.state, 'approved');
    // A different body is a different request: no replay for it.
    const other = await clientCall(stack, alice, '/v1/score', { n: 2 });
    assert.is(other.status, 403);
    assert.is.not(other.body.hold_id, id);
    const replay = await clientCall(stack, alice, '/v1/score', { n: 1 });
    assert.is(replay.status, 200);
    assert.is(replay.body.body, '{"n":1}');
    const again = await clientCall(stack, alice, '/v1/score', { n: 1 });
    assert.is(again.status, 403, 'the second replay is refused (a new hold is made instead)');
    assert.is.not(again.body.hold_id, id);
    try {
      await stack.service.consumeReplay(id);
      assert.unreachable('a used replay must not be consumed twice');
    } catch (err) {
      assert.instance(err, ReplayUnavailable);
    }
    assert.ok(stack.events.some((e) => e.type === 'hold.replayed' && e.hold_id === id));
    assert.ok(stack.events.some((e) => e.type === 'hold.timeout' && e.hold_id === id));
  } finally {
    await stack.close();
  }
});

test('the requester cannot approve their own hold; a non-approver cannot approve', async () => {
  const stack = await startStack({ idp });
  try {
    const waiting = clientCall(stack, alice);
    const id = await pendingHoldId(stack, bob);
    const self = await adminCall(stack, alice, 'POST', `/api/holds/${id}/approve`, {});
    assert.is(self.status, 403);
    assert.is(self.body.error, 'approval_refused');
    assert.match(self.body.message, /alice requested hold/);
    const outsider = await adminCall(stack, mallory, 'POST', `/api/holds/${id}/approve`, {});
    assert.is(outsider.status, 403);
    assert.match(outsider.body.message, /none of hold .* approver groups/);
    assert.is((await adminCall(stack, mallory, 'GET', `/api/holds/${id}`)).status, 404, 'outsiders do not see the hold');
    assert.is((await adminCall(stack, bob, 'GET', `/api/holds/${id}`)).body.state, 'pending');
    await adminCall(stack, bob, 'POST', `/api/holds/${id}/approve`, {});
    assert.is((await waiting).status, 200);
  } finally {
    await stack.close();
  }
});

test('two approvals required: distinct approvers, the client waits for both', async () => {
  const stack = await startStack({ idp, spec: { ...SPEC, approvals_required: 2 } });
  try {
    let answered = false;
    const waiting = clientCall(stack, alice).then((r) => ((answered = true), r));
    const id = await pendingHoldId(stack, bob);
    const one = await adminCall(stack, bob, 'POST', `/api/holds/${id}/approve`, {});
    assert.is(one.body.state, 'pending');
    assert.is(one.body.approvals.length, 1);
    const twice = await adminCall(stack, bob, 'POST', `/api/holds/${id}/approve`, {});
    assert.is(twice.status, 403);
    assert.match(twice.body.message, /bob already approved/);
    assert.is(answered, false);
    assert.is(stack.upstreamHits, 0);
    const two = await adminCall(stack, carol, 'POST', `/api/holds/${id}/approve`, {});
    assert.is(two.body.state, 'approved');
    assert.is((await waiting).status, 200);
    assert.equal(stack.events.map((e) => e.type), ['hold.created', 'hold.approval', 'hold.approved']);
  } finally {
    await stack.close();
  }
});

test('a hold past its TTL expires (audited) and can no longer be approved', async () => {
  let clock = Date.now();
  const stack = await startStack({ idp, waitSeconds: 0.1, now: () => clock });
  try {
    const first = await clientCall(stack, alice);
    const id = first.body.hold_id as string;
    clock += (SPEC.ttl_seconds + 1) * 1000;
    const late = await adminCall(stack, bob, 'POST', `/api/holds/${id}/approve`, {});
    assert.is(late.status, 409);
    assert.match(late.body.message, /is expired/);
    await eventually('the expiry event', () => stack.events.find((e) => e.type === 'hold.expired' && e.hold_id === id));
    assert.is((await adminCall(stack, bob, 'GET', `/api/holds/${id}`)).body.state, 'expired');
    assert.equal((await adminCall(stack, bob, 'GET', '/api/holds?state=pending')).body.holds, []);
  } finally {
    await stack.close();
  }
});

test('a pending hold survives a restart and can be approved and replayed after it', async () => {
  const before = await startStack({ idp, waitSeconds: 0.1 });
  const dir = before.dir;
  const first = await clientCall(before, alice, '/v1/score', { restart: true });
  assert.is(first.status, 403);
  await before.close(false);
  const after = await startStack({ idp, dir });
  try {
    const listed = await adminCall(after, bob, 'GET', '/api/holds?state=pending');
    assert.equal(listed.body.holds.map((h: { id: string }) => h.id), [first.body.hold_id]);
    assert.is(listed.body.holds[0].requester.sub, 'alice');
    await adminCall(after, bob, 'POST', `/api/holds/${first.body.hold_id}/approve`, {});
    const replay = await clientCall(after, alice, '/v1/score', { restart: true });
    assert.is(replay.status, 200);
  } finally {
    await after.close();
  }
});

test('a store written before the subject index still finds its replays after a restart', async () => {
  const before = await startStack({ idp, waitSeconds: 0.1 });
  const dir = before.dir;
  const first = await clientCall(before, alice, '/v1/score', { legacy: true });
  assert.is(first.status, 403);
  await adminCall(before, bob, 'POST', `/api/holds/${first.body.hold_id}/approve`, {});
  await before.close(false);
  // What an older regate left behind: holds and their request index, no subject index.
  const env = open({ path: dir });
  env.openDB({ name: 'subjects' }).clearSync();
  await env.close();
  const after = await startStack({ idp, dir });
  try {
    const replay = await clientCall(after, alice, '/v1/score', { legacy: true });
    assert.is(replay.status, 200);
  } finally {
    await after.close();
  }
});

/** The card scrubber the composition root gives the service (mask's scrubPath). */
const shownPath = (path: string) => scrubPath(path);
const PAN = '4111111111111111';

test('a held request is stored with its path as shown and the digest a replay matches: a card number in its query never reaches the store', async () => {
  const stack = await startStack({ idp, waitSeconds: 0.1, shownPath });
  const target = `/v1/score?card=${PAN}`;
  let id: string;
  try {
    const first = await clientCall(stack, alice, target, { n: 1 });
    assert.is(first.status, 403);
    id = first.body.hold_id as string;
    assert.is((await adminCall(stack, bob, 'GET', `/api/holds/${id}`)).body.path, '/v1/score?card=[redacted…1111]');
    await adminCall(stack, bob, 'POST', `/api/holds/${id}/approve`, {});
    // Another card number is another request, though both are shown alike: no replay for it.
    const other = await clientCall(stack, alice, '/v1/score?card=4012888888881881', { n: 1 });
    assert.is(other.status, 403);
    assert.is.not(other.body.hold_id, id);
    const replay = await clientCall(stack, alice, target, { n: 1 });
    assert.is(replay.status, 200, 'the approved request sent again is matched by its digest');
  } finally {
    await stack.close(false);
  }
  try {
    const stored = await readHold(stack.dir, id);
    assert.is(stored.path, '/v1/score?card=[redacted…1111]');
    assert.is(stored.request_sha256, requestDigest(idp.issuer, 'alice', 'fraud-model', 'POST', target, stored.body_sha256));
    const file = readFileSync(join(stack.dir, 'data.mdb'));
    assert.not.ok(file.includes(PAN) || file.includes('4012888888881881'), 'no card number in the hold store\'s file');
  } finally {
    rmSync(stack.dir, { recursive: true, force: true });
  }
});

test('holds stored with their path as sent (before holds kept a digest) are rewritten as shown on open, and their replays still match', async () => {
  const before = await startStack({ idp, waitSeconds: 0.1, shownPath });
  const dir = before.dir;
  const target = `/v1/score?card=${PAN}`;
  const first = await clientCall(before, alice, target, { legacy: 1 });
  const id = first.body.hold_id as string;
  await adminCall(before, bob, 'POST', `/api/holds/${id}/approve`, {});
  await before.close(false);
  // What an older regate stored: the path as sent, no digest (its request index key is the same SHA-256).
  const env = open({ path: dir });
  const holds = env.openDB<Record<string, unknown>, string>({ name: 'holds' });
  const { request_sha256: _, ...legacy } = holds.get(id)!;
  await holds.put(id, { ...legacy, path: target });
  await env.close();
  assert.is((await readHold(dir, id)).path, target);
  const after = await startStack({ idp, dir, shownPath });
  try {
    const upgraded = await readHold(dir, id);
    assert.is(upgraded.path, '/v1/score?card=[redacted…1111]');
    assert.is(upgraded.request_sha256, requestDigest(idp.issuer, 'alice', 'fraud-model', 'POST', target, upgraded.body_sha256));
    assert.ok(!after.events.some((e) => e.hold_id === id), 'rewriting a stored hold is no state change: nothing audited');
    const replay = await clientCall(after, alice, target, { legacy: 1 });
    assert.is(replay.status, 200);
  } finally {
    await after.close();
  }
});

/** A hold as its store holds it, read with a handle of its own. */
async function readHold(dir: string, id: string): Promise<Hold> {
  const store = HoldStore.open(dir);
  try {
    return store.getHold(id)!;
  } finally {
    await store.close();
  }
}

test('pending holds are limited per identity and in total (429)', async () => {
  const stack = await startStack({ idp, maxPendingPerIdentity: 1, maxPendingTotal: 2 });
  try {
    const a1 = clientCall(stack, alice, '/v1/a');
    await pendingHoldId(stack, bob);
    const a2 = await clientCall(stack, alice, '/v1/b');
    assert.is(a2.status, 429);
    assert.match(a2.body.message, /alice already has 1 pending holds/);
    const m1 = clientCall(stack, mallory, '/v1/c');
    await eventually('two pending holds', async () => ((await adminCall(stack, bob, 'GET', '/api/holds?state=pending')).body.holds.length === 2 ? true : undefined));
    const c1 = await clientCall(stack, carol, '/v1/d');
    assert.is(c1.status, 429);
    assert.match(c1.body.message, /already has 2 pending holds/);
    for (const h of (await adminCall(stack, bob, 'GET', '/api/holds?state=pending')).body.holds) {
      await adminCall(stack, bob, 'POST', `/api/holds/${h.id}/deny`, { reason: 'cleanup' });
    }
    assert.is((await a1).status, 403);
    assert.is((await m1).status, 403);
  } finally {
    await stack.close();
  }
});

test('just-in-time grant: bounded by max_grant_seconds, visible to the policy, revocable', async () => {
  const stack = await startStack({ idp, spec: { ...SPEC, max_grant_seconds: 900 } });
  try {
    const waiting = clientCall(stack, alice);
    const id = await pendingHoldId(stack, bob);
    const tooLong = await adminCall(stack, bob, 'POST', `/api/holds/${id}/approve`, { grant_seconds: 901 });
    assert.is(tooLong.status, 400);
    assert.match(tooLong.body.message, /from 1 to 900 s/);
    const ok = await adminCall(stack, bob, 'POST', `/api/holds/${id}/approve`, { grant_seconds: 600 });
    assert.is(ok.body.state, 'approved');
    assert.is((await waiting).status, 200);
    const aliceId = await idp.authenticate(fakeReq(alice));
    const grants = stack.service.grantsFor(aliceId, 'fraud-model');
    assert.is(grants.length, 1);
    assert.is(grants[0]!.kind, 'grant');
    assert.equal(grants[0]!.approvers, ['bob']);
    assert.is(stack.service.grantsFor(aliceId, 'other-route').length, 0);
    const listed = await adminCall(stack, carol, 'GET', '/api/grants');
    const grantId = listed.body.grants[0].id as string;
    assert.is(grantId, ok.body.grant_id);
    assert.is((await adminCall(stack, mallory, 'POST', `/api/grants/${grantId}/revoke`, {})).status, 403);
    assert.is((await adminCall(stack, carol, 'POST', `/api/grants/${grantId}/revoke`, {})).status, 200);
    assert.is(stack.service.grantsFor(aliceId, 'fraud-model').length, 0);
    assert.equal(stack.events.map((e) => e.type), ['hold.created', 'hold.approved', 'grant.created', 'grant.revoked']);
  } finally {
    await stack.close();
  }
});

test('a hold whose policy sets no max_grant_seconds allows no grant', async () => {
  const stack = await startStack({ idp });
  try {
    const waiting = clientCall(stack, alice);
    const id = await pendingHoldId(stack, bob);
    const r = await adminCall(stack, bob, 'POST', `/api/holds/${id}/approve`, { grant_seconds: 60 });
    assert.is(r.status, 400);
    assert.match(r.body.message, /allows no just-in-time grant/);
    await adminCall(stack, bob, 'POST', `/api/holds/${id}/deny`, { reason: 'done' });
    assert.is((await waiting).status, 403);
  } finally {
    await stack.close();
  }
});

test('an audit failure refuses the hold (fail closed) and the approval', async () => {
  let failing = true;
  const stack = await startStack({ idp, audit: async () => { if (failing) throw new Error('disk full'); } });
  try {
    const r = await clientCall(stack, alice);
    assert.is(r.status, 503);
    assert.match(r.body.message, /cannot audit hold.created/);
    assert.is(stack.upstreamHits, 0);
    failing = false;
    const waiting = clientCall(stack, alice);
    const id = await pendingHoldId(stack, bob);
    failing = true;
    const refused = await adminCall(stack, bob, 'POST', `/api/holds/${id}/approve`, {});
    assert.is(refused.status, 503);
    assert.is((await adminCall(stack, bob, 'GET', `/api/holds/${id}`)).body.state, 'pending', 'nothing changed');
    failing = false;
    await adminCall(stack, bob, 'POST', `/api/holds/${id}/approve`, {});
    assert.is((await waiting).status, 200);
  } finally {
    await stack.close();
  }
});

test('HoldService.open fails with a typed error naming the directory', async () => {
  const parent = mkdtempSync(join(tmpdir(), 'regate-hold-bad-'));
  const file = join(parent, 'a-file');
  writeFileSync(file, 'not a directory');
  try {
    await HoldService.open({ dir: join(file, 'holds'), waitSeconds: 1 });
    assert.unreachable('opening under a plain file must fail');
  } catch (err) {
    assert.is((err as { code: string }).code, 'ERR_HOLD_STORE');
    assert.ok((err as Error).message.includes(join(file, 'holds')));
  } finally {
    rmSync(parent, { recursive: true, force: true });
  }
});

test('a hold store directory whose name has a dot (holds.d) is a directory, not a file', async () => {
  const parent = mkdtempSync(join(tmpdir(), 'regate-hold-dot-'));
  const dir = join(parent, 'holds.d');
  try {
    const service = await HoldService.open({ dir, waitSeconds: 1 });
    await service.close();
    assert.ok(statSync(dir).isDirectory());
    assert.ok(existsSync(join(dir, 'data.mdb')), 'the environment lives inside the folder');
    await (await HoldService.open({ dir, waitSeconds: 1 })).close();
  } finally {
    rmSync(parent, { recursive: true, force: true });
  }
});

function fakeReq(token: string): import('node:http').IncomingMessage {
  return { headers: { authorization: `Bearer ${token}` } } as import('node:http').IncomingMessage;
}

test.run();
